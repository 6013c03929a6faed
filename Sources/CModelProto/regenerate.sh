#!/usr/bin/env bash
# Regenerates the committed protoc-c output from nnrt.proto.
#   Sources/CModelProto/regenerate.sh          rewrite nnrt.pb-c.c and include/nnrt.pb-c.h
#   Sources/CModelProto/regenerate.sh --check  exit 1 if the committed files differ from fresh output
# Needs protoc-c (Debian: protobuf-c-compiler). The generated files are never edited by hand.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
command -v protoc-c >/dev/null || { echo "regenerate.sh: protoc-c not found (apt-get install protobuf-c-compiler)" >&2; exit 2; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
(cd "$here" && protoc-c --c_out="$tmp" nnrt.proto)
# protoc-c writes the header beside the source and includes it by its bare name; SwiftPM wants
# public headers under include/, which is on the include path, so the include line stays as is.
if [ "${1:-}" = "--check" ]; then
  status=0
  cmp -s "$tmp/nnrt.pb-c.c" "$here/nnrt.pb-c.c" || { echo "drift: nnrt.pb-c.c differs from protoc-c output" >&2; status=1; }
  cmp -s "$tmp/nnrt.pb-c.h" "$here/include/nnrt.pb-c.h" || { echo "drift: include/nnrt.pb-c.h differs from protoc-c output" >&2; status=1; }
  [ $status -eq 0 ] && echo "generated model code matches nnrt.proto ($(protoc-c --version | head -1))"
  exit $status
fi
cp "$tmp/nnrt.pb-c.c" "$here/nnrt.pb-c.c"
cp "$tmp/nnrt.pb-c.h" "$here/include/nnrt.pb-c.h"
echo "regenerated Sources/CModelProto/nnrt.pb-c.{c,h}"
