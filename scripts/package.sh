#!/usr/bin/env bash
# Builds nnrt's release packages into build/dist/, or installs the C library under a prefix.
#
# Usage: scripts/package.sh [--no-build] [--no-wheel] [--libdir DIR]
#        scripts/package.sh --prefix DIR [--no-build] [--libdir DIR]     (honours $DESTDIR)
#
# Without --prefix it builds the release library (scripts/build.sh --lib) and writes:
#   build/dist/nnrt-VERSION/                       the install tree (below), relocatable
#   build/dist/nnrt-VERSION-linux-ARCH.tar.gz      exactly that tree (sorted, mtime of the last
#                                                  commit or $SOURCE_DATE_EPOCH, owner 0)
#   build/dist/nnrt-VERSION-py3-none-PLATFORM.whl  the Python package with libnnrt and the
#                                                  libraries it needs bundled (pip wheel
#                                                  ./Bindings/python; needs patchelf)
# With --prefix DIR it installs the same tree into $DESTDIR/DIR, its pkg-config file naming DIR.
# The tree:
#   LIBDIR/libnnrt.so.VERSION                      the library, SONAME libnnrt.so.0.MINOR
#   LIBDIR/libnnrt.so.0.MINOR -> libnnrt.so.VERSION, LIBDIR/libnnrt.so -> libnnrt.so.0.MINOR
#   include/nnrt.h
#   LIBDIR/pkgconfig/nnrt.pc
#   LIBDIR/cmake/nnrt/nnrtConfig.cmake, nnrtConfigVersion.cmake   (imported target nnrt::nnrt)
#   share/doc/nnrt/                                README, model format, C examples
# LIBDIR is lib unless --libdir names another directory under the prefix (lib/x86_64-linux-gnu).
# VERSION comes from Include/nnrt.h (scripts/version.sh). --no-build packages build/lib as it is.
# Exit status: 0 done, 1 a build or packaging step failed, 2 bad command line.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
die() { echo "package.sh: $*" >&2; exit 1; }
bad_usage() { echo "package.sh: $*" >&2; echo "Usage: scripts/package.sh [--prefix DIR] [--libdir DIR] [--no-build] [--no-wheel] (--help)" >&2; exit 2; }

prefix="" libdir=lib build=1 wheel=1
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] && [ -n "$2" ] || bad_usage "--prefix needs a directory"; prefix=$2; shift 2 ;;
    --prefix=*) prefix=${1#--prefix=}; [ -n "$prefix" ] || bad_usage "--prefix needs a directory"; shift ;;
    --libdir) [ $# -ge 2 ] && [ -n "$2" ] || bad_usage "--libdir needs a directory"; libdir=$2; shift 2 ;;
    --libdir=*) libdir=${1#--libdir=}; shift ;;
    --no-build) build=0; shift ;;
    --no-wheel) wheel=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) bad_usage "unknown argument '$1'" ;;
  esac
