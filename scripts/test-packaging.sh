#!/usr/bin/env bash
# Checks the release packages of scripts/package.sh as their users meet them:
#   - the install tree: files, SONAME, symbolic links, no RUNPATH, no Swift toolchain dependency;
#   - the tarball: the same entries as the tree, unpacked elsewhere identical, built twice the same;
#   - C: Examples/c/classify_idx.c built against the unpacked (moved) tree with nothing but
#     `pkg-config --cflags --libs nnrt zlib`, and again with a CMake project using
#     find_package(nnrt) and nnrt::nnrt (Debian's cmake); both run with the Swift toolchain hidden
#     from the loader (env -i, no LD_LIBRARY_PATH) on the MNIST test set, with a sane accuracy and
#     the same labels; the CMake package's version rules;
#   - make install PREFIX=... DESTDIR=... and scripts/package.sh --prefix with a multiarch libdir:
#     the same tree, pkg-config and CMake files naming the prefix, a program built against it;
#   - Python: the wheel installed with pip --no-index into a fresh venv without system site
#     packages (so without numpy), imported from outside the source tree: it loads its bundled
#     libnnrt and the libraries bundled with it (also with the system's libprotobuf-c, libpng and
#     libjpeg hidden, in a mount namespace, when unshare is allowed), classifies the MNIST test set
#     with nnrt.Model.predict (uint8 pixels as bytes, labels as lists) exactly as the C program
#     does, and PNG files with Model.classify_files; then with numpy,
#     Examples/python/classify.py on the bundled library agrees too.
#
# Usage: scripts/test-packaging.sh [MODEL]
#   MODEL  a trained MNIST model (default: build/bin/nnrt train --preset ch1 --epochs 1)
# Needs MNIST_DIR (or the download cache of build/bin/nnrt), cmake, pkg-config, patchelf, python3.
# KEEP=1 keeps the scratch directory. Exit status: 0 all passed, 1 a check failed, 2 cannot run.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

failures=0 checks=0
step() { echo "== $*"; }
ok() { checks=$((checks + 1)); echo "ok: $*"; }
bad() { checks=$((checks + 1)); failures=$((failures + 1)); echo "FAIL: $*" >&2; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
cannot() { echo "test-packaging.sh: $*" >&2; exit 2; }
case "${1:-}" in
  -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
  -*) cannot "unknown option '$1' (usage: scripts/test-packaging.sh [MODEL])" ;;
esac

for tool in cmake pkg-config patchelf readelf python3 cc; do
  command -v "$tool" >/dev/null || cannot "'$tool' is not installed (scripts/install-deps.sh installs it)"
