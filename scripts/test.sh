#!/usr/bin/env bash
# Runs every nnrt test: generated-code drift check, Swift unit tests, the release build of
# libnnrt.so and the CLI, exported-symbol check, C examples and C API tests (also with the Swift
# toolchain hidden; with the malformed-input table, the thread stress test and the 100,000-iteration
# memory loop), the CLI's malformed-input table, its output checks (progress bars, --json, --quiet,
# exit statuses) and shell completions, the kill-and-resume test of training (SIGKILL at
# random moments, SIGINT, SIGTERM), the Swift tests again under AddressSanitizer (+UBSan for C) and
# the C tests under valgrind, a ThreadSanitizer run of the concurrent C API paths, the Python
# binding's tests in a fresh virtual environment (the same three kinds of robustness test), a
# check that the CLI, the C example and the Python example predict exactly the same labels, the
# HTML training report rendered in headless Chromium, the documentation's code blocks
# (scripts/test-docs.sh), and the fuzzing harnesses (kept regression inputs, then 30 s each). The
# release packages (scripts/package.sh) are checked as C (pkg-config, CMake) and Python (wheel)
# users meet them.
#
# Needs the system packages from scripts/install-deps.sh and a Swift toolchain. MNIST comes from
# MNIST_DIR if set, else the download cache (fetched and verified on first use).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out="$root/build/test"
mkdir -p "$out"

passed=0; failed=0; failures=(); failure_logs=(); stage_number=0
# Each stage's output is shown as it runs and kept in build/test/stage-NN.log; the summary at the
# end repeats what a failed stage said, so a CI log cut to its tail still shows why it failed.
stage() {  # stage NAME COMMAND...
  local name=$1; shift
  stage_number=$((stage_number + 1))
  local log; log=$(printf '%s/stage-%02d.log' "$out" "$stage_number")
  echo
  echo "==> $name"
  local t0=$SECONDS
  "$@" 2>&1 | tee "$log"
  if [ "${PIPESTATUS[0]}" -eq 0 ]; then
    passed=$((passed + 1)); echo "--> $name: ok ($((SECONDS - t0)) s)"
  else
    failed=$((failed + 1)); failures+=("$name"); failure_logs+=("$log")
    echo "--> $name: FAILED ($((SECONDS - t0)) s)"
  fi
}

# What each failed stage said: its failure lines, then its last lines.
report_failures() {
  local i log
  for i in "${!failures[@]}"; do
    log=${failure_logs[$i]}
    echo
    echo "== failed: ${failures[$i]} (whole output: ${log#"$root"/})"
    echo "-- its lines that report a failure (at most 40):"
    grep -a -E '✘|error:|FAIL|Fatal error|Assertion|Segmentation fault|Aborted|Killed|Traceback|panic' "$log" \
      | grep -a -v -E '^\[[0-9]+/[0-9]+\] Compiling' | head -n 40
    echo "-- its last 30 lines:"
    tail -n 30 "$log"
  done
}

# MNIST: an explicit copy, or the download cache, filled and verified on first use. The tests
# that read MNIST find it through MNIST_DIR.
if [ -z "${MNIST_DIR:-}" ]; then
  echo "MNIST_DIR is not set: fetching MNIST into the download cache (or checking it there)"
  swift build --product nnrt-cli >/dev/null || { echo "test.sh: swift build failed" >&2; exit 1; }
  MNIST_DIR=$("$(swift build --show-bin-path)/nnrt-cli" mnist --print-dir) || { echo "test.sh: MNIST unavailable" >&2; exit 1; }
  export MNIST_DIR
  echo "MNIST_DIR=$MNIST_DIR"
fi

stage "generated model code matches nnrt.proto" Sources/CModelProto/regenerate.sh --check
stage "swift test (debug)" swift test
# The suites above ran the fastest kernel build this CPU has; run the kernels and the
# trainer-runtime agreement again on the portable build (a no-op repeat on CPUs without AVX2).
stage "kernels and trainer-runtime agreement, generic build" \
  env NNRT_KERNELS=generic swift test --skip-build --filter 'NNKernelsTests|TrainerRoundTripTests'
# Later stages use the release artifacts: never let them run on stale ones.
rm -f build/lib/libnnrt.so build/bin/nnrt
stage "release build: libnnrt.so and nnrt CLI" scripts/build.sh
if [ ! -x build/bin/nnrt ] || [ ! -f build/lib/libnnrt.so ]; then
  echo "test.sh: the release build failed; the remaining stages need it"
  report_failures
  echo "$passed passed, $((failed + 1)) failed"
  exit 1
fi

model="$out/ch1-quick.nnrt"
train_quick() {
  # Release build: ch1 for 2 epochs (about a second), a model for the checks below.
  build/bin/nnrt train --preset ch1 --epochs 2 --seed 1 --quiet --out "$model"
}
stage "CLI: train a quick ch1 model" train_quick
stage "CLI: end-to-end checks" Tests/cli/test-cli.sh "$model"
stage "CLI: malformed input (table)" Tests/cli/test-bad-input.sh "$model"
stage "CLI: output for people and scripts (progress bars, plain pipes, --json, --quiet, exit statuses)" \
  Tests/cli/test-output.sh "$model"
stage "CLI: shell completion (bash; zsh and fish when installed)" Tests/cli/test-completions.sh
stage "CLI: training survives SIGKILL, SIGINT and SIGTERM (kill and resume)" scripts/test-kill-resume.sh build/bin/nnrt
stage "exported symbols match Include/nnrt.h" scripts/check-exports.sh
stage "C examples and C API tests" scripts/test-c.sh "$model"
stage "image files: C API (and valgrind), C example, nnrt classify" scripts/test-images.sh "$model"
stage "packages: install tree, tarball, pkg-config and CMake users, wheel in a fresh venv" \
  scripts/test-packaging.sh "$model"
stage "sanitizers: swift test under ASan+UBSan, C tests and examples under valgrind" \
  scripts/test-sanitizers.sh "$model"
stage "kernel build follows the CPU (qemu: no AVX, AVX2)" scripts/test-cpu-dispatch.sh
stage "Python binding (fresh venv, pytest)" scripts/test-python.sh "$model"
stage "CLI, C and Python predict the same labels" scripts/check-agreement.sh "$model"
stage "HTML training report in headless Chromium" Tests/report/test-report.sh "$model"
stage "documentation: the tested code blocks of README.md and docs/" scripts/test-docs.sh "$model"
# ThreadSanitizer over the runtime's concurrent paths (its own instrumented build, .build-tsan).
stage "ThreadSanitizer: concurrent C API calls (swift test --sanitize=thread)" scripts/test-tsan.sh
# libFuzzer harnesses (own instrumented build in .build-fuzz): the kept crash inputs of
# fuzz/regressions, then a bounded run of each harness (README "Fuzzing").
stage "fuzzing: kept regressions, then 30 s per harness" scripts/fuzz.sh --time 30

echo
echo "test.sh summary: $passed stages passed, $failed failed"
report_failures
for f in "${failures[@]}"; do echo "  failed: $f"; done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
