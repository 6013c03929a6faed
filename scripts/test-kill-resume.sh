#!/usr/bin/env bash
# Kill-and-resume test of `nnrt train`: an interruption at any moment must cost at most the
# work since the last checkpoint, and never the run.
#
#   scripts/test-kill-resume.sh NNRT_BINARY
#
# 1. Trains a small run uninterrupted (ch1 on a training subset, a second or two) for reference.
# 2. KILL_POINTS (20) times: starts the same run with --checkpoint (and frequent checkpoints
#    within epochs), kills it with SIGKILL at a random moment (every fifth kill point while it
#    starts up, the others from its "training ..." line to a little past the measured length of
#    its training), checks that every checkpoint and model file present loads (`nnrt inspect` checks a
#    checkpoint's CRC and every section), then resumes (`nnrt train --resume`; a run killed
#    before its first checkpoint starts again) until the model is written; every third kill
#    point also kills the first resume at a random moment. The final model must equal the
#    reference: the SHA-256 of the weights and the per-epoch history (all but the wall times).
# 3. SIGINT and SIGTERM during training (with --checkpoint, and a double SIGINT without it):
#    exit status 130 / 143, the line saying how to continue, a loadable checkpoint, no model,
#    and resuming gives the reference. The runs start with both signals at their default action
#    (a shell in the background or under nohup passes SIGINT on ignored); one run started with
#    SIGINT ignored must keep ignoring it, as is the convention, and finish normally.
# 4. An ensemble of two (two threads): a SIGKILL at a random moment and a SIGTERM, each resumed.
#
# The kill delays come from a seed printed first (KILL_SEED=N draws the same delays; where they
# land still depends on the machine's speed). MNIST comes from
# MNIST_DIR (or nnrt's download cache). Needs python3 (to compare `nnrt inspect --json` output).
# Exits non-zero on any failure.
set -uo pipefail
set -m   # job control: a background run gets SIGINT like a foreground one (else bash ignores it there)

