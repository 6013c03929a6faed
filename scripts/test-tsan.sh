#!/usr/bin/env bash
# ThreadSanitizer over the runtime's concurrent paths. libnnrt is Swift, so the instrumented code
# must be the Swift runtime itself: this builds the tests with --sanitize=thread (a separate
# scratch directory, .build-tsan, so the normal builds are untouched) and runs
#   - ConcurrencyTests: 8 threads x many C API calls on shared models, ensembles and sessions,
#     bit-identical to a single-threaded run (Tests/c/test_stress.c's paths);
#   - SessionTests: sessions spreading batches over their worker threads, and worker hand-off
#     under churn;
#   - the per-thread last error message and concurrent predictions on one model.
# Any data race reported by TSan fails the run (halt_on_error). The first run builds every test
# target instrumented: several minutes; later runs rebuild what changed.
#   scripts/test-tsan.sh            NNRT_STRESS_ITERATIONS: calls per thread (default 500)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
swift build --build-tests --sanitize=thread --scratch-path .build-tsan
swift test --skip-build --sanitize=thread --scratch-path .build-tsan \
  --filter 'ConcurrencyTests|SessionTests|lastErrorIsPerThread|concurrentPredictionsAgree'
