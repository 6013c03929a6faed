#!/usr/bin/env bash
# The main job, end to end on a fresh machine: install system packages, build libnnrt.so and the
# nnrt CLI, fetch MNIST (verified; skipped if MNIST_DIR points at a copy), train the book's
# chapter-1 network briefly, export it, and classify the 10,000 test images with it through the
# C ABI from C and from Python.
#   scripts/quickstart.sh              3 epochs (about a minute)
#   EPOCHS=30 scripts/quickstart.sh    the book's full run (95.42% in the book)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
epochs=${EPOCHS:-3}

step() { echo; echo "==> $*"; }

step "system packages"
scripts/install-deps.sh

step "build libnnrt.so and the nnrt CLI (release)"
scripts/build.sh

step "MNIST"
mnist=${MNIST_DIR:-$(build/bin/nnrt mnist --print-dir)}
echo "MNIST files in $mnist"

model=build/models/ch1.nnrt
mkdir -p build/models
step "train the book's chapter-1 network ([784,30,10], eta 3.0) for $epochs epochs"
build/bin/nnrt train --preset ch1 --epochs "$epochs" --data "$mnist" --out "$model"

step "inspect the exported model"
build/bin/nnrt inspect "$model"

step "classify the test set from C (Examples/c/classify_idx.c)"
make -s -C Examples/c
build/examples/classify_idx "$model" "$mnist/t10k-images-idx3-ubyte.gz" "$mnist/t10k-labels-idx1-ubyte.gz"

step "classify the test set from Python (Examples/python/classify.py)"
venv=build/venv-quickstart
[ -x "$venv/bin/python" ] || python3 -m venv --system-site-packages "$venv"
"$venv/bin/python" -c "import numpy" 2>/dev/null || "$venv/bin/python" -m pip install -q numpy
"$venv/bin/python" -m pip install -q --no-deps ./Bindings/python
NNRT_LIBRARY="$root/build/lib/libnnrt.so" "$venv/bin/python" Examples/python/classify.py \
  "$model" "$mnist/t10k-images-idx3-ubyte.gz" "$mnist/t10k-labels-idx1-ubyte.gz"

echo
echo "done: model at $model; library at build/lib/libnnrt.so; CLI at build/bin/nnrt"
