#!/usr/bin/env bash
# Prints nnrt's version as Include/nnrt.h defines it (NNRT_VERSION_MAJOR/_MINOR/_PATCH): the one
# place the number is written. The build and packaging scripts ask this script
# (Bindings/python/setup.py reads the header the same way).
#
# Usage: scripts/version.sh [--soname | --compat | --compat-next | --major | --minor | --patch]
#   (none)     0.3.0
#   --soname   the library's SONAME: libnnrt.so.0.MINOR while the version is 0.x (every 0.x minor
#              release may change the ABI; patch releases never do), libnnrt.so.MAJOR from 1.0
#   --compat   the version prefix that shares that SONAME: 0.3 for 0.x, 1 from 1.0
#   --compat-next  the first version past that series: 0.4 for 0.3.x, 2 for 1.x
set -euo pipefail
header="$(cd "$(dirname "$0")/.." && pwd)/Include/nnrt.h"
field() {
  local value
  value=$(sed -n "s/^#define NNRT_VERSION_$1 \([0-9][0-9]*\)\$/\1/p" "$header")
  [ -n "$value" ] || { echo "version.sh: no '#define NNRT_VERSION_$1 <number>' in $header" >&2; exit 1; }
  echo "$value"
}
major=$(field MAJOR); minor=$(field MINOR); patch=$(field PATCH)
if [ "$major" = 0 ]; then
  compat="$major.$minor"; next="$major.$((minor + 1))"
else
  compat="$major"; next="$((major + 1))"
fi
case "${1:-}" in
  "") echo "$major.$minor.$patch" ;;
  --soname) echo "libnnrt.so.$compat" ;;
  --compat) echo "$compat" ;;
  --compat-next) echo "$next" ;;
  --major) echo "$major" ;;
  --minor) echo "$minor" ;;
  --patch) echo "$patch" ;;
  -h|--help) sed -n '2,11p' "$0" ;;
  *) echo "version.sh: unknown option '$1'" >&2; exit 2 ;;
esac