done
work=$(mktemp -d "${TMPDIR:-/tmp}/nnrt-packaging.XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then echo "scratch directory (kept): $work"; else trap 'rm -rf "$work"' EXIT; fi

if [ -z "${MNIST_DIR:-}" ]; then
  [ -x build/bin/nnrt ] || cannot "set MNIST_DIR, or build build/bin/nnrt (scripts/build.sh --cli) to find MNIST"
  MNIST_DIR=$(build/bin/nnrt mnist --print-dir) || cannot "MNIST is unavailable: set MNIST_DIR"
fi
images="$MNIST_DIR/t10k-images-idx3-ubyte.gz"; labels="$MNIST_DIR/t10k-labels-idx1-ubyte.gz"
[ -f "$images" ] && [ -f "$labels" ] || cannot "no MNIST test set in $MNIST_DIR"
model=${1:-}
if [ -z "$model" ]; then
  [ -x build/bin/nnrt ] || cannot "no MODEL given and no build/bin/nnrt to train one (scripts/build.sh --cli)"
  model="$work/ch1.nnrt"
  build/bin/nnrt train --preset ch1 --epochs 1 --seed 1 --quiet --data "$MNIST_DIR" --out "$model" \
    || cannot "training the test model failed"
fi
model=$(realpath "$model")

version=$(scripts/version.sh); soname=$(scripts/version.sh --soname)
compat=$(scripts/version.sh --compat); compat_next=$(scripts/version.sh --compat-next)
libfile="libnnrt.so.$version"
dist="$root/build/dist"; tree="$dist/nnrt-$version"; tarball="$dist/nnrt-$version-linux-$(uname -m).tar.gz"
hidden_env=(env -i PATH=/usr/bin:/bin HOME="$work" LANG=C.UTF-8)   # no Swift toolchain, no LD_LIBRARY_PATH

# accuracy LOG: the percentage of classify_idx's last line ("accuracy: 91.23% (9123/10000)").
accuracy() { tail -1 "$1" | sed -n 's/^accuracy: \([0-9.]*\)% ([0-9]*\/10000)$/\1/p'; }
sane() { [ -n "$1" ] && awk -v a="$1" 'BEGIN { exit !(a >= 80.0) }'; }
no_swift() { ! ldd "$1" | grep -Eq 'libswift|libFoundation|libdispatch|/opt/swift|/usr/lib/swift'; }
# resolves BINARY LIBNAME: the file the loader picks for LIBNAME in BINARY, with the toolchain hidden.
resolves() { "${hidden_env[@]}" ldd "$1" | sed -n "s|^[[:space:]]*$2 => \(.*\) (0x.*|\1|p"; }

step "package: scripts/package.sh"
t0=$(date +%s.%N)
if ! scripts/package.sh > "$work/package.log" 2>&1; then
  cat "$work/package.log" >&2; cannot "scripts/package.sh failed"
fi
package_seconds=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
tail -4 "$work/package.log"
wheels=("$dist"/nnrt-"$version"-py3-none-*.whl)
[ ${#wheels[@]} -eq 1 ] && [ -f "${wheels[0]}" ] || cannot "expected one wheel $dist/nnrt-$version-py3-none-*.whl"
wheel=${wheels[0]}

step "install tree: layout, SONAME, symbolic links"
check "library $libfile is a file" test -f "$tree/lib/$libfile" -a ! -L "$tree/lib/$libfile"
check "$soname -> $libfile" test "$(readlink "$tree/lib/$soname")" = "$libfile"
check "libnnrt.so -> $soname" test "$(readlink "$tree/lib/libnnrt.so")" = "$soname"
check "SONAME is $soname" test "$(readelf -d "$tree/lib/$libfile" | sed -n 's/.*(SONAME).*\[\(.*\)\]$/\1/p')" = "$soname"
check "no RPATH or RUNPATH in the library" sh -c "! readelf -d '$tree/lib/$libfile' | grep -Eq '\\((RPATH|RUNPATH)\\)'"
check "no Swift toolchain library needed" no_swift "$tree/lib/$libfile"
check "the library is build/lib/libnnrt.so" cmp -s "$tree/lib/$libfile" build/lib/libnnrt.so
check "include/nnrt.h is Include/nnrt.h" cmp -s "$tree/include/nnrt.h" Include/nnrt.h
for f in lib/pkgconfig/nnrt.pc lib/cmake/nnrt/nnrtConfig.cmake lib/cmake/nnrt/nnrtConfigVersion.cmake \
         share/doc/nnrt/README.md; do
  check "$f" test -s "$tree/$f"
done
check "nnrt.pc finds its prefix from its own location" grep -qx 'prefix=${pcfiledir}/../..' "$tree/lib/pkgconfig/nnrt.pc"
check "NNRT_VERSION_STRING is $version" grep -q "^#define NNRT_VERSION_STRING \"$version\"\$" Include/nnrt.h

step "release tarball"
(cd "$dist" && find "nnrt-$version" | sort) > "$work/tree.list"
tar -tzf "$tarball" | sed 's|/$||' | sort > "$work/tar.list"
check "the tarball lists exactly the tree's $(wc -l < "$work/tree.list") entries" cmp -s "$work/tree.list" "$work/tar.list"
mkdir -p "$work/opt" && tar -xzf "$tarball" -C "$work/opt"
inst="$work/opt/nnrt-$version"   # the tree, moved: everything below uses this copy
check "unpacked, it is identical to the tree (files and links)" diff -r --no-dereference "$tree" "$inst"
sum1=$(sha256sum < "$tarball")
scripts/package.sh --no-build --no-wheel > "$work/package2.log" 2>&1 || bad "scripts/package.sh --no-build --no-wheel"
check "packaging again gives the same tarball, byte for byte" test "$sum1" = "$(sha256sum < "$tarball")"

step "C: pkg-config against the unpacked tree"
mkdir -p "$work/pc"
export PKG_CONFIG_PATH="$inst/lib/pkgconfig"
check "pkg-config --modversion nnrt is $version" test "$(pkg-config --modversion nnrt)" = "$version"
check "pkg-config: nnrt >= $compat" pkg-config --exists "nnrt >= $compat"
# shellcheck disable=SC2046
cc -std=c99 -O2 -Wall -Wextra -pedantic -Werror -o "$work/pc/classify_idx" Examples/c/classify_idx.c \
  $(pkg-config --cflags --libs nnrt zlib) -Wl,-rpath,"$(pkg-config --variable=libdir nnrt)" \
  && ok "classify_idx builds with pkg-config --cflags --libs nnrt zlib" || bad "classify_idx build (pkg-config)"
unset PKG_CONFIG_PATH
if [ -x "$work/pc/classify_idx" ]; then
  check "the program loads the tree's $soname" test "$(realpath "$(resolves "$work/pc/classify_idx" "$soname")")" = "$(realpath "$inst/lib/$libfile")"
  check "the program needs no Swift toolchain library" no_swift "$work/pc/classify_idx"
  "${hidden_env[@]}" "$work/pc/classify_idx" --labels-out "$work/c-pc.labels" "$model" "$images" "$labels" > "$work/c-pc.log" 2>&1
  tail -1 "$work/c-pc.log"
  c_accuracy=$(accuracy "$work/c-pc.log")
  check "MNIST test accuracy is sane (at least 80%): ${c_accuracy:-none}" sane "$c_accuracy"
fi

step "C: CMake find_package(nnrt) against the unpacked tree"
mkdir -p "$work/cmake-src"
cat > "$work/cmake-src/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.13)
project(nnrt_consumer C)
find_package(nnrt REQUIRED)
find_package(ZLIB REQUIRED)
add_executable(classify_idx "$root/Examples/c/classify_idx.c")
target_link_libraries(classify_idx PRIVATE nnrt::nnrt ZLIB::ZLIB)
EOF
if "${hidden_env[@]}" cmake -S "$work/cmake-src" -B "$work/cmake-build" -DCMAKE_PREFIX_PATH="$inst" \
     -DCMAKE_BUILD_TYPE=Release > "$work/cmake.log" 2>&1 \
   && "${hidden_env[@]}" cmake --build "$work/cmake-build" >> "$work/cmake.log" 2>&1; then
  ok "a CMake project builds classify_idx with find_package(nnrt) and nnrt::nnrt"
  check "CMake found the unpacked tree" grep -qx "nnrt_DIR:PATH=$inst/lib/cmake/nnrt" "$work/cmake-build/CMakeCache.txt"
  bin="$work/cmake-build/classify_idx"
  check "the program loads the tree's $soname" test "$(realpath "$(resolves "$bin" "$soname")")" = "$(realpath "$inst/lib/$libfile")"
  check "the program needs no Swift toolchain library" no_swift "$bin"
  "${hidden_env[@]}" "$bin" --labels-out "$work/c-cmake.labels" "$model" "$images" "$labels" > "$work/c-cmake.log" 2>&1
  tail -1 "$work/c-cmake.log"
  check "same labels and accuracy as the pkg-config build" \
    sh -c "cmp -s '$work/c-pc.labels' '$work/c-cmake.labels' && [ \"\$(tail -1 '$work/c-pc.log')\" = \"\$(tail -1 '$work/c-cmake.log')\" ]"
else
  cat "$work/cmake.log" >&2; bad "CMake configure and build"
fi

# find_package(nnrt VERSION): the same ABI series and not newer.
cmake_finds() {  # cmake_finds "VERSION ARGS": 0 if find_package(nnrt VERSION ARGS) finds the tree
  local dir="$work/cmake-version"
  rm -rf "$dir"; mkdir -p "$dir"
  printf 'cmake_minimum_required(VERSION 3.19)\nproject(v NONE)\nfind_package(nnrt %s QUIET)\nif(NOT nnrt_FOUND)\n  message(FATAL_ERROR "not found")\nendif()\n' "$1" > "$dir/CMakeLists.txt"
  "${hidden_env[@]}" cmake -S "$dir" -B "$dir/b" -DCMAKE_PREFIX_PATH="$inst" > /dev/null 2>&1
}
check "find_package(nnrt $compat) finds $version" cmake_finds "$compat"
check "find_package(nnrt $version EXACT) finds $version" cmake_finds "$version EXACT"
check "find_package(nnrt $compat...<$compat_next) finds $version" cmake_finds "$compat...<$compat_next"
cmake_rejects() { ! cmake_finds "$1"; }
check "find_package(nnrt $compat_next) does not" cmake_rejects "$compat_next"
newer="${version%.*}.$(( ${version##*.} + 1 ))"
check "find_package(nnrt $newer) does not (newer than $version)" cmake_rejects "$newer"
if [ "$(scripts/version.sh --major)" = 0 ] && [ "$(scripts/version.sh --minor)" -gt 0 ]; then
  older="0.$(( $(scripts/version.sh --minor) - 1 ))"
  check "find_package(nnrt $older) does not (another 0.x ABI)" cmake_rejects "$older"
fi

step "make install PREFIX=/opt/nnrt DESTDIR=... and package.sh --prefix"
if make -s install PREFIX=/opt/nnrt DESTDIR="$work/stage" > "$work/make-install.log" 2>&1; then
  ok "make install PREFIX=/opt/nnrt DESTDIR=$work/stage"
  (cd "$work/stage/opt/nnrt" && find . -mindepth 1 | sort) > "$work/staged.list"
  (cd "$tree" && find . -mindepth 1 | sort) > "$work/tree-rel.list"
  check "DESTDIR install holds the same entries as the dist tree" cmp -s "$work/staged.list" "$work/tree-rel.list"
  check "its nnrt.pc names the prefix /opt/nnrt (not DESTDIR)" grep -qx 'prefix=/opt/nnrt' "$work/stage/opt/nnrt/lib/pkgconfig/nnrt.pc"
  check "symbolic links kept" test "$(readlink "$work/stage/opt/nnrt/lib/libnnrt.so")" = "$soname"
else
  cat "$work/make-install.log" >&2; bad "make install PREFIX=/opt/nnrt DESTDIR=..."
fi
multiarch=$(cc -print-multiarch 2>/dev/null); multiarch=${multiarch:-$(uname -m)-linux-gnu}
prefix="$work/prefix"
if scripts/package.sh --no-build --prefix "$prefix" --libdir "lib/$multiarch" > "$work/prefix.log" 2>&1; then
  ok "package.sh --prefix $prefix --libdir lib/$multiarch"
  pc="$prefix/lib/$multiarch/pkgconfig"
  check "nnrt.pc: prefix=$prefix, libdir below lib/$multiarch" \
    test "$(PKG_CONFIG_PATH=$pc pkg-config --variable=libdir nnrt)" = "$prefix/lib/$multiarch"
  # shellcheck disable=SC2046
  cc -std=c99 -O2 -o "$work/prefix-classify_idx" Examples/c/classify_idx.c \
    $(PKG_CONFIG_PATH=$pc pkg-config --cflags --libs nnrt zlib) -Wl,-rpath,"$prefix/lib/$multiarch" \
    && "${hidden_env[@]}" "$work/prefix-classify_idx" --labels-out "$work/c-prefix.labels" "$model" "$images" "$labels" > "$work/c-prefix.log" 2>&1 \
    && cmp -s "$work/c-pc.labels" "$work/c-prefix.labels" \
    && ok "a program built against it with pkg-config gives the same labels" \
    || bad "build and run against the --prefix install (pkg-config)"
  rm -rf "$work/cmake-build2"
  if "${hidden_env[@]}" cmake -S "$work/cmake-src" -B "$work/cmake-build2" -DCMAKE_PREFIX_PATH="$prefix" > "$work/cmake2.log" 2>&1 \
     && grep -qx "nnrt_DIR:PATH=$prefix/lib/$multiarch/cmake/nnrt" "$work/cmake-build2/CMakeCache.txt" \
     && "${hidden_env[@]}" cmake --build "$work/cmake-build2" >> "$work/cmake2.log" 2>&1; then
    ok "find_package(nnrt) finds the multiarch install and builds"
  else
    cat "$work/cmake2.log" >&2; bad "CMake against the --prefix install"
  fi
else
  cat "$work/prefix.log" >&2; bad "package.sh --prefix $prefix --libdir lib/$multiarch"
fi
check "package.sh refuses a bad --libdir (status 2)" sh -c "scripts/package.sh --no-build --prefix '$work/x' --libdir ../x >/dev/null 2>&1; [ \$? = 2 ]"

step "Python: the wheel in a fresh venv (no system site packages, no numpy)"
echo "wheel: $(basename "$wheel") ($(stat -c %s "$wheel") bytes)"
venv="$work/venv"
if python3 -m venv "$venv" > "$work/venv.log" 2>&1 \
   && "$venv/bin/python" -m pip install -q --no-index --disable-pip-version-check "$wheel" >> "$work/venv.log" 2>&1; then
  ok "pip install --no-index $(basename "$wheel")"
  # The system copies of the libraries the wheel bundles, hidden in a mount namespace if allowed.
  system_libs=()
  for name in libprotobuf-c.so.1 libpng16.so.16 libjpeg.so.62; do
    path=$(ldd build/lib/libnnrt.so | sed -n "s|^[[:space:]]*$name => \(/[^ ]*\) (0x.*|\1|p")
    [ -n "$path" ] && system_libs+=("$(realpath "$path")")
  done
  run_python=("${hidden_env[@]}" "$venv/bin/python")
  hide=""
  for lib in "${system_libs[@]}"; do hide+="mount --bind /dev/null '$lib' && "; done
  if [ ${#system_libs[@]} -eq 3 ] && unshare -m sh -c "${hide}true" 2>/dev/null; then
    # Prove they are hidden: the unbundled library cannot load there.
    if unshare -m sh -c "${hide}ldd '$root/build/lib/libnnrt.so'" > /dev/null 2>&1; then
      bad "hiding the system libraries in a mount namespace did not work"
    else
      ok "with ${system_libs[*]} hidden, build/lib/libnnrt.so no longer loads"
      run_python=(unshare -m sh -c "${hide}exec \"\$@\"" sh "${run_python[@]}")
    fi
  else
    echo "(unshare -m is not allowed here: the system's libprotobuf-c, libpng and libjpeg stay visible; the"
    echo " check below still requires that the bundled copies are the ones mapped)"
  fi
  (cd "$work" && "${run_python[@]}" "$root/scripts/check-wheel.py" --version "$version" \
     --labels-out "$work/py.labels" "$model" "$images" "$labels") > "$work/py.log" 2>&1
  status=$?
  cat "$work/py.log"
  [ $status -eq 0 ] && ok "the wheel's checks (scripts/check-wheel.py)" || bad "the wheel's checks (scripts/check-wheel.py, status $status)"
  check "Python (nnrt.Model.predict, no numpy) and C give the same labels" cmp -s "$work/c-pc.labels" "$work/py.labels"
  check "and the same accuracy line" test "$(tail -1 "$work/c-pc.log")" = "$(grep '^accuracy:' "$work/py.log" | tail -1)"
else
  cat "$work/venv.log" >&2; bad "fresh venv and pip install --no-index of the wheel"
fi

step "Python: the wheel with numpy (Examples/python/classify.py on the bundled library)"
if python3 -c "import numpy" 2>/dev/null; then
  venv2="$work/venv-numpy"
  python3 -m venv --system-site-packages "$venv2" > "$work/venv2.log" 2>&1 \
    && "$venv2/bin/python" -m pip install -q --no-index --disable-pip-version-check --force-reinstall --no-deps "$wheel" >> "$work/venv2.log" 2>&1 \
    || bad "venv with numpy"
  where=$(cd "$work" && env -u NNRT_LIBRARY "$venv2/bin/python" -c "import nnrt; print(nnrt.library_path)")
  check "nnrt.library_path is the bundled copy: $where" test "$(realpath "$where")" = "$(realpath "$venv2")/lib/python$("$venv2/bin/python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')/site-packages/nnrt/libnnrt.so"
  (cd "$work" && env -u NNRT_LIBRARY "$venv2/bin/python" "$root/Examples/python/classify.py" "$model" "$images" "$labels" \
     --labels-out "$work/py-numpy.labels") > "$work/py-numpy.log" 2>&1
  tail -1 "$work/py-numpy.log"
  check "nnrt.Model.predict (numpy) and C give the same labels" cmp -s "$work/c-pc.labels" "$work/py-numpy.labels"
  check "help(nnrt.Model) renders" sh -c "cd '$work' && '$venv2/bin/python' -c 'import pydoc, nnrt; text = pydoc.render_doc(nnrt.Model, renderer=pydoc.plaintext); assert \"class Model\" in text and \"predict_proba\" in text' "
else
  echo "(numpy is not installed for python3: skipped)"
fi

echo
echo "packaging: scripts/package.sh took ${package_seconds} s; tarball $(stat -c %s "$tarball") bytes, wheel $(stat -c %s "$wheel") bytes"
echo "test-packaging.sh: $((checks - failures)) passed, $failures failed"
[ $failures -eq 0 ]
