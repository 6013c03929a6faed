#!/usr/bin/env bash
# Builds and runs libnnrt's libFuzzer harnesses (fuzz/Sources/fuzz-*, README "Fuzzing"):
#   model       nnrt_model_load_from_memory, then every introspection and prediction function
#   image       nnrt_model_classify_image / nnrt_model_preprocess_image (PNG, JPEG + EXIF, PGM/PPM)
#   checkpoint  Checkpoint.decode (nnrt train --resume), with the CRC-32 fixed up
#
# Usage: scripts/fuzz.sh [--time SECONDS | --runs N] [--jobs J] [--replay] [--no-build] [harness...]
#   --time S    fuzz each harness for S seconds (default 60)
#   --runs N    fuzz each harness for N executions instead (split between the jobs)
#   --jobs J    J fuzzing processes per harness at once (default 1; one per core), sharing the
#               corpus (each picks up what the others find); runs and rates are their sums
#   --replay    only run fuzz/regressions/<harness>/* once each (no fuzzing)
#   --no-build  use the harnesses already built in .build-fuzz
#   harness     model, image, checkpoint (default: all three, one after the other)
# Environment: FUZZ_FLAGS adds libFuzzer flags (e.g. "-jobs=2 -workers=2"); NICE (default 5).
#
# The harnesses and the whole library (Swift and C targets) are built with coverage
# instrumentation, AddressSanitizer and LeakSanitizer (swift build --sanitize=fuzzer
# --sanitize=address into .build-fuzz; NNRT_FUZZ=1 adds the harness targets to Package.swift).
# Each run first replays fuzz/regressions/<harness>/, then fuzzes from a corpus kept in
# .build-fuzz/corpus/<harness> (it grows between runs), seeded with files the harness writes with
# the project's own encoders (.build-fuzz/seeds/<harness>) and with the regressions. A crash, hang
# (-timeout), leak or out-of-memory (-rss_limit_mb, -malloc_limit_mb) stops the harness and leaves
# the input in .build-fuzz/artifacts/<harness>/; fix it, then keep it in fuzz/regressions/<harness>/
# with a test. Exit status: 0 if nothing was found, 1 if a harness failed, 2 for bad usage.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

all=(model image checkpoint)
mode=time limit=60 jobs=1 replay_only=0 build=1 harnesses=()
while [ $# -gt 0 ]; do
  case "$1" in
    --time) mode=time; limit=${2:?--time needs seconds}; shift ;;
    --runs) mode=runs; limit=${2:?--runs needs a count}; shift ;;
    --jobs) jobs=${2:?--jobs needs a count}; shift ;;
    --replay) replay_only=1 ;;
    --no-build) build=0 ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    model|image|checkpoint) harnesses+=("$1") ;;
    *) echo "fuzz.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[[ "$limit" =~ ^[0-9]+$ ]] || { echo "fuzz.sh: --time/--runs needs a whole number, got '$limit'" >&2; exit 2; }
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: --jobs needs a whole number of at least 1, got '$jobs'" >&2; exit 2; }
[ ${#harnesses[@]} -gt 0 ] || harnesses=("${all[@]}")
nice=${NICE:-5}

# Per harness: the longest input (-max_len), and the per-input time limit in seconds. Seeds are
# up to 1.3 KB (model), 7.8 KB (image) and 3.4 KB (checkpoint).
max_len() { case "$1" in model) echo 8192 ;; image) echo 32768 ;; checkpoint) echo 16384 ;; esac; }
timeout_s=10
rss_mb=2048
# The largest single allocation an input may make. Images: a PNG at the 40-megapixel limit in
# 16-bit RGBA decodes into 320 MB; a larger block is a bug, and failing on the malloc itself names
# the input and the call stack (a peak over -rss_limit_mb is only noticed up to a second later).
malloc_mb() { case "$1" in image) echo 640 ;; *) echo $rss_mb ;; esac; }

scratch=.build-fuzz
build_flags=(-c release --scratch-path "$scratch" --sanitize=fuzzer --sanitize=address
             # SwiftPM passes the two sanitizers to swiftc as separate -sanitize= flags, of which
             # the Swift driver keeps only the last (address): without this the Swift code would
             # get no coverage instrumentation. Clang (the C targets) takes both.
             -Xswiftc -sanitize=fuzzer,address
             # Images of at most 65,536 pixels instead of 40 million (ImageLimits.default): a
             # decoded image's per-pixel loops, under coverage tracing and ASan, otherwise
             # dominate the run time (at a 1-megapixel limit an evolved corpus ran at about
             # 200 inputs/s). Recognition's JPEG decoding at reduced size keeps a shorter side
             # of 32 instead of 256, so that it is reached within the limit. Nothing else changes.
             -Xswiftc -DNNRT_FUZZ_IMAGE_LIMITS)
if [ $build = 1 ]; then
  for h in "${harnesses[@]}"; do
    echo "== building fuzz-$h"
    NNRT_FUZZ=1 nice -n "$nice" swift build "${build_flags[@]}" --product "fuzz-$h"
  done
fi
bin=$(NNRT_FUZZ=1 swift build "${build_flags[@]}" --show-bin-path)

