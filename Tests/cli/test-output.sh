#!/usr/bin/env bash
# What the release `nnrt` prints, for people and for scripts:
# - piped: plain lines only (no carriage return, no escape sequence), one line per epoch;
# - on a terminal (a pseudo-terminal from script(1)): progress bars with images/s and the time
#   left for train (one network and an ensemble), eval and classify; no colour with NO_COLOR; no
#   bar at all with TERM=dumb or --quiet;
# - --json on every command: standard output is JSON only, one object per line, with the
#   documented fields; --quiet prints only the results;
# - exit statuses: the same table in every command's --help, and each status where it belongs.
#   Tests/cli/test-output.sh MODEL      MODEL: a small trained MNIST model
# Needs python3, script(1) (util-linux) and MNIST_DIR (or the download cache).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
nnrt="$root/build/bin/nnrt"
model=$1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0
ok()  { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
CR=$'\r' ESC=$'\e'

# run NAME COMMAND...: runs COMMAND with stdout and stderr piped into $tmp/NAME.out / .err.
run() { local name=$1; shift; "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"; echo $? >"$tmp/$name.status"; }
status() { cat "$tmp/$1.status"; }
# on_tty NAME [ENV=VALUE...] -- COMMAND...: runs COMMAND on a pseudo-terminal (stdout and stderr
# both the terminal), the terminal's output into $tmp/NAME.tty.
on_tty() {
  local name=$1; shift
  local envs=()
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done; shift
  local cmd; printf -v cmd '%q ' "$@"
  env TERM=xterm COLUMNS=100 "${envs[@]}" script -qec "$cmd" /dev/null >"$tmp/$name.tty" 2>&1 </dev/null
  echo $? >"$tmp/$name.status"
}
has() { grep -qF -- "$2" "$tmp/$1"; }
# json_lines FILE [MIN]: every line of FILE is one JSON object (at least MIN lines).
json_lines() {
  python3 -c '
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) >= int(sys.argv[2]), f"{len(lines)} lines"
for l in lines:
    assert isinstance(json.loads(l), dict), l' "$1" "${2:-1}"
}

# Slow enough work that a bar shows (it appears after 0.25 s, and is redrawn at most every 0.1 s):
# a small conv net on 8,000 images, an ensemble of six of it for eval, classify on one thread.
conv=(--layers convpool20x5,fc100,softmax10 --train-limit 8000 --seed 4)
"$nnrt" train "${conv[@]}" --epochs 1 --quiet --out "$tmp/conv.nnrt" >/dev/null || { echo "FAIL cannot train the conv net"; exit 1; }
"$nnrt" ensemble "$tmp/conv.nnrt" "$tmp/conv.nnrt" "$tmp/conv.nnrt" "$tmp/conv.nnrt" "$tmp/conv.nnrt" "$tmp/conv.nnrt" \
  --quiet --out "$tmp/conv6.nnrt" || { echo "FAIL cannot build an ensemble"; exit 1; }
"$root/build/bin/nnrt-testimages" --out "$tmp/images" --count 600 >/dev/null 2>&1 || { echo "FAIL nnrt-testimages"; exit 1; }

# --- Piped: plain lines ----------------------------------------------------------------------
run piped "$nnrt" train "${conv[@]}" --epochs 2 --out "$tmp/p.nnrt"
if [ "$(status piped)" = 0 ] && ! grep -q "[$CR$ESC]" "$tmp/piped.out" "$tmp/piped.err"; then
  ok "train piped: no carriage return or escape on stdout or stderr"
else bad "train piped: status $(status piped), control characters: $(grep -c "[$CR$ESC]" "$tmp/piped.out" "$tmp/piped.err")"; fi
[ "$(grep -c '^Epoch [0-9]*: ' "$tmp/piped.out")" = 2 ] && ok "train piped: one line per epoch" || bad "train piped: $(cat "$tmp/piped.out")"
run piped-eval "$nnrt" eval "$tmp/conv6.nnrt"
! grep -q "[$CR$ESC]" "$tmp/piped-eval.out" "$tmp/piped-eval.err" && ok "eval piped: plain" || bad "eval piped has control characters"
run piped-cls "$nnrt" classify "$tmp/conv.nnrt" "$tmp/images/scanned"
! grep -q "[$CR$ESC]" "$tmp/piped-cls.out" "$tmp/piped-cls.err" && ok "classify piped: plain" || bad "classify piped has control characters"

