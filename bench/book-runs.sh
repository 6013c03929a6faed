#!/usr/bin/env bash
# Reproduces the book's chapter-1 and chapter-3 runs with the release CLI and prints a table:
# preset, the book's figure, best validation accuracy (epoch), test accuracy of the final model,
# and SGD seconds per epoch. Long: run by hand, record the table in bench/RESULTS.md.
#   bench/book-runs.sh [PRESET...]      default: ch1 ch3-l2-100
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
[ -x build/bin/nnrt ] || scripts/build.sh
presets=("$@"); [ ${#presets[@]} -gt 0 ] || presets=(ch1 ch3-l2-100)
out=build/bench; mkdir -p "$out"
rows=()
for p in "${presets[@]}"; do
  log="$out/$p.log"
  echo "==> $p (log: $log)"
  build/bin/nnrt train --preset "$p" --out "$out/$p.nnrt" | tee "$log"
  book=$(build/bin/nnrt presets | awk -v p="$p" '$1 == p { for (i = 2; i <= NF; i++) if ($i ~ /%$/) { print $i; exit } }')
  best=$(grep '^best validation:' "$log" | sed 's/^best validation: //')
  test=$(grep '^test accuracy:' "$log" | sed 's/^test accuracy: //')
  spe=$(grep '^trained ' "$log" | sed -E 's/.*\(([0-9.]+) s per epoch.*/\1/')
  rows+=("| $p | ${book:--} | $best | $test | $spe |")
done
echo
echo "| preset | book | best validation (epoch) | test accuracy, final model | SGD s/epoch |"
echo "|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
