#!/usr/bin/env bash
# Checks that libnnrt.so exports exactly the functions declared in Include/nnrt.h: every declared
# nnrt_* function is defined and exported, and nothing else is exported (no nnrt__* protobuf-c
# helpers, no Swift symbols). Local entries that the linker keeps in .dynsym (binding LOCAL,
# lowercase in nm) are not exports and are ignored.
# Usage: scripts/check-exports.sh [LIB] [HEADER]   (defaults: build/lib/libnnrt.so Include/nnrt.h)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
lib=${1:-$root/build/lib/libnnrt.so}
header=${2:-$root/Include/nnrt.h}
[ -f "$lib" ] || { echo "check-exports: $lib not found (run scripts/build.sh --lib)" >&2; exit 2; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# Declarations: an identifier nnrt_* directly followed by "(" (macros are NNRT_*, types nnrt_*_t
# or typedef names never followed by "(").
grep -oE '\bnnrt_[a-z0-9_]+[[:space:]]*\(' "$header" | sed -E 's/[[:space:]]*\($//' | sort -u > "$tmp/declared"
# Exports: defined symbols with global or weak binding (nm prints those in upper case).
nm -D --defined-only "$lib" | awk '$2 ~ /^[A-Z]$/ {print $3}' | sed 's/@.*//' | sort -u > "$tmp/exported"

status=0
missing=$(comm -23 "$tmp/declared" "$tmp/exported")
extra=$(comm -13 "$tmp/declared" "$tmp/exported")
if [ -n "$missing" ]; then
  echo "check-exports: declared in $(basename "$header") but not exported:"; echo "$missing" | sed 's/^/  /'; status=1
fi
if [ -n "$extra" ]; then
  echo "check-exports: exported but not declared in $(basename "$header"):"; echo "$extra" | sed 's/^/  /'; status=1
fi
if [ $status = 0 ]; then
  echo "check-exports: OK, $(wc -l < "$tmp/exported") functions, header and library agree"
fi
exit $status
