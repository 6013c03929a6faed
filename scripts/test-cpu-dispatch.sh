#!/usr/bin/env bash
# Checks that libnnrt picks its kernel build from the CPU it runs on, and that the portable build
# runs on an x86-64 CPU without AVX (nothing from the AVX2 build leaks into it). Runs the C example
# classify_idx on a small conv net (every kernel: convolution, pooling, dense, softmax) three ways:
#   - natively with NNRT_KERNELS=generic           -> "generic" kernels (reference labels)
#   - under qemu-x86_64 -cpu Nehalem (SSE4.2, no AVX)  -> must pick "generic", same labels
#   - under qemu-x86_64 -cpu Haswell (AVX2 + FMA)     -> must pick "avx2-fma", same labels
# Needs build/lib/libnnrt.so, build/bin/nnrt, build/examples/classify_idx (scripts/test-c.sh
# builds it), qemu-user (scripts/install-deps.sh) and MNIST. x86-64 only; elsewhere it skips.
#
# Usage: scripts/test-cpu-dispatch.sh [MNIST_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mnist=${1:-${MNIST_DIR:-../shared/data/mnist}}
if [ "$(uname -m)" != x86_64 ]; then echo "test-cpu-dispatch.sh: not x86-64, nothing to check"; exit 0; fi
command -v qemu-x86_64 >/dev/null || { echo "test-cpu-dispatch.sh: qemu-x86_64 missing (scripts/install-deps.sh installs qemu-user)" >&2; exit 2; }
classify=build/examples/classify_idx
[ -x "$classify" ] || (cd Examples/c && make -s)
out=build/tests/dispatch
mkdir -p "$out"
model="$out/conv.nnrt"
build/bin/nnrt train --layers convpool8x5,fc30,softmax10 --eta 0.1 --epochs 1 --train-limit 5000 \
  --seed 3 --quiet --out "$model"
images="$mnist/t10k-images-idx3-ubyte.gz" labels="$mnist/t10k-labels-idx1-ubyte.gz"
failures=0

run() {  # run NAME EXPECTED_BUILD COMMAND-PREFIX...
  local name=$1 expected=$2; shift 2
  local log="$out/$name.log"
  if ! "$@" "$classify" --limit 300 --labels-out "$out/$name.labels" "$model" "$images" "$labels" > "$log" 2>&1; then
    echo "FAIL: $name: classify_idx failed:"; sed 's/^/  /' "$log"; failures=$((failures + 1)); return
  fi
  local got
  got=$(sed -n 's/^libnnrt [^,]*, \(.*\) kernels$/\1/p' "$log")
  if [ "$got" != "$expected" ]; then
    echo "FAIL: $name: kernels '$got', expected '$expected'"; failures=$((failures + 1)); return
  fi
  if [ "$name" != native-generic ] && ! cmp -s "$out/native-generic.labels" "$out/$name.labels"; then
    echo "FAIL: $name: labels differ from the native generic run"; failures=$((failures + 1)); return
  fi
  echo "ok   $name: $expected kernels, $(tail -1 "$log")"
}

run native-generic generic env NNRT_KERNELS=generic
run qemu-nehalem generic qemu-x86_64 -cpu Nehalem
run qemu-haswell avx2-fma qemu-x86_64 -cpu Haswell
[ $failures -eq 0 ] || { echo "test-cpu-dispatch.sh: $failures failed"; exit 1; }
echo "test-cpu-dispatch.sh: all passed"
