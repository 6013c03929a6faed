#!/usr/bin/env bash
# Installs the Debian packages nnrt needs to build, test and run. Idempotent.
#   protobuf-c: libprotobuf-c-dev (build) + libprotobuf-c1 (run), protobuf-c-compiler (regenerate
#   and drift-check the generated model code); zlib1g-dev: gzip for MNIST IDX files (trainer and
#   C example); python3-venv: the Python binding's tests run in a fresh virtual environment.
#   qemu-user: the test that libnnrt picks its kernel build from the CPU (emulated CPUs with and
#   without AVX2; scripts/test-cpu-dispatch.sh). libpng-dev, libjpeg62-turbo-dev: PNG and JPEG
#   decoding and encoding (Sources/CImageCodecs); a machine that only runs libnnrt.so or the CLI
#   needs their run-time packages, libpng16-16 and libjpeg62-turbo. valgrind: the image tests run
#   the C API under it (no leaks, no invalid accesses; scripts/test-images.sh). patchelf: the
#   Python wheel bundles libnnrt's libraries (Bindings/python/setup.py); cmake: the packaging test
#   builds a find_package(nnrt) project (scripts/test-packaging.sh). chromium: the HTML report is
#   rendered headless in the tests (Tests/report/test-report.sh). zsh, fish: the shell-completion
#   scripts are checked in each shell (Tests/cli/test-completions.sh).
# The Swift toolchain (6.x) is expected on PATH: see README.md.
set -euo pipefail
packages=(libprotobuf-c-dev libprotobuf-c1 protobuf-c-compiler zlib1g-dev libpng-dev libjpeg62-turbo-dev pkg-config binutils make gcc g++ python3 python3-venv qemu-user valgrind patchelf cmake chromium zsh fish)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all system packages present"
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo=sudo
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
