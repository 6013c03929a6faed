#!/usr/bin/env bash
# Reproduces the book's chapter-1 and chapter-3 runs with the release CLI and prints a table:
# preset, the book's figure, best validation accuracy (epoch), test accuracy of the final model,
# and SGD seconds per epoch. Long: run by hand, record the table in bench/RESULTS.md.
#   bench/book-runs.sh [PRESET...]      default: ch1 ch3-l2-100
#   SEEDS="1 2 3" bench/book-runs.sh    one run per seed (default: 1)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
[ -x build/bin/nnrt ] || scripts/build.sh
presets=("$@"); [ ${#presets[@]} -gt 0 ] || presets=(ch1 ch3-l2-100)
out=build/bench; mkdir -p "$out"
rows=()
for p in "${presets[@]}"; do
for seed in ${SEEDS:-1}; do
  log="$out/$p-seed$seed.log"
  echo "==> $p, seed $seed (log: $log)"
  build/bin/nnrt train --preset "$p" --seed "$seed" --out "$out/$p-seed$seed.nnrt" | tee "$log"
  book=$(build/bin/nnrt presets | awk -v p="$p" '$1 == p { print $NF; exit }')
  best=$(sed -n 's/^best \([a-z]*\): epoch \([0-9]*\), \([0-9.]*%\).*/\3 on \1 (epoch \2)/p' "$log")
  test=$(sed -n 's/^test accuracy: \([0-9.]*%\).*/\1/p' "$log")
  spe=$(sed -n 's/.*(\([0-9.]*\) s per epoch.*/\1/p' "$log")
  rows+=("| $p | $seed | ${book:--} | $best | $test | $spe |")
done
done
echo
echo "| preset | seed | book | best epoch | test accuracy, final model | SGD s/epoch |"
echo "|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
