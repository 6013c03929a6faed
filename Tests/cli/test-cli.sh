#!/usr/bin/env bash
# End-to-end checks of the release `nnrt` CLI: every command's happy path, and every bad file or
# argument a user can give yields one clear line on stderr and its documented exit status.
#   Tests/cli/test-cli.sh MODEL      MODEL: a small trained MNIST model
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
nnrt="$root/build/bin/nnrt"
model=$1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0
ok()  { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

# expect STATUS PATTERN -- COMMAND...: exit status STATUS and stderr (or stdout) matching PATTERN.
expect() {
  local status=$1 pattern=$2; shift 3
  "$@" >"$tmp/out" 2>"$tmp/err"; local got=$?
  if [ "$got" -ne "$status" ]; then bad "$* -> exit $got, want $status: $(head -c 300 "$tmp/err")"; return; fi
  if ! grep -qE -- "$pattern" "$tmp/out" "$tmp/err"; then bad "$* -> output lacks /$pattern/: $(head -c 300 "$tmp/err")"; return; fi
  ok "$* -> $status /$pattern/"
}

# Happy paths.
expect 0 'accuracy: [0-9]+\.[0-9]{2}% \([0-9]+/10000\)$' -- "$nnrt" eval "$model"
last=$("$nnrt" eval "$model" | tail -1)
[[ "$last" =~ ^accuracy:\ [0-9]+\.[0-9]{2}%\ \([0-9]+/10000\)$ ]] && ok "eval's last line is the accuracy line" || bad "eval's last line: $last"
expect 0 'fc1' -- "$nnrt" inspect "$model"
expect 0 'ch1' -- "$nnrt" presets
expect 0 'USAGE' -- "$nnrt" train --help
expect 0 'Exit status' -- "$nnrt" eval --help

# Bad model files: each its own message and status 65 (66 for a missing file).
printf '' > "$tmp/empty.nnrt"
head -c 100 /dev/urandom > "$tmp/random.nnrt"
echo "hello, I am not a model" > "$tmp/text.nnrt"
head -c 2000 "$model" > "$tmp/truncated.nnrt"
# format_version is the varint after the 12-byte identifier field: make it 3 (unsupported).
cp "$model" "$tmp/v2.nnrt"; printf '\x03' | dd of="$tmp/v2.nnrt" bs=1 seek=13 conv=notrunc status=none
expect 66 'No such file|not found|cannot open' -- "$nnrt" inspect "$tmp/missing.nnrt"
expect 65 'empty|not an nnrt model' -- "$nnrt" inspect "$tmp/empty.nnrt"
expect 65 'not an nnrt model|corrupt|invalid' -- "$nnrt" inspect "$tmp/random.nnrt"
expect 65 'not an nnrt model|corrupt|invalid' -- "$nnrt" eval "$tmp/text.nnrt"
expect 65 'truncated|corrupt|not an nnrt model' -- "$nnrt" eval "$tmp/truncated.nnrt"
expect 65 'version 3' -- "$nnrt" inspect "$tmp/v2.nnrt"
# Wrong shapes, written with the binding tests' independent protobuf writer: a weights tensor
# that does not hold what its shape says, and a layer whose input size breaks the chain.
python3 - "$tmp" "$root/Bindings/python/tests" <<'PY'
import sys
sys.path.insert(0, sys.argv[2])
import modelwriter as mw
w1 = [[0.0] * 784 for _ in range(3)]
fc2 = mw.dense_layer("fc2", [[0.0] * 3 for _ in range(10)], [0.0] * 10)
bad_tensor = mw.dense_layer("fc1", w1, [0.0] * 3, weight_shape=[3, 783])
open(sys.argv[1] + "/shape.nnrt", "wb").write(mw.model_file(network_body=mw.network("n", [bad_tensor, fc2], mw.DIGITS)))
fc2_wide = mw.dense_layer("fc2", [[0.0] * 4 for _ in range(10)], [0.0] * 10)
good_fc1 = mw.dense_layer("fc1", w1, [0.0] * 3)
open(sys.argv[1] + "/chain.nnrt", "wb").write(mw.model_file(network_body=mw.network("n", [good_fc1, fc2_wide], mw.DIGITS)))
PY
expect 65 "layer 1 'fc1'.*783" -- "$nnrt" inspect "$tmp/shape.nnrt"
expect 65 "layer 2 'fc2'" -- "$nnrt" eval "$tmp/chain.nnrt"
expect 66 'No such file|cannot open|not found' -- "$nnrt" eval "$model" --data "$tmp/nowhere"

# Bad arguments: usage errors (64).
expect 64 'preset' -- "$nnrt" train --preset no-such-preset --out "$tmp/x.nnrt"
expect 64 'sizes' -- "$nnrt" train --sizes 784,abc,10 --out "$tmp/x.nnrt"
expect 64 'sizes' -- "$nnrt" train --sizes 100,30,10 --epochs 1 --out "$tmp/x.nnrt"
expect 64 'eta' -- "$nnrt" train --eta=-1 --out "$tmp/x.nnrt"
expect 64 'cost' -- "$nnrt" train --cost hinge --out "$tmp/x.nnrt"
expect 64 'Missing expected argument|--out' -- "$nnrt" train --preset ch1

# Unwritable output: status 73, and nothing left behind.
expect 73 'cannot write|Permission denied|No such file' -- "$nnrt" train --preset ch1 --epochs 1 --train-limit 100 --quiet --out "$tmp/no/such/dir/m.nnrt"
[ ! -e "$tmp/no/such/dir" ] && ok "no partial output directory" || bad "partial output left"

# network2.py JSON import, then the imported model evaluates.
python3 - "$tmp/net2.json" <<'PY'
import json, random, sys
random.seed(0)
sizes = [784, 5, 10]
w = [[[random.gauss(0, 0.05) for _ in range(sizes[l])] for _ in range(sizes[l + 1])] for l in range(2)]
b = [[[random.gauss(0, 1)] for _ in range(sizes[l + 1])] for l in range(2)]
json.dump({"sizes": sizes, "weights": w, "biases": b, "cost": "CrossEntropyCost"}, open(sys.argv[1], "w"))
PY
expect 0 'imported|wrote' -- "$nnrt" import "$tmp/net2.json" --out "$tmp/net2.nnrt"
expect 0 'network2.py' -- "$nnrt" inspect "$tmp/net2.nnrt"
expect 0 'accuracy: ' -- "$nnrt" eval "$tmp/net2.nnrt" --limit 500
python3 -c "import json;d=json.load(open('$tmp/net2.json'));d['weights'][0]=d['weights'][0][:3];json.dump(d,open('$tmp/bad2.json','w'))"
expect 65 'weights' -- "$nnrt" import "$tmp/bad2.json" --out "$tmp/bad2.nnrt"
[ ! -e "$tmp/bad2.nnrt" ] && ok "failed import wrote nothing" || bad "failed import left a file"

# Ensembles: three members vote; the ensemble file evaluates and describes itself.
"$nnrt" train --preset ch1 --epochs 1 --train-limit 5000 --seed 2 --quiet --out "$tmp/m2.nnrt" >/dev/null
"$nnrt" train --preset ch1 --epochs 1 --train-limit 5000 --seed 3 --quiet --out "$tmp/m3.nnrt" >/dev/null
expect 0 'ensemble of 3 networks' -- "$nnrt" ensemble "$model" "$tmp/m2.nnrt" "$tmp/m3.nnrt" --voting majority --out "$tmp/ens.nnrt"
expect 0 'accuracy: [0-9.]+% \([0-9]+/10000\)$' -- "$nnrt" eval "$tmp/ens.nnrt"
expect 0 'majority vote' -- "$nnrt" eval "$tmp/ens.nnrt"
expect 0 'voting: +majority' -- "$nnrt" inspect "$tmp/ens.nnrt"
expect 0 'ensemble of 4 networks' -- "$nnrt" ensemble "$tmp/ens.nnrt" "$model" --voting mean-probability --out "$tmp/ens4.nnrt"
python3 -c "import json;d=json.load(open('$tmp/net2.json'));d['sizes'][2]=3;d['weights'][1]=d['weights'][1][:3];d['biases'][1]=d['biases'][1][:3];json.dump(d,open('$tmp/three.json','w'))"
"$nnrt" import "$tmp/three.json" --out "$tmp/three.nnrt" >/dev/null
expect 65 'do not fit.*class labels' -- "$nnrt" ensemble "$model" "$tmp/net2.nnrt" "$tmp/three.nnrt" --out "$tmp/bad-ens.nnrt"
[ ! -e "$tmp/bad-ens.nnrt" ] && ok "failed ensemble wrote nothing" || bad "failed ensemble left a file"
expect 64 'voting' -- "$nnrt" ensemble "$model" --voting plurality --out "$tmp/bad-ens.nnrt"

# Continue training from a model: epochs keep counting.
expect 0 'Epoch 3' -- "$nnrt" train --from "$model" --epochs 1 --train-limit 1000 --out "$tmp/cont.nnrt"

# Chapter 6: a tiny conv net with a softmax output trains for 1 epoch on 1,000 images, reports the
# test accuracy at the best validation epoch, and the runtime evaluates it.
expect 0 'test accuracy at that epoch: [0-9.]+%' -- "$nnrt" train --layers convpool4x5,fc20:relu,softmax10 --init network3 --eta 0.1 \
  --epochs 1 --train-limit 1000 --evaluate-on validation --monitor-test --keep-best --out "$tmp/conv.nnrt"
grep -qE '^Epoch 1: [0-9]+ / 10000, test [0-9]+ / 10000' "$tmp/out" && ok "conv net: book-style epoch line" || bad "conv net epoch line: $(head -5 "$tmp/out")"
expect 0 'accuracy: [0-9.]+% \([0-9]+/10000\)$' -- "$nnrt" eval "$tmp/conv.nnrt"
expect 0 'conv2d' -- "$nnrt" inspect "$tmp/conv.nnrt"
expect 0 'gradient norms by layer at initialisation' -- "$nnrt" train --sizes 784,10,10,10 --gradient-norms --epochs 1 --train-limit 500 --out "$tmp/norms.nnrt"

# Ensembles trained in one command: each member's and both voting rules' test accuracy.
expect 0 'ensemble of 2, mean-probability vote: test accuracy' -- "$nnrt" train --sizes 784,10,10 --epochs 1 --train-limit 1000 \
  --ensemble 2 --threads 2 --quiet --out "$tmp/ens2.nnrt"
grep -q 'member 2 (seed 2): test accuracy' "$tmp/out" && grep -q 'ensemble of 2, majority vote: test accuracy' "$tmp/out" \
  && ok "ensemble: member and majority lines" || bad "ensemble lines: $(cat "$tmp/out")"
expect 0 'ensemble of 2, majority vote' -- "$nnrt" eval "$tmp/ens2.nnrt"

# Checkpoints: an interrupted run resumed gives the uninterrupted run's model; the checkpoint goes.
"$nnrt" train --sizes 784,10,10 --momentum 0.5 --epochs 3 --train-limit 1000 --checkpoint --quiet --out "$tmp/full.nnrt" >/dev/null
[ ! -e "$tmp/full.nnrt.checkpoint" ] && ok "checkpoint removed after a finished run" || bad "checkpoint left after a finished run"
expect 75 'interrupted after epoch 1' -- "$nnrt" train --sizes 784,10,10 --momentum 0.5 --epochs 3 --train-limit 1000 --checkpoint \
  --interrupt-after 1 --out "$tmp/res.nnrt"
[ -e "$tmp/res.nnrt.checkpoint" ] && ok "checkpoint kept after an interruption" || bad "no checkpoint after an interruption"
# A checkpoint is inspected (whole-file check) like a model; damage is a clear error, status 65.
expect 0 'between epochs: 1 of 3 epochs done' -- "$nnrt" inspect "$tmp/res.nnrt.checkpoint"
expect 0 'continue with: +nnrt train --resume --out' -- "$nnrt" inspect "$tmp/res.nnrt.checkpoint"
expect 0 '"checkpoint":.*"epochs_done":1' -- "$nnrt" inspect --json "$tmp/res.nnrt.checkpoint"
expect 0 'weights: +sha256 [0-9a-f]{64}' -- "$nnrt" inspect "$tmp/res.nnrt.checkpoint"
head -c 3000 "$tmp/res.nnrt.checkpoint" > "$tmp/cut.nnrt.checkpoint"
expect 65 'checkpoint .*cut.nnrt.checkpoint: damaged' -- "$nnrt" inspect "$tmp/cut.nnrt.checkpoint"
expect 65 'damaged' -- "$nnrt" train --resume --out "$tmp/cut.nnrt"
# Starting afresh over an interrupted run's checkpoint is refused (it would replace hours of
# training): the message says how to continue it (--resume) or start over (--restart).
cp "$tmp/res.nnrt.checkpoint" "$tmp/again.nnrt.checkpoint"
expect 64 'again.nnrt.checkpoint holds an interrupted run: continue it with nnrt train --resume --out .*--restart' -- \
  "$nnrt" train --sizes 784,10,10 --epochs 1 --train-limit 100 --checkpoint --quiet --out "$tmp/again.nnrt"
[ -e "$tmp/again.nnrt.checkpoint" ] && ok "the refused run left the interrupted run's checkpoint alone" \
  || bad "the refused run removed the checkpoint"
expect 64 'give one of them' -- "$nnrt" train --resume --restart --out "$tmp/again.nnrt"
expect 0 'wrote .*again.nnrt' -- \
  "$nnrt" train --sizes 784,10,10 --epochs 1 --train-limit 100 --restart --quiet --out "$tmp/again.nnrt"
[ ! -e "$tmp/again.nnrt.checkpoint" ] && ok "--restart deleted the interrupted run's checkpoint" \
  || bad "--restart left the old checkpoint"
# Ensemble member checkpoints count however they are numbered: a lone member 3 is refused like a
# checkpoint, --resume says member 1 (the settings) is missing, and --restart deletes it.
touch "$tmp/gap.nnrt.checkpoint.member3"
expect 64 'gap.nnrt.checkpoint.member3 holds an interrupted run' -- \
  "$nnrt" train --sizes 784,10,10 --epochs 1 --train-limit 100 --quiet --out "$tmp/gap.nnrt"
expect 66 'gap.nnrt.checkpoint.member1 is missing.*--restart' -- "$nnrt" train --resume --out "$tmp/gap.nnrt"
expect 0 'wrote .*gap.nnrt' -- \
  "$nnrt" train --sizes 784,10,10 --epochs 1 --train-limit 100 --restart --quiet --out "$tmp/gap.nnrt"
[ ! -e "$tmp/gap.nnrt.checkpoint.member3" ] && ok "--restart deleted a member checkpoint after a gap" \
  || bad "--restart left gap.nnrt.checkpoint.member3"
# Temporary files that a killed write left beside the model or its checkpoint go at the next run.
touch "$tmp/again.nnrt.tmp-AbC123" "$tmp/again.nnrt.checkpoint.tmp-x1Y2z3" "$tmp/again.nnrt.keep-tmp-AbC123"
"$nnrt" train --sizes 784,10,10 --epochs 1 --train-limit 100 --quiet --out "$tmp/again.nnrt" >/dev/null 2>&1
[ ! -e "$tmp/again.nnrt.tmp-AbC123" ] && [ ! -e "$tmp/again.nnrt.checkpoint.tmp-x1Y2z3" ] && [ -e "$tmp/again.nnrt.keep-tmp-AbC123" ] \
  && ok "stale temporary files of the model and checkpoint removed, others kept" || bad "stale temporary files: $(ls "$tmp" | grep tmp-)"
expect 0 'Epoch 3' -- "$nnrt" train --resume --out "$tmp/res.nnrt"
[ ! -e "$tmp/res.nnrt.checkpoint" ] && ok "checkpoint removed after the resumed run" || bad "checkpoint left after resuming"
"$nnrt" eval "$tmp/full.nnrt" --labels-out "$tmp/full.labels" >/dev/null
"$nnrt" eval "$tmp/res.nnrt" --labels-out "$tmp/res.labels" >/dev/null
cmp -s "$tmp/full.labels" "$tmp/res.labels" && ok "resumed model predicts as the uninterrupted one" || bad "resumed model differs"
expect 66 'no checkpoint' -- "$nnrt" train --resume --out "$tmp/never.nnrt"
expect 64 'resume' -- "$nnrt" train --resume --preset ch1 --out "$tmp/x.nnrt"
expect 64 'add --checkpoint' -- "$nnrt" train --checkpoint-every 5 --out "$tmp/x.nnrt"
expect 64 'checkpoint-every must be' -- "$nnrt" train --checkpoint --checkpoint-every=-1 --out "$tmp/x.nnrt"
expect 64 'checkpoint-every-batches must be' -- "$nnrt" train --checkpoint --checkpoint-every-batches 0 --out "$tmp/x.nnrt"
expect 0 'SIGINT' -- "$nnrt" train --help

# Bad layer specs and new options are usage errors.
expect 64 'layers' -- "$nnrt" train --layers fc100,bogus --out "$tmp/x.nnrt"
expect 64 'layers' -- "$nnrt" train --layers convpool20x5,fc100,fc10 --cost log-likelihood --out "$tmp/x.nnrt"
expect 64 'expand' -- "$nnrt" train --expand shift9 --out "$tmp/x.nnrt"
expect 64 'ensemble' -- "$nnrt" train --ensemble 0 --out "$tmp/x.nnrt"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