# Swift's own crash reporter would catch the signals libFuzzer and the sanitizers report on.
export SWIFT_BACKTRACE=enable=no
# Leaks are errors (LeakSanitizer runs after every input that allocated more than it freed).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1:handle_abort=1}

failures=0
summary=()
for h in "${harnesses[@]}"; do
  exe="$bin/fuzz-$h"
  [ -x "$exe" ] || { echo "fuzz.sh: $exe not built (run without --no-build)" >&2; exit 2; }
  regressions="fuzz/regressions/$h"
  seeds="$scratch/seeds/$h"
  corpus="$scratch/corpus/$h"
  artifacts="$scratch/artifacts/$h"
  log="$scratch/logs/$h.log"
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"

  echo "== fuzz-$h: replaying $regressions"
  shopt -s nullglob
  kept=("$regressions"/*)
  shopt -u nullglob
  if [ ${#kept[@]} -gt 0 ]; then
    # The same limits as fuzzing, so that an input kept for allocating without bound fails again
    # if the fix is undone.
    if ! nice -n "$nice" "$exe" -rss_limit_mb=$rss_mb -malloc_limit_mb="$(malloc_mb "$h")" -timeout=$timeout_s \
        "${kept[@]}" > "$log.replay" 2>&1; then
      tail -40 "$log.replay" >&2
      echo "FAIL: fuzz-$h: a kept regression input fails again (log: $log.replay)" >&2
      failures=$((failures + 1))
      summary+=("fuzz-$h: REGRESSION FAILED")
      continue
    fi
    echo "   ${#kept[@]} inputs, all pass"
  fi
  if [ $replay_only = 1 ]; then
    if [ ${#kept[@]} -gt 0 ]; then summary+=("fuzz-$h: ${#kept[@]} regression inputs pass"); else summary+=("fuzz-$h: no regression inputs kept"); fi
    continue
  fi

  rm -rf "$seeds"; mkdir -p "$seeds"
  NNRT_FUZZ_WRITE_SEEDS="$seeds" "$exe" > /dev/null
  if [ $mode = time ]; then budget=(-max_total_time="$limit"); else budget=(-runs="$(( (limit + jobs - 1) / jobs ))"); fi
  echo "== fuzz-$h: ${mode} ${limit}, $jobs job(s) (corpus $corpus, log $log)"
  # One log per job ($log for one job, $log.1 ... $log.J for several); each job its own seed.
  logs=()
  pids=()
  for j in $(seq 1 "$jobs"); do
    if [ "$jobs" = 1 ]; then jlog=$log; else jlog=$log.$j; fi
    logs+=("$jlog")
    # shellcheck disable=SC2086  # FUZZ_FLAGS is a list of flags
    nice -n "$nice" "$exe" "${budget[@]}" -max_len="$(max_len "$h")" -timeout=$timeout_s \
      -rss_limit_mb=$rss_mb -malloc_limit_mb="$(malloc_mb "$h")" -dict="fuzz/dict/$h.dict" \
      -artifact_prefix="$artifacts/" -print_final_stats=1 ${FUZZ_FLAGS:-} \
      "$corpus" "$seeds" ${kept[0]:+"$regressions"} > "$jlog" 2>&1 &
    pids+=($!)
  done
  status=0
  set +e
  for p in "${pids[@]}"; do
    wait "$p"; job_status=$?
    [ $job_status -ne 0 ] && [ $status -eq 0 ] && status=$job_status
  done
  set -e
  runs=0 rate=0
  for jlog in "${logs[@]}"; do
    r=$(sed -n 's/^stat::number_of_executed_units: *//p' "$jlog" | tail -1)
    e=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$jlog" | tail -1)
    runs=$((runs + ${r:-0})); rate=$((rate + ${e:-0}))
  done
  cov=$(cat "${logs[@]}" | grep -aoE 'cov: [0-9]+ ft: [0-9]+' | sort -t' ' -k2,2n -k4,4n | tail -1)
  log=${logs[0]}
  for jlog in "${logs[@]}"; do grep -qa 'ERROR\|Test unit written\|deadly signal' "$jlog" && log=$jlog; done
  files=$(find "$corpus" -type f | wc -l)
  line="fuzz-$h: ${runs:-?} runs, ${rate:-?} exec/s, ${cov:-cov: ?}, corpus $files files"
  if [ $status -ne 0 ]; then
    grep -aE '^==[0-9]+==ERROR|^SUMMARY|ERROR: libFuzzer|invariant broken|deadly signal|Test unit written' "$log" | head -12 >&2 || true
    echo "FAIL: fuzz-$h stopped with status $status; input(s) in $artifacts/, full log $log" >&2
    echo "  reproduce: SWIFT_BACKTRACE=enable=no $exe $artifacts/<file>  ($(grep -a -m1 -o 'Seed: [0-9]*' "$log" || echo 'seed unknown'))" >&2
    failures=$((failures + 1))
    line="$line: FAILED (status $status)"
  fi
  echo "   $line"
  summary+=("$line")
done

echo "fuzz.sh: summary"
for s in "${summary[@]}"; do echo "  $s"; done
[ $failures -eq 0 ] || { echo "fuzz.sh: $failures harness(es) failed" >&2; exit 1; }
