#!/usr/bin/env bash
# Malformed input to the release `nnrt` CLI, one table row per case: the exit status it must give
# and a pattern its message must match (on stderr, or on stdout for classify's per-file rows).
# A failing `train` must fail before training (no "Epoch" line).
#   Tests/cli/test-bad-input.sh MODEL      MODEL: a small trained MNIST model
# Needs python3 (for the fixtures) and MNIST_DIR (or the download cache) for the IDX cases.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
nnrt="$root/build/bin/nnrt"
model=$1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mnist=${MNIST_DIR:-$("$nnrt" mnist --print-dir)}

# --- Fixtures --------------------------------------------------------------------------------
mkdir -p "$tmp/dir" "$tmp/u8dir" "$tmp/listdir"
: > "$tmp/empty.nnrt"
echo "hello, I am not a model" > "$tmp/text.nnrt"
head -c 2000 "$model" > "$tmp/truncated.nnrt"
cp "$model" "$tmp/v9.nnrt"; printf '\x09' | dd of="$tmp/v9.nnrt" bs=1 seek=13 conv=notrunc status=none
cp "$model" "$tmp/bad-"$'\xff'".nnrt"
printf 'P5\n3 3\n255\n\x01\x02' > "$tmp/truncated.pgm"
printf 'P5\n2 2\n255\n\x00\xff\xff\x00' > "$tmp/u8dir/digit-"$'\xe9'".pgm"
echo '{"sizes": [784, -3, 10], "weights": [], "biases": []}' > "$tmp/negative.json"
# MNIST directories with one broken test file each (the rest are links to the real files).
python3 - "$mnist" "$tmp" <<'PY'
import gzip, os, struct, sys
src, tmp = sys.argv[1], sys.argv[2]
names = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
def read(name):
    for candidate in (name + ".gz", name):
        p = os.path.join(src, candidate)
        if os.path.exists(p):
            return gzip.open(p).read() if p.endswith(".gz") else open(p, "rb").read()
    raise SystemExit(f"test-bad-input.sh: {name} not found in {src}")
images, labels = read(names[2]), read(names[3])
def mnist(d, test_images=None, test_labels=None):
    d = os.path.join(tmp, d)
    os.makedirs(d)
    for name, data in zip(names, [None, None, test_images, test_labels]):
        if data is None:
            real = next(os.path.join(src, c) for c in (name + ".gz", name) if os.path.exists(os.path.join(src, c)))
            os.symlink(real, os.path.join(d, os.path.basename(real)))
        else:
            open(os.path.join(d, name), "wb").write(data)
mnist("m-magic", test_images=b"\x00\x00\x08\x01" + images[4:])
mnist("m-count", test_labels=struct.pack(">II", 0x801, 9999) + labels[8:8 + 9999])
mnist("m-truncated", test_images=images[:100000])
mnist("m-label", test_images=struct.pack(">IIII", 0x803, 10, 28, 28) + images[16:16 + 7840],
      test_labels=struct.pack(">II", 0x801, 10) + bytes([7, 2, 1, 200, 4, 1, 4, 9, 5, 9]))
mnist("m-20x20", test_images=struct.pack(">IIII", 0x803, 10, 20, 20) + bytes(4000),
      test_labels=struct.pack(">II", 0x801, 10) + bytes(10))
mnist("m-empty", test_images=b"")
mnist("m-trailing", test_images=images + b"xx")
mnist("m-zero", test_images=struct.pack(">IIII", 0x803, 0, 28, 28), test_labels=struct.pack(">II", 0x801, 0))
mnist("m-gzip", test_images=b"\x1f\x8b\x08\x00" + b"garbage" * 10)
mnist("m-huge", test_images=struct.pack(">IIII", 0x803, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF))
PY
[ $? -eq 0 ] || { echo "test-bad-input.sh: cannot write the fixtures"; exit 2; }
json="$tmp/net2.json"
python3 -c "
import json
sizes = [784, 3, 10]
w = [[[0.0] * sizes[l] for _ in range(sizes[l + 1])] for l in range(2)]
b = [[[0.0] for _ in range(sizes[l + 1])] for l in range(2)]
json.dump({'sizes': sizes, 'weights': w, 'biases': b, 'cost': 'CrossEntropyCost'}, open('$json', 'w'))"

