#!/usr/bin/env bash
# Shell completion of the release `nnrt`: scripts/completions.sh writes the bash, zsh and fish
# scripts, and each shell, given a partial command line, offers the expected subcommands,
# options and values. bash is required; zsh and fish are checked when installed (else skipped).
#   Tests/cli/test-completions.sh
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0; skip=0
ok()  { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

if ! "$root/scripts/completions.sh" "$tmp/completions" >"$tmp/written" 2>&1; then
  echo "FAIL scripts/completions.sh: $(cat "$tmp/written")"; exit 1
fi
for f in nnrt.bash _nnrt nnrt.fish; do
  [ -s "$tmp/completions/$f" ] && ok "completions.sh wrote $f" || bad "completions.sh did not write $f"
done

# Files for the file-name completions: model files and directories are offered, other files not.
mkdir -p "$tmp/files/models" && touch "$tmp/files/a.nnrt" "$tmp/files/notes.txt"
cd "$tmp/files"

# check SHELL LINE WANT...: completing LINE offers exactly the words WANT (sorted, space-separated).
check() {
  local shell=$1 line=$2 want=$3 got
  got=$("complete_$shell" "$line")
  if [ "$got" = "$want" ]; then ok "$shell: '$line' -> $want"; else bad "$shell: '$line' -> '$got', want '$want'"; fi
}

# --- bash: the completion function, called as bash calls it --------------------------------
complete_bash() {
  bash --norc --noprofile -c '
    source "$1"
    COMP_LINE=$2; COMP_POINT=${#2}
    read -ra COMP_WORDS <<< "$2"
    [[ "$2" == *" " ]] && COMP_WORDS+=("")
    COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
    COMPREPLY=()
    _nnrt nnrt "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
    printf "%s\n" "${COMPREPLY[@]}"' _ "$tmp/completions/nnrt.bash" "$1" | sed '/^$/d' | sort -u | tr '\n' ' ' | sed 's/ $//'
}
registered=$(bash --norc --noprofile -c 'source "$1"; complete -p nnrt' _ "$tmp/completions/nnrt.bash" 2>&1)
[[ "$registered" == *"-F _nnrt nnrt"* ]] && ok "bash: complete -p nnrt: $registered" || bad "bash: nnrt not registered: $registered"
subcommands="classify ensemble eval help import inspect mnist presets report train"
check bash "nnrt " "--help --version -h $subcommands"
check bash "nnrt tr" "train"
check bash "nnrt train --pre" "--preset"
check bash "nnrt train --preset ch6-e" "ch6-ensemble ch6-expanded"
check bash "nnrt train --cost " "cross-entropy log-likelihood quadratic"
check bash "nnrt train --evaluate-on v" "validation"
check bash "nnrt classify a.nnrt --format " "csv json table"
check bash "nnrt eval --" "--data --help --json --labels-out --limit --quiet --version"
check bash "nnrt inspect --j" "--json"
check bash "nnrt ensemble a.nnrt --voting m" "majority mean-probability"
check bash "nnrt eval " "a.nnrt models"
check bash "nnrt presets --" "--help --json --quiet --version"

# --- fish: `complete -C` lists what fish would offer -----------------------------------------
if command -v fish >/dev/null; then
  complete_fish() {
    fish --no-config -c 'source $argv[1]; complete -C $argv[2]' "$tmp/completions/nnrt.fish" "$1" | cut -f1 | sort -u | tr '\n' ' ' | sed 's/ $//'
  }
  check fish "nnrt tr" "train"
  check fish "nnrt train --preset ch6-e" "ch6-ensemble ch6-expanded"
  check fish "nnrt classify a.nnrt --format " "csv json table"
  check fish "nnrt eval --j" "--json"
else
  skip=$((skip + 1)); echo "skip fish: not installed (apt-get install fish)"
fi

# --- zsh: an interactive zsh on a pseudo-terminal, with compadd reporting what it adds --------
if command -v zsh >/dev/null; then
  cat > "$tmp/complete.zsh" <<'EOF'
zmodload zsh/zpty
dir=$1 line=$2
zpty z zsh -f -i
out=
# until_seen PATTERN: read the terminal until its output matches PATTERN (zpty -r with a pattern
# reads past line ends; the caller's timeout ends a hang).
until_seen() { local chunk; zpty -r z chunk "$1" && out+=$chunk }
zpty -w z "PROMPT=''; fpath=($dir \$fpath); autoload -U compinit; compinit -u -D"
zpty -w z 'compadd () { if (( ${@[(I)-[OAD]]} )); then builtin compadd "$@"; return; fi; local -a h; builtin compadd -O h "$@"; (( $#h )) && print -l -- "<<""<"${^h}">>>"; builtin compadd "$@" }'
# Type only once zle is reading: its prompt is on the screen (input typed earlier can be lost).
zpty -w z 'PROMPT="ZLE$((6*7))> "'
until_seen '*ZLE42> *'
out=
zpty -w -n z "$line"$'\t'
zpty -w z $'\C-u''echo DONE$((6*7))'
until_seen '*DONE42*'
zpty -d z
print -r -- "$out" | grep -ao '<<<[^>$]*>>>' | sed 's/<<<//; s/>>>//' | sort -u | tr '\n' ' ' | sed 's/ $//'
EOF
  # (An empty answer is asked for once more: a loaded machine can still lose the keystrokes.)
  complete_zsh() {
    local got
    got=$(timeout 30 zsh -f "$tmp/complete.zsh" "$tmp/completions" "$1")
    [ -n "$got" ] || got=$(timeout 30 zsh -f "$tmp/complete.zsh" "$tmp/completions" "$1")
    printf '%s' "$got"
  }
  check zsh "nnrt tr" "train"
  check zsh "nnrt " "$subcommands"
  check zsh "nnrt train --preset ch6-e" "ch6-ensemble ch6-expanded"
  check zsh "nnrt classify a.nnrt --format " "csv json table"
else
  skip=$((skip + 1)); echo "skip zsh: not installed (apt-get install zsh)"
fi

echo "$pass passed, $fail failed, $skip shells skipped"
[ "$fail" -eq 0 ]
