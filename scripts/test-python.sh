#!/usr/bin/env bash
# Installs the Python binding into a fresh virtual environment (build/venv) and runs its pytest
# suite and the Python example against build/lib/libnnrt.so.
#   scripts/test-python.sh [MODEL]   MODEL: a trained MNIST model for the real-data checks
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
model=${1:-}
venv="$root/build/venv"
rm -rf "$venv"
# System site packages give the venv numpy and pytest where the machine has them; else pip.
python3 -m venv --system-site-packages "$venv"
py="$venv/bin/python"
"$py" -c "import numpy, pytest" 2>/dev/null || "$py" -m pip install -q numpy pytest
"$py" -m pip install -q --no-deps ./Bindings/python
# Pillow is optional for nnrt; its tests (Pillow images into classify_files) run when pip can get it.
"$py" -c "import PIL" 2>/dev/null || "$py" -m pip install -q pillow \
  || echo "test-python.sh: Pillow could not be installed; its tests will be skipped"
# The image files scripts/test-images.sh wrote, for the image tests.
[ -d "$root/build/test/images/scanned" ] && export NNRT_TEST_IMAGES="$root/build/test/images"
export NNRT_LIBRARY="$root/build/lib/libnnrt.so"
if [ -n "$model" ]; then
  export NNRT_TEST_MODEL="$model"
  export MNIST_DIR="${MNIST_DIR:-$("$root/build/bin/nnrt" mnist --print-dir)}"
fi
# Run from outside the source tree so the installed package, not the checkout, is imported.
(cd "$venv" && "$py" -m pytest -q -p no:cacheprovider "$root/Bindings/python/tests")
if [ -n "$model" ]; then
  "$py" Examples/python/classify.py "$model" "$MNIST_DIR/t10k-images-idx3-ubyte.gz" "$MNIST_DIR/t10k-labels-idx1-ubyte.gz"
fi
