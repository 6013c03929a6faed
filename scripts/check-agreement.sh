#!/usr/bin/env bash
# The CLI (`nnrt eval`), the C example and the Python example must predict exactly the same
# label for every one of the 10,000 MNIST test images.
#   scripts/check-agreement.sh MODEL
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
model=$1
mnist="${MNIST_DIR:-$(build/bin/nnrt mnist --print-dir)}"
images="$mnist/t10k-images-idx3-ubyte.gz"; labels="$mnist/t10k-labels-idx1-ubyte.gz"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
build/bin/nnrt eval "$model" --data "$mnist" --labels-out "$tmp/cli.txt" | tail -1 | tee "$tmp/cli.acc"
build/examples/classify_idx --labels-out "$tmp/c.txt" "$model" "$images" "$labels" | tail -1 | tee "$tmp/c.acc"
build/venv/bin/python Examples/python/classify.py "$model" "$images" "$labels" --labels-out "$tmp/py.txt" | tail -1 | tee "$tmp/py.acc"
n=$(wc -l < "$tmp/cli.txt")
[ "$n" -eq 10000 ] || { echo "expected 10000 CLI labels, got $n" >&2; exit 1; }
cmp "$tmp/cli.txt" "$tmp/c.txt" || { echo "CLI and C example labels differ" >&2; exit 1; }
cmp "$tmp/cli.txt" "$tmp/py.txt" || { echo "CLI and Python example labels differ" >&2; exit 1; }
cmp -s "$tmp/cli.acc" "$tmp/c.acc" && cmp -s "$tmp/cli.acc" "$tmp/py.acc" || { echo "accuracy lines differ" >&2; exit 1; }
echo "all 10000 labels agree across CLI, C and Python"