# --- On a terminal: bars ---------------------------------------------------------------------
on_tty tty-train -- "$nnrt" train "${conv[@]}" --epochs 2 --out "$tmp/t.nnrt"
if [ "$(status tty-train)" = 0 ] && has tty-train.tty "$CR" && grep -qE 'Epoch 1/2 .*img/s' "$tmp/tty-train.tty" \
   && grep -q 'ETA [0-9]*:[0-9][0-9]' "$tmp/tty-train.tty"; then
  ok "train on a terminal: a bar with the epoch, images/s and ETA"
else bad "train on a terminal: $(tr '\r' '\n' < "$tmp/tty-train.tty" | head -c 600)"; fi
grep -q 'ETA [0-9:]*, run [0-9:]*' "$tmp/tty-train.tty" && ok "train on a terminal: the run's time left in epoch 1" \
  || bad "train on a terminal: no run ETA"
has tty-train.tty "$ESC[36m" && ok "train on a terminal: coloured bar" || bad "train on a terminal: no colour"
tr '\r' '\n' < "$tmp/tty-train.tty" | grep -q '^Epoch 2: [0-9]* / 10000' && ok "train on a terminal: the book's epoch lines" \
  || bad "train on a terminal: no epoch line"
on_tty tty-nocolor NO_COLOR=1 -- "$nnrt" train "${conv[@]}" --epochs 1 --out "$tmp/t.nnrt"
has tty-nocolor.tty "$CR" && ! has tty-nocolor.tty "$ESC" && ok "NO_COLOR: a bar without escape sequences" \
  || bad "NO_COLOR: $(cat -v "$tmp/tty-nocolor.tty" | head -c 300)"
on_tty tty-dumb TERM=dumb -- "$nnrt" train "${conv[@]}" --epochs 1 --out "$tmp/t.nnrt"
[ "$(tr -d '\r' < "$tmp/tty-dumb.tty" | grep -c .)" = "$(grep -c . "$tmp/tty-dumb.tty")" ] && ! grep -q "$CR[^$]" "$tmp/tty-dumb.tty" \
  && ! has tty-dumb.tty "$ESC" && grep -q '^Epoch 1: ' "$tmp/tty-dumb.tty" \
  && ok "TERM=dumb: plain lines only" || bad "TERM=dumb: $(cat -v "$tmp/tty-dumb.tty" | head -c 300)"
on_tty tty-quiet -- "$nnrt" train "${conv[@]}" --epochs 1 --quiet --out "$tmp/t.nnrt"
! grep -q "img/s" "$tmp/tty-quiet.tty" && ! grep -q '^Epoch' "$tmp/tty-quiet.tty" && grep -q 'test accuracy' "$tmp/tty-quiet.tty" \
  && ok "--quiet on a terminal: no bar, no epoch lines, the summary" || bad "--quiet on a terminal: $(cat -v "$tmp/tty-quiet.tty" | head -c 300)"
on_tty tty-ens -- "$nnrt" train "${conv[@]}" --epochs 1 --ensemble 3 --threads 2 --out "$tmp/e.nnrt"
grep -qE 'Ensemble of 3 .* (m[0-9] e1|[0-9] running)' "$tmp/tty-ens.tty" && grep -q 'waiting' "$tmp/tty-ens.tty" \
  && tr '\r' '\n' < "$tmp/tty-ens.tty" | grep -q '^member 3: Epoch 1: ' \
  && ok "ensemble on a terminal: one combined bar (running and waiting members), member lines" \
  || bad "ensemble on a terminal: $(tr '\r' '\n' < "$tmp/tty-ens.tty" | head -c 600)"
on_tty tty-eval -- "$nnrt" eval "$tmp/conv6.nnrt"
grep -qE '[0-9,]+/10,000 images +[0-9.]+k? images/s +ETA' "$tmp/tty-eval.tty" && tr '\r' '\n' < "$tmp/tty-eval.tty" | grep -q '^accuracy: ' \
  && ok "eval on a terminal: a bar with images/s and ETA" || bad "eval on a terminal: $(tr '\r' '\n' < "$tmp/tty-eval.tty" | head -c 400)"
on_tty tty-cls -- "$nnrt" classify "$tmp/conv.nnrt" "$tmp/images/scanned" --threads 1
grep -qE '[0-9,]+/[0-9,]+ files +[0-9.]+k? files/s +ETA' "$tmp/tty-cls.tty" \
  && ok "classify on a terminal: a bar with files/s and ETA" || bad "classify on a terminal: $(tr '\r' '\n' < "$tmp/tty-cls.tty" | head -c 400)"
