#!/usr/bin/env bash
# Writes the shell completion scripts of the nnrt command into OUTDIR:
#   OUTDIR/nnrt.bash   bash  (install as share/bash-completion/completions/nnrt)
#   OUTDIR/_nnrt       zsh   (install into a directory on $fpath, e.g. share/zsh/site-functions)
#   OUTDIR/nnrt.fish   fish  (install as share/fish/vendor_completions.d/nnrt.fish)
# They come from the command itself (`nnrt --generate-completion-script SHELL`), so they always
# match its subcommands, options and value lists (presets, costs, voting rules, ...).
#
# Usage: scripts/completions.sh [OUTDIR]     (default build/completions; NNRT=path/to/nnrt
#        picks the binary, default build/bin/nnrt)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
case "${1:-}" in
  -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
esac
out=${1:-$root/build/completions}
nnrt=${NNRT:-$root/build/bin/nnrt}
[ -x "$nnrt" ] || { echo "completions.sh: $nnrt not found: run scripts/build.sh first (or set NNRT)" >&2; exit 66; }
mkdir -p "$out"
for pair in bash:nnrt.bash zsh:_nnrt fish:nnrt.fish; do
  shell=${pair%%:*} file=$out/${pair#*:}
  "$nnrt" --generate-completion-script "$shell" > "$file.tmp"
  [ -s "$file.tmp" ] || { echo "completions.sh: nnrt wrote an empty $shell script" >&2; rm -f "$file.tmp"; exit 70; }
  mv -f "$file.tmp" "$file"
  echo "$file"
done