# --- The table ---------------------------------------------------------------------------------
# STATUS | PATTERN (extended regex) | ARGUMENTS (evaluated: $model, $tmp, $json, $'...' quoting) | STDIN
t="--preset ch1 --epochs 1 --train-limit 100 --quiet"
cases=(
  # Model files given to inspect, eval, classify, ensemble
  "66|is a directory, not a regular file|inspect \$tmp/dir"
  "66|is a directory|eval \$tmp/dir"
  "66|not a regular file \\(a device|inspect /dev/null"
  "66|the path is empty|inspect ''"
  "66|missing\\.nnrt': No such file|eval \$tmp/missing.nnrt"
  "65|empty\\.nnrt: not an nnrt model file: the data is empty|inspect \$tmp/empty.nnrt"
  "65|text\\.nnrt: not an nnrt model file|inspect \$tmp/text.nnrt"
  "65|truncated\\.nnrt: not an nnrt model file|eval \$tmp/truncated.nnrt"
  "65|format version 9 is not supported|inspect \$tmp/v9.nnrt"
  "66|is a directory|classify \$tmp/dir \$tmp/truncated.pgm"
  "66|is a directory|ensemble \$model \$tmp/dir --out \$tmp/e.nnrt"
  # Arguments that are not UTF-8
  "64|argument 2 .* is not valid UTF-8.*rename the file|inspect \$tmp/bad-\$'\\xff'.nnrt"
  "64|argument 3 .* is not valid UTF-8|classify \$model \$tmp/\$'\\xe9'.png"
  # MNIST IDX files (eval and train)
  "65|bad IDX magic number 0x801, expected 0x00000803|eval \$model --data \$tmp/m-magic"
  "65|holds 10000 images but .* holds 9999 labels|eval \$model --data \$tmp/m-count"
  "65|truncated IDX data: dimensions \\[10000, 28, 28\\] need 7840000 bytes|eval \$model --data \$tmp/m-truncated"
  "65|label 200 at index 3 is not a digit|eval \$model --data \$tmp/m-label"
  "65|images are 20x20, MNIST needs 28x28|eval \$model --data \$tmp/m-20x20"
  "65|truncated IDX header \\(0 bytes|eval \$model --data \$tmp/m-empty"
  "65|trailing bytes after the IDX data|eval \$model --data \$tmp/m-trailing"
  "65|holds no images|eval \$model --data \$tmp/m-zero"
  "65|read error|eval \$model --data \$tmp/m-gzip"
  "65|IDX dimensions .* are too large|eval \$model --data \$tmp/m-huge"
  "66|MNIST file .* not found in|eval \$model --data \$tmp/dir"
  "65|holds 10000 images but .* holds 9999 labels|train $t --data \$tmp/m-count --out \$tmp/x.nnrt"
  "65|bad IDX magic|train $t --data \$tmp/m-magic --out \$tmp/x.nnrt"
  # Outputs that cannot be written: refused before any work
  "73|cannot write .*dir: it is a directory; give a file name|train $t --out \$tmp/dir"
  "73|the output path is empty|train $t --out ''"
  "73|directory .*no/such does not exist|ensemble \$model --out \$tmp/no/such/e.nnrt"
  "73|it is a directory|eval \$model --labels-out \$tmp/dir"
  "73|it is a directory|import \$json --out \$tmp/dir"
  "73|--show .*text\\.nnrt: cannot create the directory|classify \$model \$tmp/truncated.pgm --show \$tmp/text.nnrt"
  # Hyper-parameters out of range
  "64|--eta must be a positive number, got -1|train --eta -1 --out \$tmp/x.nnrt"
  "64|--eta must be a positive number, got nan|train --eta nan --out \$tmp/x.nnrt"
  "64|--lambda must be zero or positive, got -1|train --lambda -1 --out \$tmp/x.nnrt"
  "64|--momentum must be in \\[0, 1\\), got 1\\.5|train --momentum 1.5 --out \$tmp/x.nnrt"
  "64|--batch must be positive, got 0|train --batch 0 --out \$tmp/x.nnrt"
  "64|--epochs must be zero or more, got -3|train --epochs -3 --out \$tmp/x.nnrt"
  "64|--schedule-factor must be greater than 1|train --schedule-factor 0.5 --out \$tmp/x.nnrt"
  "64|--schedule-stop must be in \\[0, 1\\)|train --schedule-stop 2 --out \$tmp/x.nnrt"
  "64|--train-limit must be positive, got -5|train --train-limit -5 --out \$tmp/x.nnrt"
  "64|The value '-1' is invalid for '--seed|train --seed -1 --out \$tmp/x.nnrt"
  "64|number of units must be in 1\\.\\.\\.|train --sizes 784,99999999999,10 --out \$tmp/x.nnrt"
  "64|more than a model file holds .*use fewer or smaller layers|train --sizes 784,400000,10 --out \$tmp/x.nnrt"
  "64|ensemble of 100000 networks .* use at most [0-9]+ members|train --preset ch1 --ensemble 100000 --out \$tmp/x.nnrt"
  "64|--ensemble must be at least 1, got 0|train --ensemble 0 --out \$tmp/x.nnrt"
  "64|dropout 'drop1\\.5' must be drop<p> with 0 <= p < 1|train --layers fc100:drop1.5,softmax10 --out \$tmp/x.nnrt"
  "64|a 50x50 kernel does not fit the 28x28 input|train --layers convpool20x50,softmax10 --out \$tmp/x.nnrt"
  "64|--limit must be positive, got -1|eval \$model --limit -1"
  "64|--top must be at least 1, got -2|classify \$model \$tmp/truncated.pgm --top -2"
  "64|--threads must be between 0 \\(one per core\\) and 256, got 257|classify \$model \$tmp/truncated.pgm --threads 257"
  # Image files: each file's own error, exit status 1
  "66|no image files found in .*dir|classify \$model \$tmp/dir"
  "1|dir  error: is a directory|classify \$model -|\$tmp/dir"
  "1|the file name is not valid UTF-8 .*rename the file|classify \$model \$tmp/u8dir"
  "1|not a PNG, JPEG or PGM/PPM image|classify \$model \$tmp/text.nnrt"
  "1|PGM: truncated|classify \$model \$tmp/truncated.pgm"
  "1|cannot open: No such file|classify \$model \$tmp/missing.png"
  # network2.py JSON
  "66|is a directory|import \$tmp/dir --out \$tmp/x.nnrt"
  "65|not valid JSON|import \$model --out \$tmp/x.nnrt"
  "65|sizes\\[1\\] is not a positive integer|import \$tmp/negative.json --out \$tmp/x.nnrt"
)