if [ $# -ne 1 ] || [ ! -x "$1" ]; then
  echo "usage: $0 NNRT_BINARY" >&2
  exit 2
fi
nnrt=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
points=${KILL_POINTS:-20}
seed=${KILL_SEED:-$RANDOM}
RANDOM=$seed
echo "kill-and-resume test: $points kill points, seed $seed (repeat with KILL_SEED=$seed)"

tmp=$(mktemp -d)
cleanup() {
  local pids
  pids=$(jobs -p)
  [ -n "$pids" ] && kill -KILL $pids 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
t_start=$(date +%s.%N)
pass=0; fail=0
ok()  { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
now_ms() { date +%s%3N; }
sleep_ms() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }

# The run: chapter 1's network on 20,000 training images, 6 epochs, test accuracy after each.
run=(train --preset ch1 --train-limit 20000 --epochs 6 --seed 11)
every=(--checkpoint-every 0.05)     # checkpoints within epochs every 50 ms: kills land between them

# summary FILE: one line with each network's weights digest and per-epoch history without the
# wall times (the only thing allowed to differ between an interrupted run and the reference).
summary() {
  "$nnrt" inspect --json "$1" | python3 -c '
import json, sys
o = json.load(sys.stdin)
nets = [o["network"]] if "network" in o else o["ensemble"]["members"]
out = []
for n in nets:
    p = n.get("provenance", {})
    epochs = [{k: v for k, v in e.items() if k != "seconds"} for e in p.get("epochs", [])]
    out.append({"weights": n["weights_sha256"], "history": epochs, "selected": p.get("selected_epoch")})
print(json.dumps(out, sort_keys=True))'
}

# where CHECKPOINT: where the run stood, from the checkpoint.
where() {
  "$nnrt" inspect --json "$1" 2>/dev/null | python3 -c '
import json, sys
c = json.load(sys.stdin)["checkpoint"]
p = c["position_in_epoch"]
if p: print("within epoch %d (mini-batch %d of %d)" % (p["epoch"], p["mini_batches_done"], p["mini_batches_total"]))
elif c["finished"]: print("after the last epoch")
else: print("after epoch %d" % c["epochs_done"])' || echo "unreadable checkpoint"
}

# loadable OUT: every file of the run that exists loads.
loadable() {
  local out=$1 f
  for f in "$out" "$out.checkpoint" "$out".checkpoint.member*; do
    [ -e "$f" ] || continue
    case $f in *.tmp-*) continue ;; esac   # a write cut short: never read, removed by the next run
    if ! "$nnrt" inspect "$f" >/dev/null 2>"$tmp/inspect.err"; then
      echo "     $f does not load: $(head -c 300 "$tmp/inspect.err")"
      return 1
    fi
  done
  return 0
}

# finish OUT ARGS...: resumes (or, with no checkpoint and no model, restarts) until OUT exists.
finish() {
  local out=$1; shift
  local tries=0
  while [ $tries -lt 4 ]; do
    tries=$((tries + 1))
    if [ -e "$out.checkpoint" ] || [ -e "$out.checkpoint.member1" ]; then
      "$nnrt" train --resume "${every[@]}" --quiet --out "$out" >/dev/null 2>"$tmp/finish.err" \
        || { echo "     resume failed: $(head -c 300 "$tmp/finish.err")"; return 1; }
    elif [ -e "$out" ]; then
      return 0
    else
      "$nnrt" "$@" --checkpoint "${every[@]}" --quiet --out "$out" >/dev/null 2>"$tmp/finish.err" \
        || { echo "     restart failed: $(head -c 300 "$tmp/finish.err")"; return 1; }
    fi
  done
  [ -e "$out" ] && [ ! -e "$out.checkpoint" ] && [ ! -e "$out.checkpoint.member1" ]
}

# launch LOG COMMAND...: starts COMMAND in the background (output in LOG); sets pid.
launch() {
  local log=$1; shift
  : >"$log"
  "$@" >"$log" 2>&1 &
  pid=$!
}

# wait_for LOG PATTERN: waits until LOG has a line matching PATTERN (true) or the process pid has
# ended or 30 s have passed (false).
wait_for() {
  local n=0
  while ! grep -q "$2" "$1" && kill -0 "$pid" 2>/dev/null && [ $n -lt 3000 ]; do
    sleep 0.01; n=$((n + 1))
  done
  grep -q "$2" "$1"
}

# random_below N: a random number in 0..N-1 (from the seeded $RANDOM).
random_below() { echo $(( (RANDOM * 32768 + RANDOM) % ($1 > 0 ? $1 : 1) )); }

# kill_run WHEN OUT COMMAND...: starts COMMAND (not --quiet), SIGKILLs it at a random moment,
# and sets note to when and where it stood. WHEN is "startup" (from the start to the end of
# loading, before training) or "training" (after the "training ..." line, within the run's span).
kill_run() {
  local when=$1 out=$2; shift 2
  local delay
  launch "$tmp/kill.log" "$@"
  if [ "$when" = startup ]; then
    delay=$(random_below "$startup_ms")
  else
    wait_for "$tmp/kill.log" '^training '
    delay=$(random_below $((span_ms * 21 / 20)))
  fi
  sleep_ms "$delay"
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  local status=$?
  if [ "$when" = startup ]; then note="at ${delay} ms from the start:"; else note="${delay} ms into training:"; fi
  if [ "$status" -eq 0 ]; then
    note="$note the run had finished"
  elif [ -e "$out.checkpoint" ]; then
    note="$note $(where "$out.checkpoint")"
  elif [ -e "$out.checkpoint.member1" ]; then
    note="$note member 1 $(where "$out.checkpoint.member1"), member 2 $(where "$out.checkpoint.member2")"
  else
    note="$note before the first checkpoint"
  fi
}

# --- 1. the reference -------------------------------------------------------------------------
t0=$(now_ms)
if ! "$nnrt" "${run[@]}" --quiet --out "$tmp/ref.nnrt" >/dev/null 2>"$tmp/ref.err"; then
  echo "FAIL the reference run: $(head -c 500 "$tmp/ref.err")"
  exit 1
fi
ref_ms=$(( $(now_ms) - t0 ))
reference=$(summary "$tmp/ref.nnrt") || { echo "FAIL cannot summarise the reference model"; exit 1; }
# The same run with checkpoints, timed: startup (loading MNIST) and the training span after it.
t0=$(now_ms)
launch "$tmp/timed.log" "$nnrt" "${run[@]}" --checkpoint "${every[@]}" --out "$tmp/timed.nnrt"
wait_for "$tmp/timed.log" '^training '
t1=$(now_ms)
wait "$pid"
t2=$(now_ms)
startup_ms=$((t1 - t0)); span_ms=$((t2 - t1))
echo "reference run: ${ref_ms} ms; with checkpoints: ${startup_ms} ms loading, then ${span_ms} ms training and writing"
[ "$(summary "$tmp/timed.nnrt")" = "$reference" ] && ok "a run with checkpoints gives the reference" \
  || bad "a run with checkpoints differs from the reference"

# --- 2. SIGKILL at random moments -------------------------------------------------------------
# Every fifth kill point lands while nnrt starts up, the others while it trains; every third
# one also kills the first resume while it trains.
survived=0
for i in $(seq 1 "$points"); do
  out="$tmp/kill$i.nnrt"
  when=training; [ $((i % 5)) -eq 1 ] && when=startup
  kill_run "$when" "$out" "$nnrt" "${run[@]}" --checkpoint "${every[@]}" --out "$out"
  desc=$note
  if ! loadable "$out"; then bad "kill point $i ($desc): a file does not load"; continue; fi
  if [ $((i % 3)) -eq 0 ] && [ -e "$out.checkpoint" ]; then
    kill_run training "$out" "$nnrt" train --resume "${every[@]}" --out "$out"
    desc="$desc; resume killed $note"
    if ! loadable "$out"; then bad "kill point $i ($desc): a file does not load"; continue; fi
  fi
  if ! finish "$out" "${run[@]}"; then bad "kill point $i ($desc): could not finish"; continue; fi
  if [ "$(summary "$out")" = "$reference" ]; then
    survived=$((survived + 1)); ok "kill point $i: $desc -> resumed to the reference weights"
  else
    bad "kill point $i ($desc): the resumed model differs from the reference"
  fi
done
echo "$survived/$points kill points resumed to the reference"
# A kill during a write leaves the atomic writer's temporary file; the next run removes it.
leftovers=$(find "$tmp" -name 'kill*.tmp-*' | wc -l)
[ "$leftovers" -eq 0 ] && ok "no temporary files left once the runs finished" \
  || bad "$leftovers temporary files left: $(find "$tmp" -name 'kill*.tmp-*' | head -3)"

# --- 3. SIGINT and SIGTERM --------------------------------------------------------------------
# signal_case NAME SIGNAL COUNT STATUS ARGS...: signals the run COUNT times once epoch 1 is done.
# The run starts with SIGINT and SIGTERM at their default action (env --default-signal): a shell
# started in the background or by nohup passes them on ignored, and nnrt keeps an ignored signal
# ignored, as is the convention (checked last).
signal_case() {
  local name=$1 sig=$2 count=$3 want=$4; shift 4
  local out="$tmp/$name.nnrt"
  launch "$tmp/$name.log" env --default-signal=INT,TERM "$nnrt" "${run[@]}" "$@" --out "$out"
  wait_for "$tmp/$name.log" '^Epoch 1:' || { bad "$name: the run ended before epoch 1: $(tail -c 300 "$tmp/$name.log")"; return; }
  for _ in $(seq 1 "$count"); do kill -"$sig" "$pid" 2>/dev/null; done
  wait "$pid" 2>/dev/null
  local status=$?
  if [ "$status" -ne "$want" ]; then
    bad "$name: exit status $status, want $want: $(tail -c 300 "$tmp/$name.log")"; return
  fi
  if ! grep -q "^nnrt: SIG$sig: training stopped .*continue with: nnrt train --resume --out " "$tmp/$name.log"; then
    bad "$name: no line saying how to continue: $(tail -c 300 "$tmp/$name.log")"; return
  fi
  [ -e "$out.checkpoint" ] || { bad "$name: no checkpoint"; return; }
  [ -e "$out" ] && { bad "$name: a model was written although the run stopped"; return; }
  loadable "$out" || { bad "$name: the checkpoint does not load"; return; }
  local at
  at=$(where "$out.checkpoint")
  finish "$out" "${run[@]}" || { bad "$name: could not resume"; return; }
  if [ "$(summary "$out")" = "$reference" ]; then
    ok "$name: exit $status, stopped $at, resumed to the reference weights"
  else
    bad "$name: the resumed model differs from the reference"
  fi
}
signal_case sigint INT 1 130 --checkpoint
signal_case sigterm TERM 1 143 --checkpoint "${every[@]}"
signal_case double-sigint-without-checkpoint INT 2 130
# A SIGINT that was ignored when nnrt started (nohup, a background job) stays ignored.
launch "$tmp/ignored.log" env --ignore-signal=INT "$nnrt" "${run[@]}" --out "$tmp/ignored.nnrt"
if wait_for "$tmp/ignored.log" '^Epoch 1:'; then
  kill -INT "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  status=$?
  if [ "$status" -eq 0 ] && [ -e "$tmp/ignored.nnrt" ] && [ "$(summary "$tmp/ignored.nnrt")" = "$reference" ]; then
    ok "ignored-sigint: a SIGINT ignored at start stays ignored: the run finished with the reference weights"
  else
    bad "ignored-sigint: exit status $status (want 0 and the reference model): $(tail -c 300 "$tmp/ignored.log")"
  fi
else
  bad "ignored-sigint: the run ended before epoch 1: $(tail -c 300 "$tmp/ignored.log")"
fi

# --- 4. an ensemble of two --------------------------------------------------------------------
ens=(train --preset ch1 --train-limit 10000 --epochs 3 --seed 5 --ensemble 2 --threads 2)
t0=$(now_ms)
launch "$tmp/ens-ref.log" "$nnrt" "${ens[@]}" --out "$tmp/ens-ref.nnrt"
wait_for "$tmp/ens-ref.log" '^training '
t1=$(now_ms)
if wait "$pid"; then
  span_ms=$(( $(now_ms) - t1 ))
  ens_reference=$(summary "$tmp/ens-ref.nnrt")
  out="$tmp/ens-kill.nnrt"
  kill_run training "$out" "$nnrt" "${ens[@]}" --checkpoint "${every[@]}" --out "$out"
  if loadable "$out" && finish "$out" "${ens[@]}" && [ "$(summary "$out")" = "$ens_reference" ]; then
    ok "ensemble: SIGKILL $note -> resumed to the reference members"
  else
    bad "ensemble: SIGKILL $note: not resumed to the reference members"
  fi
  out="$tmp/ens-term.nnrt"
  launch "$tmp/ens-term.log" env --default-signal=INT,TERM "$nnrt" "${ens[@]}" --out "$out"
  wait_for "$tmp/ens-term.log" '^member [12]: Epoch 1:'
  kill -TERM "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  status=$?
  at="member 1 $(where "$out.checkpoint.member1"), member 2 $(where "$out.checkpoint.member2")"
  if [ "$status" -eq 143 ] && [ -e "$out.checkpoint.member1" ] && [ -e "$out.checkpoint.member2" ] && loadable "$out" \
     && finish "$out" "${ens[@]}" && [ "$(summary "$out")" = "$ens_reference" ]; then
    ok "ensemble: SIGTERM without --checkpoint -> exit 143, stopped $at; resumed to the reference members"
  else
    bad "ensemble: SIGTERM -> exit $status: $(tail -c 300 "$tmp/ens-term.log")"
  fi
else
  bad "ensemble reference run: $(tail -c 300 "$tmp/ens-ref.log")"
fi

elapsed=$(python3 -c "import sys; print('%.1f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$t_start" "$(date +%s.%N)")
echo
echo "test-kill-resume: $survived/$points kill points; $pass checks passed, $fail failed; ${elapsed} s (seed $seed)"
[ "$fail" -eq 0 ] && [ "$survived" -eq "$points" ]
