#!/usr/bin/env bash
# A/B of two libnnrt builds in one process, call by call (abin.c), for judging a change on a
# shared, noisy machine: figures from separate runs drift by more than most changes are worth.
#
#   bench/ab/run.sh [--base REV | --a LIB] [--b LIB] [--calls N] [--cores LIST] CASE...
#
# A is the library built from git revision REV (default HEAD, built in a worktree under
# build/ab/), or the file LIB; B is build/lib/libnnrt.so (the working tree's scripts/build.sh
# --lib) or the file LIB. CASE is NETWORK:BATCH:THREADS with NETWORK a model that
# bench/peers/run.py wrote to build/bench-peers (mlp30, mlp100, conv, ch6), on the MNIST test
# images there (test-images.f32; test-images-dense.f32 with :dense appended: every pixel moved
# off zero). Example:
#
#   bench/ab/run.sh --base HEAD~1 mlp30:1:1 mlp30:1000:1 mlp100:1000:2 conv:1:1:dense
#
# It prints, per case, each build's µs per image (min, lower quartile, median) and the median
# of the ratios B / A over pairs of calls (below 1: B is faster). Baseline worktrees stay in
# build/ab for the next run; `rm -rf build/ab && git worktree prune` removes them.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$root/build/ab"
base="HEAD" lib_a="" lib_b="$root/build/lib/libnnrt.so" calls="" cores="1"
cases=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --base) base="$2"; shift 2 ;;
        --a) lib_a="$2"; shift 2 ;;
        --b) lib_b="$2"; shift 2 ;;
        --calls) calls="$2"; shift 2 ;;
        --cores) cores="$2"; shift 2 ;;
        -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
        *) cases+=("$1"); shift ;;
    esac
done
[[ ${#cases[@]} -gt 0 ]] || { echo "run.sh: name at least one case, e.g. mlp30:1000:1 (--help)" >&2; exit 2; }
peers="$root/build/bench-peers"
[[ -f "$peers/test-images.f32" ]] || {
    echo "run.sh: $peers/test-images.f32 is missing: run bench/peers/run.py once (--quick will do)" >&2; exit 2; }
[[ -f "$lib_b" ]] || { echo "run.sh: no library B at $lib_b (scripts/build.sh --lib)" >&2; exit 2; }
mkdir -p "$work/a" "$work/b"

if [[ -z "$lib_a" ]]; then
    rev="$(git -C "$root" rev-parse --verify "$base^{commit}")"
    tree="$work/tree-${rev:0:12}"
    if [[ ! -f "$tree/build/lib/libnnrt.so" ]]; then
        echo "[ab] building the library at ${rev:0:12} in $tree (a few minutes the first time)" >&2
        [[ -d "$tree" ]] || git -C "$root" worktree add --detach "$tree" "$rev" >/dev/null
        (cd "$tree" && scripts/build.sh --lib >/dev/null)
    fi
    lib_a="$tree/build/lib/libnnrt.so"
fi
# Two distinct files named as the loader expects (the soname); abin opens them by path.
cp "$lib_a" "$work/a/libnnrt.so.0.3"
cp "$lib_b" "$work/b/libnnrt.so.0.3"
gcc -O2 -Wall -o "$work/abin" "$root/bench/ab/abin.c" -ldl

echo "A: $lib_a"
echo "B: $lib_b"
for c in "${cases[@]}"; do
    IFS=: read -r net batch threads variant <<<"$c"
    inputs="$peers/test-images.f32"
    [[ "${variant:-}" == dense ]] && inputs="$peers/test-images-dense.f32"
    [[ -f "$peers/$net.nnrt" ]] || { echo "run.sh: no model $peers/$net.nnrt" >&2; exit 2; }
    # By default 200,000 images per build, in at least 200 calls (about 1 s for an MLP at
    # batch 1, 10 s for the conv net; --calls for more or fewer).
    n="${calls:-$(( 200000 / batch > 200 ? 200000 / batch : 200 ))}"
    [[ "$threads" -gt 1 && "$cores" == 1 ]] && pin="0,1" || pin="$cores"
    echo
    echo "== $net, batch $batch, $threads thread(s)${variant:+, $variant inputs}, $n calls each, cores $pin"
    taskset -c "$pin" "$work/abin" "$work/a/libnnrt.so.0.3" "$work/b/libnnrt.so.0.3" "$peers/$net.nnrt" \
        "$inputs" "$batch" "$threads" "$n" | sed 's|'"$work"'/||'
done