done
libdir=${libdir%/}
case "$libdir" in
  ""|/*|..|../*|*/..|*/../*|.|./*) bad_usage "--libdir must be a directory under the prefix, such as lib or lib/x86_64-linux-gnu, not '$libdir'" ;;
esac
if [ -n "$prefix" ]; then
  case "$prefix" in /*) ;; *) prefix="$PWD/$prefix" ;; esac
  [ "$prefix" = / ] || prefix=${prefix%/}
fi

version=$(scripts/version.sh)
soname=$(scripts/version.sh --soname)
compat=$(scripts/version.sh --compat)
compat_next=$(scripts/version.sh --compat-next)
header_string=$(sed -n 's/^#define NNRT_VERSION_STRING "\(.*\)"$/\1/p' Include/nnrt.h)
[ "$header_string" = "$version" ] \
  || die "Include/nnrt.h: NNRT_VERSION_STRING \"$header_string\" does not match NNRT_VERSION_MAJOR/_MINOR/_PATCH ($version)"
arch=$(uname -m)
libfile="libnnrt.so.$version"

if [ $build = 1 ]; then
  scripts/build.sh --lib || die "scripts/build.sh --lib failed"
fi
[ -f build/lib/libnnrt.so ] || die "build/lib/libnnrt.so does not exist: run scripts/build.sh --lib (or drop --no-build)"
built_soname=$(readelf -d build/lib/libnnrt.so | sed -n 's/.*(SONAME).*\[\(.*\)\]$/\1/p')
[ "$built_soname" = "$soname" ] \
  || die "build/lib/libnnrt.so has SONAME '${built_soname:-none}', expected $soname: rebuild it with scripts/build.sh --lib"

# The relative path from DIR up to the prefix: lib -> .., lib/cmake/nnrt -> ../../..
up_from() { local path=$1 up=""; while [ -n "$path" ] && [ "$path" != . ]; do up="${up:+$up/}.."; path=$(dirname "$path"); done; echo "$up"; }

# fill TEMPLATE OUTPUT: replaces the @NAME@ placeholders of packaging/*.in.
fill() {
  local esc_prefix
  esc_prefix=$(printf '%s' "$pc_prefix" | sed 's/[&|\\]/\\&/g')
  sed -e "s|@PREFIX@|$esc_prefix|g" -e "s|@LIBDIR@|$libdir|g" -e "s|@VERSION@|$version|g" \
      -e "s|@SONAME@|$soname|g" -e "s|@COMPAT@|$compat|g" -e "s|@COMPAT_NEXT@|$compat_next|g" \
      -e "s|@LIBFILE@|$libfile|g" -e "s|@UP@|$(up_from "$libdir/cmake/nnrt")|g" "$1" > "$2.tmp"
  if grep -q '@[A-Z_]*@' "$2.tmp"; then die "$1: placeholder left unfilled: $(grep -o '@[A-Z_]*@' "$2.tmp" | head -1)"; fi
  chmod 0644 "$2.tmp"
  mv -f "$2.tmp" "$2"
}

# install_tree DEST: the install tree under DEST, the pkg-config prefix being $pc_prefix.
install_tree() {
  local dest=$1
  install -d -m 0755 "$dest/$libdir/pkgconfig" "$dest/$libdir/cmake/nnrt" "$dest/include" \
    "$dest/share/doc/nnrt/examples"
  install -m 0755 build/lib/libnnrt.so "$dest/$libdir/$libfile"
  ln -sfn "$libfile" "$dest/$libdir/$soname"
  ln -sfn "$soname" "$dest/$libdir/libnnrt.so"
  install -m 0644 Include/nnrt.h "$dest/include/nnrt.h"
  fill packaging/nnrt.pc.in "$dest/$libdir/pkgconfig/nnrt.pc"
  fill packaging/nnrtConfig.cmake.in "$dest/$libdir/cmake/nnrt/nnrtConfig.cmake"
  fill packaging/nnrtConfigVersion.cmake.in "$dest/$libdir/cmake/nnrt/nnrtConfigVersion.cmake"
  install -m 0644 README.md "$dest/share/doc/nnrt/README.md"
  install -m 0644 docs/model-format.md "$dest/share/doc/nnrt/model-format.md"
  install -m 0644 Examples/c/classify_one.c Examples/c/classify_idx.c Examples/c/classify_files.c \
    "$dest/share/doc/nnrt/examples/"
  local license
  for license in LICENSE* COPYING* NOTICE*; do
    [ -f "$license" ] && install -m 0644 "$license" "$dest/share/doc/nnrt/$license"
  done
  return 0
}

if [ -n "$prefix" ]; then
  pc_prefix=$prefix
  dest="${DESTDIR:-}$prefix"
  install_tree "$dest"
  echo "package.sh: installed nnrt $version into ${DESTDIR:+$DESTDIR}$prefix (prefix $prefix, libraries in $libdir)"
  case "$prefix" in
    /usr|/usr/local) [ -z "${DESTDIR:-}" ] && [ "$(id -u)" = 0 ] && command -v ldconfig >/dev/null && ldconfig || true ;;
  esac
  exit 0
fi

# The release packages.
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
export SOURCE_DATE_EPOCH=$epoch
dist=build/dist
name="nnrt-$version"
mkdir -p "$dist"
rm -rf "${dist:?}/$name"
# The tree is relocatable: nnrt.pc finds its prefix from its own directory, as the CMake files do.
pc_prefix="\${pcfiledir}/$(up_from "$libdir/pkgconfig")"
install_tree "$dist/$name"

tarball="$dist/$name-linux-$arch.tar.gz"
rm -f "$tarball"
(cd "$dist" && tar --sort=name --mtime="@$epoch" --owner=0 --group=0 --numeric-owner --format=gnu \
  --mode='u+rwX,go+rX,go-w' -cf - "$name") | gzip -9n > "$tarball.tmp"
mv -f "$tarball.tmp" "$tarball"
produced=("$dist/$name/ (install tree, $(find "$dist/$name" -type f | wc -l) files, $(find "$dist/$name" -type l | wc -l) symbolic links)"
  "$tarball ($(stat -c %s "$tarball") bytes)")

if [ $wheel = 1 ]; then
  python=${PYTHON:-python3}
  command -v patchelf >/dev/null || die "patchelf is not installed (Debian: apt-get install patchelf; scripts/install-deps.sh): the wheel needs it"
  rm -f "$dist"/nnrt-*.whl
  NNRT_LIBRARY="$root/build/lib/libnnrt.so" "$python" -m pip wheel -q --no-deps --no-cache-dir \
    -w "$dist" ./Bindings/python || die "pip wheel ./Bindings/python failed"
  whl=$(ls "$dist"/nnrt-"$version"-*.whl 2>/dev/null | head -1)
  [ -n "$whl" ] || die "pip wheel produced no $dist/nnrt-$version-*.whl"
  produced+=("$whl ($(stat -c %s "$whl") bytes)")
fi

echo "package.sh: nnrt $version (SONAME $soname) produced"
for p in "${produced[@]}"; do echo "  $p"; done