pass=0; fail=0
for row in "${cases[@]}"; do
  IFS='|' read -r status pattern arguments input <<< "$row"
  eval "set -- $arguments"
  if [ -n "$input" ]; then
    eval "printf '%s\n' $input" | "$nnrt" "$@" >"$tmp/out" 2>"$tmp/err"; got=$?
  else
    "$nnrt" "$@" </dev/null >"$tmp/out" 2>"$tmp/err"; got=$?
  fi
  shown="nnrt $arguments"
  if [ "$got" -ne "$status" ]; then
    fail=$((fail + 1)); echo "FAIL $shown -> exit $got, want $status: $(head -c 300 "$tmp/err")"; continue
  fi
  if ! grep -qE -- "$pattern" "$tmp/err" "$tmp/out"; then
    fail=$((fail + 1)); echo "FAIL $shown -> output lacks /$pattern/: $(head -c 300 "$tmp/err") $(head -c 200 "$tmp/out")"; continue
  fi
  if [ "$1" = train ] && grep -q '^Epoch' "$tmp/out"; then
    fail=$((fail + 1)); echo "FAIL $shown -> trained before failing"; continue
  fi
  pass=$((pass + 1)); echo "ok   $shown -> $status: $(head -1 "$tmp/err" | cut -c1-160)"
done
[ ! -e "$tmp/x.nnrt" ] && [ ! -e "$tmp/e.nnrt" ] && pass=$((pass + 1)) \
  || { fail=$((fail + 1)); echo "FAIL a failed command left an output file"; }
echo "${#cases[@]} cases and 1 check: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
