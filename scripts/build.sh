#!/usr/bin/env bash
# Builds the distributable pieces of nnrt into build/:
#   build/lib/libnnrt.so   the runtime: Swift stdlib linked in statically (-static-stdlib), only the
#                          nnrt_* functions of Include/nnrt.h exported (Sources/NNRuntime/exports.map),
#                          stripped, SONAME libnnrt.so.0.MINOR (scripts/version.sh --soname; a
#                          symbolic link of that name sits beside it, so programs linked here run).
#                          Needs at run time: glibc, libstdc++6/libgcc-s1, libprotobuf-c1,
#                          libpng16-16, libjpeg62-turbo (and zlib, through libpng).
#   build/include/nnrt.h   the C header
#   build/bin/nnrt         the command-line tool (release build of the nnrt-cli product)
#   build/bin/nnrt-testimages  writes the image-input test set from MNIST (tests and bench)
#
# Usage: scripts/build.sh [--lib | --cli]     (default: both)
# Scratch directories: .build-dist for the library, .build for the CLI.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

want_lib=1 want_cli=1
case "${1:-}" in
  "") ;;
  --lib) want_cli=0 ;;
  --cli) want_lib=0 ;;
  -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
  *) echo "build.sh: unknown option '$1' (use --lib, --cli or nothing)" >&2; exit 2 ;;
esac

produced=()

if [ $want_lib = 1 ]; then
  map="$root/Sources/NNRuntime/exports.map"
  # The SONAME follows the version in Include/nnrt.h (README "Installing"); --disable-local-rpath
  # keeps SwiftPM's RUNPATH $ORIGIN out of a library that is installed into system directories.
  soname=$(scripts/version.sh --soname)
  flags=(-c release --product nnrt --scratch-path .build-dist --disable-local-rpath
    -Xswiftc -static-stdlib -Xlinker --version-script="$map" -Xlinker -soname -Xlinker "$soname")
  # SwiftPM does not relink when only linker flags or the version script change: remove the
  # linked library so it is always linked again with the current ones (compiled objects are reused).
  rm -f .build-dist/release/libnnrt.so .build-dist/*/release/libnnrt.so
  swift build "${flags[@]}"
  bin=$(swift build "${flags[@]}" --show-bin-path)
  mkdir -p build/lib build/include
  cp "$bin/libnnrt.so" build/lib/libnnrt.so.tmp
  strip --strip-unneeded build/lib/libnnrt.so.tmp
  mv -f build/lib/libnnrt.so.tmp build/lib/libnnrt.so
  # Programs linked with -Lbuild/lib -lnnrt record the SONAME: give the loader that name too.
  find build/lib -maxdepth 1 -name 'libnnrt.so.*' -type l -delete
  ln -s libnnrt.so "build/lib/$soname"
  cp Include/nnrt.h build/include/nnrt.h
  produced+=("build/lib/libnnrt.so ($(stat -c %s build/lib/libnnrt.so) bytes, $(nm -D --defined-only build/lib/libnnrt.so | grep -c ' T nnrt_') exported functions, SONAME $soname)")
  produced+=("build/include/nnrt.h")
fi

if [ $want_cli = 1 ]; then
  swift build -c release --product nnrt-cli
  swift build -c release --product nnrt-testimages
  bin=$(swift build -c release --product nnrt-cli --show-bin-path)
  mkdir -p build/bin
  cp "$bin/nnrt-cli" build/bin/nnrt.tmp
  mv -f build/bin/nnrt.tmp build/bin/nnrt
  cp "$bin/nnrt-testimages" build/bin/nnrt-testimages.tmp
  mv -f build/bin/nnrt-testimages.tmp build/bin/nnrt-testimages
  produced+=("build/bin/nnrt" "build/bin/nnrt-testimages")
fi

echo "build.sh: produced"
for p in "${produced[@]}"; do echo "  $p"; done
