#!/usr/bin/env bash
# The test suite again under memory checkers:
#   1. every Swift test (`swift test`) built with AddressSanitizer (leak checking on) and the C
#      targets (protobuf-c's generated code, the PNG/JPEG wrappers, the CPU probe) also with
#      UndefinedBehaviorSanitizer, in the scratch directory .build-asan. swiftc has no UBSan on
#      Linux, so Swift code gets ASan only; Swift's own overflow and bounds checks are on in this
#      debug build and trap, which fails the run just as a sanitizer report does.
#   2. the C API tests and the C examples under valgrind's memcheck, against the release
#      libnnrt.so (with its symbol table, so reports name functions): no invalid access, no use of
#      uninitialised memory, no definite leak.
# Any sanitizer report or valgrind error fails the script.
#
# Usage: scripts/test-sanitizers.sh [MODEL]   (after scripts/build.sh; MNIST from MNIST_DIR)
#   MODEL  a 784-input model for the C examples (default: test_capi's random network)
# Environment: SANITIZERS_SKIP=asan or =valgrind skips one half (for a quick rerun of the other).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=build/tests/sanitizers
mkdir -p "$out"
failures=0
bad() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
skip=${SANITIZERS_SKIP:-}

# --- 1. swift test under ASan (+ UBSan for C) ------------------------------------------------
if [ "$skip" != asan ]; then
  echo "== swift test under AddressSanitizer (C targets also UndefinedBehaviorSanitizer)"
  flags=(--scratch-path .build-asan --sanitize=address
         -Xcc -fsanitize=undefined -Xcc -fno-sanitize-recover=undefined
         -Xswiftc -Xclang-linker -Xswiftc -fsanitize=undefined)
  # XCTest's runner (which finds no XCTest tests here: the suites use Swift Testing) keeps a few
  # objects alive at exit; nothing of nnrt's is suppressed.
  printf 'leak:libXCTest.so\n' > "$out/lsan.supp"
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1:detect_stack_use_after_return=0
  export LSAN_OPTIONS=suppressions=$root/$out/lsan.supp:print_suppressions=0
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  if swift build --build-tests "${flags[@]}" > "$out/asan-build.log" 2>&1; then
    swift test --skip-build "${flags[@]}" > "$out/asan-test.log" 2>&1
    rc=$?
    grep -E "Test run with|passed after [0-9.]+ seconds\.$" "$out/asan-test.log" | tail -1
    if [ $rc -ne 0 ] || grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: UndefinedBehaviorSanitizer" "$out/asan-test.log"; then
      grep -E -A30 "ERROR: (Address|Leak)Sanitizer|runtime error:|✘" "$out/asan-test.log" | head -80
      bad "swift test under ASan/UBSan (log: $out/asan-test.log)"
    fi
  else
    tail -30 "$out/asan-build.log"
    bad "ASan build (log: $out/asan-build.log)"
  fi
  unset ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS
fi

# --- 2. C tests and examples under valgrind ---------------------------------------------------
if [ "$skip" != valgrind ]; then
  echo "== C API tests and C examples under valgrind"
  if ! command -v valgrind >/dev/null; then
    bad "valgrind is not installed (scripts/install-deps.sh installs it)"
  elif [ ! -x build/tests/test_capi ] || [ ! -x build/examples/classify_idx ]; then
    bad "build/tests/test_capi or the C examples are missing: run scripts/test-c.sh first"
  else
    # The shipped library is stripped; valgrind gets the same build with its symbol table (its
    # DWARF 5 debug info is dropped: Debian's valgrind 3.19 cannot read it).
    unstripped=$(ls .build-dist/release/libnnrt.so 2>/dev/null || true)
    symlib=$out/lib
    mkdir -p "$symlib"
    if [ -n "$unstripped" ]; then
      strip --strip-debug -o "$symlib/libnnrt.so" "$unstripped"
    else
      cp build/lib/libnnrt.so "$symlib/libnnrt.so"
    fi
    # The programs ask the loader for the SONAME (libnnrt.so.0.MINOR), not libnnrt.so.
    ln -sfn libnnrt.so "$symlib/$(scripts/version.sh --soname)"
    vg=(valgrind -q --error-exitcode=3 --leak-check=full --show-leak-kinds=definite
        --errors-for-leak-kinds=definite --suppressions=scripts/valgrind-swift.supp)
    run_vg() {  # run_vg NAME COMMAND...
      local name=$1; shift
      if LD_LIBRARY_PATH="$root/$symlib" "${vg[@]}" "$@" > "$out/$name.valgrind.log" 2>&1; then
        echo "   $name: clean ($(tail -1 "$out/$name.valgrind.log"))"
      else
        head -60 "$out/$name.valgrind.log"
        bad "$name under valgrind (log: $out/$name.valgrind.log)"
      fi
    }
    model=${1:-build/tests/random-784-30-10.nnrt}
    [ -f "$model" ] || build/tests/test_capi --write-model "$model" >/dev/null
    mnist=${MNIST_DIR:-$root/../shared/data/mnist}
    run_vg test_capi build/tests/test_capi
    run_vg classify_one build/examples/classify_one "$model" "$mnist/t10k-images-idx3-ubyte.gz" 7
    run_vg classify_idx build/examples/classify_idx "$model" \
      "$mnist/t10k-images-idx3-ubyte.gz" "$mnist/t10k-labels-idx1-ubyte.gz"
  fi
fi

if [ $failures -ne 0 ]; then
  echo "test-sanitizers.sh: $failures failure(s)" >&2
  exit 1
fi
echo "test-sanitizers.sh: no sanitizer or valgrind reports"