on_tty tty-cls-q -- "$nnrt" classify "$tmp/conv.nnrt" "$tmp/images/scanned" -q
! grep -q 'files/s' "$tmp/tty-cls-q.tty" && ok "classify -q on a terminal: no bar" || bad "classify -q shows a bar"
on_tty tty-err -- "$nnrt" eval "$tmp/missing.nnrt"
[ "$(status tty-err)" = 66 ] && has tty-err.tty "nnrt: $ESC[1;31merror:$ESC[0m" && ok "errors on a terminal: 'error:' in red" \
  || bad "error on a terminal: $(cat -v "$tmp/tty-err.tty")"
on_tty tty-err-nc NO_COLOR=1 -- "$nnrt" eval "$tmp/missing.nnrt"
! has tty-err-nc.tty "$ESC" && has tty-err-nc.tty "nnrt: error:" && ok "errors with NO_COLOR: plain" || bad "error with NO_COLOR: $(cat -v "$tmp/tty-err-nc.tty")"

# --- --json: standard output is JSON, one object per line ------------------------------------
run j-train "$nnrt" train --sizes 784,20,10 --epochs 3 --train-limit 2000 --json --out "$tmp/j.nnrt"
if [ "$(status j-train)" = 0 ] && json_lines "$tmp/j-train.out" 5 && python3 - "$tmp/j-train.out" "$tmp/j.nnrt" <<'PY'
import json, sys
events = [json.loads(l) for l in open(sys.argv[1])]
assert [e["event"] for e in events] == ["start", "epoch", "epoch", "epoch", "result"], events
assert events[0]["epochs"] == 3 and events[0]["training_images"] == 2000 and events[0]["output"] == sys.argv[2]
assert [e["epoch"] for e in events[1:4]] == [1, 2, 3]
ev = events[1]["evaluation"]
assert ev["total"] == 10000 and 0 <= ev["correct"] <= 10000 and abs(ev["accuracy"] - ev["correct"] / 10000) < 1e-12
r = events[-1]
assert r["output"] == sys.argv[2] and r["kind"] == "network" and r["epochs_trained"] == 3
assert r["test"]["total"] == 10000 and r["best"]["set"] == "test" and len(r["weights_sha256"]) == 64
assert r["seconds"] > 0 and r["seconds_per_epoch"] > 0
PY
then ok "train --json: start, one object per epoch, result (fields checked)"; else bad "train --json: $(head -c 600 "$tmp/j-train.out")"; fi
run j-train-q "$nnrt" train --sizes 784,20,10 --epochs 1 --train-limit 500 --json --quiet --out "$tmp/jq.nnrt"
[ "$(wc -l < "$tmp/j-train-q.out")" = 1 ] && json_lines "$tmp/j-train-q.out" && grep -q '"event":"result"' "$tmp/j-train-q.out" \
  && ok "train --json --quiet: only the result object" || bad "train --json --quiet: $(cat "$tmp/j-train-q.out")"
