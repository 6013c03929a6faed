#!/usr/bin/env bash
# Creates (or updates) the benchmark's virtual environment, build/venv-bench, with the peers that
# bench/peers/run.py compares nnrt with, and installs the nnrt Python binding into it.
# Idempotent: rerunning installs only what is missing. A peer that cannot be installed is left
# out with a warning; run.py then reports it as "not installed".
#
#   bench/peers/setup.sh                 # the latest versions
#   bench/peers/setup.sh --pinned        # the versions in bench/peers/requirements.txt
#   VENV=/tmp/v bench/peers/setup.sh     # another place (run.py re-executes itself only with
#                                        # build/venv-bench: run /tmp/v/bin/python run.py then)
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
venv="${VENV:-build/venv-bench}"
python="${PYTHON:-python3}"
pinned=0
[ "${1:-}" = "--pinned" ] && pinned=1

[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip install -q)

# One package at a time, so that one that cannot be had does not stop the others.
install() {
    local spec="$1" name="${1%%[=<>]*}"
    if [ "$pinned" = 1 ]; then
        spec="$(grep -iE "^${name}==" bench/peers/requirements.txt || echo "$spec")"
    fi
    "${pip[@]}" "$spec" \
        || echo "setup.sh: WARNING: could not install $spec; run.py will report it as not installed" >&2
}

install numpy
install threadpoolctl        # names the BLAS kernel numpy runs (Haswell, SkylakeX, ...)
install onnx                 # run.py writes the ONNX models with it
install onnxruntime
install ai-edge-litert       # the Interpreter, and the TFLite schema run.py writes models with
install flatbuffers
install pillow               # bench/images.py's Python baseline decodes images with it
# The CPU wheel: pip finds it in a local wheel folder (PIP_FIND_LINKS) or, where one is
# configured (PIP_EXTRA_INDEX_URL), PyTorch's CPU wheel index.
install "torch==2.13.0+cpu"

# The binding is ctypes only. Without build isolation pip uses the venv's own setuptools, so this
# works offline.
"${pip[@]}" --no-deps --no-build-isolation ./Bindings/python 2>/dev/null \
    || "${pip[@]}" --no-deps ./Bindings/python

echo "setup.sh: $venv is ready:"
"$venv/bin/python" -m pip freeze \
    | grep -iE '^(numpy|threadpoolctl|onnx|onnxruntime|ai[-_]edge[-_]litert|flatbuffers|pillow|torch|nnrt)( @|==)' || true
