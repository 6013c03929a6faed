#!/usr/bin/env bash
# Builds and runs the C side of libnnrt against build/lib/libnnrt.so (run scripts/build.sh --lib
# first):
#   - the header compiles as C99 (-pedantic -Werror) and as C++ (g++ -fsyntax-only);
#   - the exported symbols match the header (scripts/check-exports.sh);
#   - Tests/c/test_capi.c (its own fixtures, written with the protoc-c structs) passes;
#   - Tests/c/test_bad_input.c: a table of malformed input to every function (statuses, messages);
#   - Tests/c/test_stress.c: 8 threads x 2,000 calls on shared models, ensembles and sessions,
#     bit-identical to a single-threaded run (a few seconds);
#   - Tests/c/test_resources.c: 100,000 iterations of load / predict / free with flat memory
#     (VmRSS after 10% and 100% within 2 MiB; about 25 s);
#   - the examples build with -std=c99 -Wall -Wextra -pedantic -Werror and classify_idx runs with
#     the Swift toolchain hidden from the loader, and libnnrt.so needs no libswift*/libFoundation*.
#
# Usage: scripts/test-c.sh [MODEL] [MNIST_DIR]
#   MODEL      a model file to classify MNIST with (default: a random 784-30-10 network written by
#              test_capi --write-model; its accuracy is meaningless, only the mechanics are tested)
#   MNIST_DIR  directory with t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz
#              (default: $MNIST_DIR, then ../shared/data/mnist)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
lib=build/lib/libnnrt.so
[ -f "$lib" ] || { echo "test-c.sh: $lib not found; run scripts/build.sh --lib" >&2; exit 2; }
CC=${CC:-cc}
CXX=${CXX:-g++}
strict=(-std=c99 -Wall -Wextra -pedantic -Werror)
out=build/tests
mkdir -p "$out"
failures=0
step() { echo "== $*"; }
bad() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

step "header compiles as C99 and C++"
printf '#include "nnrt.h"\nint main(void) { return nnrt_abi_version() == NNRT_ABI_VERSION ? 0 : 1; }\n' > "$out/header_c.c"
"$CC" "${strict[@]}" -IInclude -fsyntax-only "$out/header_c.c" || bad "nnrt.h as C99"
printf '#include "nnrt.h"\nint main() { nnrt_model *m = nullptr; return nnrt_model_load("x", &m); }\n' > "$out/header_cpp.cpp"
"$CXX" -std=c++11 -Wall -Wextra -pedantic -Werror -IInclude -fsyntax-only "$out/header_cpp.cpp" || bad "nnrt.h as C++"

step "exports"
scripts/check-exports.sh "$lib" Include/nnrt.h || bad "check-exports"

step "test_capi"
# The generated protobuf code is compiled on its own: it uses an anonymous union (C11), so it is
# included as a system header in the strict C99 build of the test.
"$CC" -O1 -c -o "$out/nnrt.pb-c.o" -ISources/CModelProto/include Sources/CModelProto/nnrt.pb-c.c
"$CC" "${strict[@]}" -O1 -IInclude -isystem Sources/CModelProto/include -o "$out/test_capi" Tests/c/test_capi.c \
  "$out/nnrt.pb-c.o" -Lbuild/lib -Wl,-rpath,'$ORIGIN/../lib' -lnnrt -lprotobuf-c -lm
"$out/test_capi" | tee "$out/test_capi.log" || bad "test_capi"
model=${1:-}
if [ -z "$model" ]; then
  model="$out/random-784-30-10.nnrt"
  "$out/test_capi" --write-model "$model"
  echo "(no MODEL given: using a random network, $model)"
fi

# The robustness tests share the fixtures of Tests/c/fixtures.h.
for t in test_bad_input test_stress test_resources; do
  "$CC" "${strict[@]}" -O1 -IInclude -isystem Sources/CModelProto/include -o "$out/$t" "Tests/c/$t.c" \
    "$out/nnrt.pb-c.o" -Lbuild/lib -Wl,-rpath,'$ORIGIN/../lib' -lnnrt -lprotobuf-c -lm -lpthread || bad "$t: build"
done
step "test_bad_input (malformed input, table)"
"$out/test_bad_input" "$model" > "$out/test_bad_input.log" || { cat "$out/test_bad_input.log"; bad "test_bad_input"; }
tail -1 "$out/test_bad_input.log"
step "test_stress (threads sharing models, ensembles and sessions)"
"$out/test_stress" "$model" || bad "test_stress"
step "test_resources (100,000 load / predict / free iterations, VmRSS)"
"$out/test_resources" || bad "test_resources"

step "examples"
make -s -C Examples/c
mnist=${2:-${MNIST_DIR:-$root/../shared/data/mnist}}
images="$mnist/t10k-images-idx3-ubyte.gz"
labels="$mnist/t10k-labels-idx1-ubyte.gz"
if [ -f "$images" ] && [ -f "$labels" ]; then
  build/examples/classify_one "$model" "$images" 0 || bad "classify_one"
  # The Swift toolchain hidden from the loader: only the system's libraries are found.
  env -i PATH=/usr/bin:/bin LD_LIBRARY_PATH= build/examples/classify_idx --labels-out "$out/c-labels.txt" \
    "$model" "$images" "$labels" | tee "$out/classify_idx.log" || bad "classify_idx"
  tail -1 "$out/classify_idx.log" | grep -Eq '^accuracy: [0-9]+\.[0-9]{2}% \([0-9]+/[0-9]+\)$' \
    || bad "classify_idx last line format"
  [ "$(wc -l < "$out/c-labels.txt")" -eq 10000 ] || bad "classify_idx --labels-out line count"
  echo "predicted labels: $out/c-labels.txt"
else
  echo "(MNIST test set not found in $mnist: skipping classify_idx)"
fi

step "runtime dependencies"
ldd "$lib"
if ldd "$lib" | grep -Eq 'libswift|libFoundation|libdispatch|/opt/swift|/usr/lib/swift'; then
  bad "libnnrt.so depends on the Swift toolchain"
fi
echo "libnnrt.so: $(stat -c %s "$lib") bytes"

if [ $failures -ne 0 ]; then
  echo "test-c.sh: $failures failure(s)" >&2
  exit 1
fi
echo "test-c.sh: all C checks passed"