digest=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readlines()[-1])["weights_sha256"])' "$tmp/j-train.out")
"$nnrt" inspect "$tmp/j.nnrt" | grep -q "sha256 $digest" && ok "train --json: weights_sha256 is inspect's digest" || bad "train --json: digest differs"
run j-ens "$nnrt" train --sizes 784,10,10 --epochs 2 --train-limit 500 --ensemble 2 --threads 2 --json --out "$tmp/je.nnrt"
if [ "$(status j-ens)" = 0 ] && json_lines "$tmp/j-ens.out" 6 && python3 - "$tmp/j-ens.out" <<'PY'
import json, sys
events = [json.loads(l) for l in open(sys.argv[1])]
epochs = [(e["member"], e["epoch"]) for e in events if e["event"] == "epoch"]
assert sorted(epochs) == [(1, 1), (1, 2), (2, 1), (2, 2)], epochs
r = events[-1]
assert r["event"] == "result" and r["kind"] == "ensemble" and [m["member"] for m in r["members"]] == [1, 2]
assert set(r["test"]) == {"majority", "mean-probability"} and r["voting"] == "majority"
PY
then ok "train --ensemble --json: member epochs and the result with both votes"; else bad "train --ensemble --json: $(head -c 600 "$tmp/j-ens.out")"; fi
run j-eval "$nnrt" eval "$model" --json
if [ "$(status j-eval)" = 0 ] && python3 -m json.tool "$tmp/j-eval.out" >/dev/null && python3 - "$tmp/j-eval.out" <<'PY'
import json, sys
e = json.load(open(sys.argv[1]))
assert e["images"] == 10000 and e["kind"] == "network" and e["voting"] is None
assert sum(map(sum, e["confusion"])) == 10000 and sum(e["confusion"][i][i] for i in range(10)) == e["correct"]
assert len(e["recall"]) == 10 and e["class_labels"] == [str(d) for d in range(10)]
PY
then ok "eval --json: one object, confusion matrix agrees with the count"; else bad "eval --json: $(head -c 300 "$tmp/j-eval.out")"; fi
acc=$(python3 -c 'import json,sys; e=json.load(open(sys.argv[1])); print("%.2f%% (%d/%d)" % (100*e["accuracy"], e["correct"], e["images"]))' "$tmp/j-eval.out")
[ "$("$nnrt" eval "$model" -q)" = "accuracy: $acc" ] && ok "eval -q: only the accuracy line, the same figure as --json" || bad "eval -q: $("$nnrt" eval "$model" -q)"
for cmd in "inspect $model" "inspect $tmp/conv6.nnrt" "ensemble $model $model --out $tmp/j2.nnrt" "mnist"; do
  # shellcheck disable=SC2086
  run j-one "$nnrt" $cmd --json
  [ "$(status j-one)" = 0 ] && [ "$(wc -l < "$tmp/j-one.out")" = 1 ] && python3 -m json.tool "$tmp/j-one.out" >/dev/null \
    && ok "$cmd --json: one JSON object" || bad "$cmd --json: $(head -c 300 "$tmp/j-one.out") $(head -c 300 "$tmp/j-one.err")"
done
python3 - "$tmp/net2.json" <<'PY'
import json, sys
sizes = [784, 4, 10]
json.dump({"sizes": sizes, "cost": "CrossEntropyCost",
           "weights": [[[0.01] * sizes[l] for _ in range(sizes[l + 1])] for l in range(2)],
           "biases": [[[0.0] for _ in range(sizes[l + 1])] for l in range(2)]}, open(sys.argv[1], "w"))
PY
run j-import "$nnrt" import "$tmp/net2.json" --out "$tmp/net2.nnrt" --json
python3 -c 'import json,sys; o=json.load(open(sys.argv[1])); assert o["sizes"]==[784,4,10] and o["parameters"]==784*4+4+40+10, o' "$tmp/j-import.out" \
  && ok "import --json: sizes and parameter count" || bad "import --json: $(cat "$tmp/j-import.out" "$tmp/j-import.err")"
run j-presets "$nnrt" presets --json
json_lines "$tmp/j-presets.out" 20 && [ "$(wc -l < "$tmp/j-presets.out")" = "$("$nnrt" presets -q | wc -l)" ] \
  && ok "presets --json: one object per preset" || bad "presets --json"
run j-cls "$nnrt" classify "$model" "$tmp/images/scanned" "$tmp/images/broken" --json
if [ "$(status j-cls)" = 1 ] && json_lines "$tmp/j-cls.out" 600 && python3 - "$tmp/j-cls.out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
good = [r for r in rows if "error" not in r]
assert len(good) == 600 and all(set(r) >= {"path", "label", "confidence", "top", "flags"} for r in good)
assert all(set(r) >= {"path", "error", "status"} for r in rows if "error" in r) and len(rows) > 600
PY
then ok "classify --json: one object per file (status 1: some broken)"; else bad "classify --json: status $(status j-cls) $(head -c 300 "$tmp/j-cls.out")"; fi
cmp -s "$tmp/j-cls.out" <("$nnrt" classify "$model" "$tmp/images/scanned" "$tmp/images/broken" --format json 2>/dev/null) \
  && ok "classify --json is --format json" || bad "classify --json differs from --format json"

# --- --quiet: results only -------------------------------------------------------------------
for cmd in "inspect $model" "ensemble $model $model --out $tmp/q2.nnrt" "import $tmp/net2.json --out $tmp/q3.nnrt" "mnist"; do
  # shellcheck disable=SC2086
  run q "$nnrt" $cmd --quiet
  [ "$(status q)" = 0 ] && [ ! -s "$tmp/q.out" ] && [ ! -s "$tmp/q.err" ] && ok "$cmd --quiet: silent success" \
    || bad "$cmd --quiet: status $(status q): $(head -c 200 "$tmp/q.out" "$tmp/q.err")"
done
run q-bad "$nnrt" inspect "$tmp/net2.json" -q
[ "$(status q-bad)" = 65 ] && grep -q '^nnrt: error: ' "$tmp/q-bad.err" && ok "inspect -q of a bad file: status 65 and the error" || bad "inspect -q of a bad file: $(status q-bad)"
[ "$("$nnrt" presets -q | head -1)" = ch1 ] && ! "$nnrt" presets -q | grep -q ' ' && ok "presets -q: the names only" || bad "presets -q"

# --- Exit statuses ---------------------------------------------------------------------------
for sub in "" train eval classify inspect import ensemble presets mnist; do
  # shellcheck disable=SC2086
  help=$("$nnrt" $sub --help)
  missing=""
  for code in 0 1 64 65 66 69 70 73 130 143; do
    grep -qE "^ +$code +[A-Za-z]" <<<"$help" || missing+=" $code"
  done
  [ -z "$missing" ] && ok "nnrt $sub --help lists every exit status" || bad "nnrt $sub --help lacks exit status$missing"
done
# expect STATUS PATTERN COMMAND...: the status, and the one-line error on stderr.
expect() {
  local want=$1 pattern=$2; shift 2
  "$@" >"$tmp/x.out" 2>"$tmp/x.err"; local got=$?
  if [ "$got" = "$want" ] && grep -qE -- "$pattern" "$tmp/x.err"; then ok "$(basename "$1") ${*:2} -> $want"
  else bad "$(basename "$1") ${*:2} -> $got, want $want /$pattern/: $(head -c 300 "$tmp/x.err")"; fi
}
# (With the required arguments given: ArgumentParser names a missing one first.)
for args in "train --out $tmp/x.nnrt" "eval $model" "classify $model x.png" "inspect $model" "import x.json --out x.nnrt" \
            "ensemble $model --out x.nnrt" presets mnist; do
  # shellcheck disable=SC2086
  expect 64 "^nnrt: error: Unknown option '--no-such-flag'" "$nnrt" $args --no-such-flag
done
expect 64 "^nnrt: error: Missing expected argument '--out" "$nnrt" train --preset ch1
expect 64 "^nnrt: error: Unexpected argument 'trian'" "$nnrt" trian
expect 64 '^nnrt: error: --json and --format csv ask for different outputs' "$nnrt" classify "$model" x.png --json --format csv
expect 66 '^nnrt: error: .*missing.nnrt' "$nnrt" eval "$tmp/missing.nnrt"
expect 66 '^nnrt: error: .*missing.nnrt' "$nnrt" classify "$tmp/missing.nnrt" x.png
expect 66 '^nnrt: error: .*missing.nnrt' "$nnrt" ensemble "$tmp/missing.nnrt" --out "$tmp/x.nnrt"
expect 66 '^nnrt: error: .*missing.nnrt' "$nnrt" train --from "$tmp/missing.nnrt" --out "$tmp/x.nnrt"
expect 66 '^nnrt: error: .*missing.json' "$nnrt" import "$tmp/missing.json" --out "$tmp/x.nnrt"
expect 65 '^nnrt: error: ' "$nnrt" eval "$tmp/net2.json"
expect 65 '^nnrt: error: ' "$nnrt" ensemble "$model" "$tmp/net2.json" --out "$tmp/x.nnrt"
expect 73 '^nnrt: error: cannot write' "$nnrt" ensemble "$model" --out "$tmp/no/dir/x.nnrt"
expect 73 '^nnrt: error: cannot write' "$nnrt" import "$tmp/net2.json" --out "$tmp/no/dir/x.nnrt"
expect 73 '^nnrt: error: cannot write' "$nnrt" eval "$model" --labels-out "$tmp/no/dir/labels.txt"
expect 73 '^nnrt: error: cannot write' "$nnrt" train --epochs 1 --train-limit 10 --out "$tmp/no/dir/x.nnrt"
expect 1 'could not be classified' "$nnrt" classify "$model" "$tmp/images/broken"
# MNIST that cannot be fetched: an empty cache and a mirror that refuses connections.
expect 69 '^nnrt: error: could not fetch' env -u MNIST_DIR NNRT_CACHE_DIR="$tmp/cache" NNRT_MNIST_MIRRORS=http://127.0.0.1:9/ "$nnrt" mnist
expect 69 '^nnrt: error: could not fetch' env -u MNIST_DIR NNRT_CACHE_DIR="$tmp/cache" NNRT_MNIST_MIRRORS=http://127.0.0.1:9/ "$nnrt" eval "$model"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
