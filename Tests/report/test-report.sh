#!/usr/bin/env bash
# The HTML training report in a real browser: renders the report of MODEL (`nnrt report`), of a
# quickly trained network with every series recorded (`nnrt train --report`) and of a two-member
# ensemble (`train --ensemble --report`) in headless Chromium, and checks from the rendered DOM
# that every section and chart is there (or its "not recorded" note), that the figures on the
# page are the measured ones (`nnrt eval`'s accuracy and predictions, the members' accuracies that
# `train` printed), that nothing but inline data is loaded, and that the screenshot is a real,
# non-blank image of the window's size with the charts' colours in it; it also prints the first
# report to PDF. Then the failures a user can cause, each with its exit status.
#   Tests/report/test-report.sh MODEL      MODEL: a small trained MNIST network (ch1)
# Needs build/bin/nnrt (scripts/build.sh), Debian's chromium and python3; MNIST from MNIST_DIR or
# the download cache. About 30 s.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
nnrt="$root/build/bin/nnrt"
model=$1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mnist=${MNIST_DIR:-$("$nnrt" mnist --print-dir)}
export MNIST_DIR=$mnist
pass=0; fail=0
ok()  { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

chromium=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chromium" ]; then
  echo "test-report.sh: chromium is not installed (scripts/install-deps.sh installs it)" >&2
  exit 1
fi

# render NAME DIR: the rendered DOM (NAME.dom.html), a 1280x1800 screenshot (NAME.png).
render() {
  local name=$1 dir=$2
  timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
    --user-data-dir="$tmp/chrome" --force-device-scale-factor=1 --window-size=1280,1800 \
    --host-resolver-rules="MAP * ~NOTFOUND" \
    --screenshot="$tmp/$name.png" --dump-dom "file://$dir/index.html" >"$tmp/$name.dom.html" 2>"$tmp/$name.chromium.log"
  local status=$?
  if [ $status -ne 0 ] || [ ! -s "$tmp/$name.dom.html" ] || [ ! -s "$tmp/$name.png" ]; then
    bad "chromium rendered $dir/index.html (status $status): $(grep -v -i dbus "$tmp/$name.chromium.log" | tail -3)"
    return 1
  fi
  ok "chromium rendered $name ($(wc -c < "$dir/index.html") bytes of HTML)"
}

# check NAME KIND [key=value...]: the DOM and screenshot checks (python below).
check() {
  if python3 "$tmp/check.py" "$tmp" "$mnist" "$@" >"$tmp/check.out" 2>&1; then
    while IFS= read -r line; do ok "$1: $line"; done < "$tmp/check.out"
  else
    while IFS= read -r line; do echo "     $line"; done < "$tmp/check.out"
    bad "$1: the rendered page (above)"
  fi
}

cat > "$tmp/check.py" <<'PY'
import base64, gzip, html.parser, os, re, struct, sys, zlib

tmp, mnist, name, kind = sys.argv[1:5]
opts = dict(a.split("=", 1) for a in sys.argv[5:])
dom = open(os.path.join(tmp, name + ".dom.html"), encoding="utf-8").read()
out = []
def need(cond, what):
    if not cond:
        raise SystemExit("FAIL " + what)
    out.append(what)

class Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids = {}; self.stack = []; self.cells = []; self.digits = []; self.srcs = []
        self.tags = set(); self.svg_in = {}; self.text_of = {}; self.capture = None; self.member_cells = []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.add(tag)
        section = next((s for s in reversed(self.stack) if s[0] == "section"), None)
        if "id" in a:
            self.ids[a["id"]] = tag
        if tag == "svg" and section:
            self.svg_in.setdefault(section[1], []).append(a.get("id"))
        if tag == "td" and "data-count" in a:
            self.cells.append((int(a["data-true"]), int(a["data-predicted"]), int(a["data-count"])))
        if tag == "figure" and "digit" in a.get("class", ""):
            self.digits.append((int(a["data-index"]), a["data-true"], a["data-predicted"]))
        for key in ("src", "href", "xlink:href", "srcset", "poster", "data"):
            if key in a and tag != "svg":
                self.srcs.append(a[key])
        if "member-accuracy" in a.get("class", ""):
            self.capture = "member"; self.member_cells.append("")
        if a.get("id") == "card-test-accuracy":
            self.capture = "card"; self.text_of["card"] = ""
        if tag not in ("img", "br", "meta", "line", "rect", "circle", "path"):
            self.stack.append((tag, a.get("id")))
    def handle_endtag(self, tag):
        while self.stack:
            t, i = self.stack.pop()
            if t == tag:
                if self.capture == "card" and i == "card-test-accuracy": self.capture = None
                if self.capture == "member" and tag == "td": self.capture = None
                break
    def handle_data(self, data):
        if self.capture == "card": self.text_of["card"] += data
        elif self.capture == "member": self.member_cells[-1] += data

p = Page(); p.feed(dom)

# Sections and charts.
sections = ["report-header", "summary", "run", "hyperparameters", "layers", "curves", "gradient-norms",
            "confusion-matrix", "misclassified", "report-footer"]
sections += ["members", "members-table"] if kind == "ensemble" else ["history", "history-table"]
for s in sections:
    need(s in p.ids, f"section #{s} is on the page")
for c in filter(None, opts.get("charts", "").split(",")):
    need(p.ids.get(c) == "svg", f"chart #{c} is an SVG")
for m in filter(None, opts.get("missing", "").split(",")):
    need(m in p.ids, f"note #{m} says what was not recorded")
for s in ("curves", "gradient-norms"):
    has_chart = bool(p.svg_in.get(s))
    has_note = any(k.startswith("missing-") and k[len("missing-"):] in ("accuracy", "cost", "gradient-norms") for k in p.ids)
    need(has_chart or has_note, f"section #{s} holds a chart or a note")
need("script" not in p.tags, "no <script> element")
need(all(s.startswith("data:image/png;base64,") for s in p.srcs), f"all {len(p.srcs)} resources are inline PNG data")

# The figures: nnrt eval's predictions and the test labels.
labels = gzip.open(os.path.join(mnist, "t10k-labels-idx1-ubyte.gz")).read()[8:]
predicted = [int(l) for l in open(opts["labels"]).read().split()]
need(len(predicted) == len(labels) == 10000, "10,000 predictions from nnrt eval")
correct = sum(int(a == b) for a, b in zip(predicted, labels))
wrong = [i for i in range(10000) if predicted[i] != labels[i]]
card = " ".join(p.text_of.get("card", "").split())
need(f"{100 * correct / 10000:.2f}%" in card, f"the test accuracy card shows nnrt eval's {100 * correct / 10000:.2f}%")
need(len(p.cells) == 100 and sum(c for _, _, c in p.cells) == 10000, "the confusion matrix has 100 cells counting 10,000 images")
need(sum(c for t, q, c in p.cells if t == q) == correct, f"its diagonal holds the {correct} correct answers")
expected = {}
for i in range(10000):
    expected[(labels[i], predicted[i])] = expected.get((labels[i], predicted[i]), 0) + 1
need(all(c == expected.get((t, q), 0) for t, q, c in p.cells), "every cell matches nnrt eval's predictions")
need(len(p.digits) == min(150, len(wrong)), f"the gallery shows {len(p.digits)} of the {len(wrong)} misclassified digits")
need(all(predicted[i] != labels[i] and str(labels[i]) == t and str(predicted[i]) == q for i, t, q in p.digits),
     "each shown digit is one nnrt eval gets wrong, with its true label and the answer")
if len(wrong) <= 150:
    need([i for i, _, _ in p.digits] == wrong, "all of them, in test-set order")
if "members" in opts:
    want = opts["members"].split(",")
    got = [" ".join(c.split()) for c in p.member_cells]
    need(got == want, f"each member's accuracy is the one train printed: {', '.join(got)}")

# One digit image: a 28x28 grey PNG.
png = base64.b64decode(p.srcs[0].split(",", 1)[1]) if p.srcs else b""
need(png[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">IIBB", png[16:26]) == (28, 28, 8, 0), "the digits are 28x28 grey PNGs")

# The screenshot: the window's size, not blank, the charts' colours in it.
data = open(os.path.join(tmp, name + ".png"), "rb").read()
need(data[:8] == b"\x89PNG\r\n\x1a\n", "the screenshot is a PNG")
pos, idat = 8, []
while pos < len(data):
    n, = struct.unpack(">I", data[pos:pos + 4]); typ = data[pos + 4:pos + 8]; body = data[pos + 8:pos + 8 + n]; pos += 12 + n
    if typ == b"IHDR": w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
    elif typ == b"IDAT": idat.append(body)
need((w, h) == (1280, 1800), f"the screenshot is {w}x{h}, the window's size")
need(depth == 8 and ctype in (2, 6) and interlace == 0, "an 8-bit RGB(A) image")
bpp = 3 if ctype == 2 else 4
raw = zlib.decompress(b"".join(idat)); stride = w * bpp
prev = bytearray(stride); nonwhite = 0; colours = set(); hits = {}
targets = {k: tuple(int(v[i:i + 2], 16) for i in (0, 2, 4)) for k, v in
           (("training blue", "2f6fdb"), ("evaluation orange", "e8710a"), ("accuracy green", "1e9e5a"))}
for r in range(h):
    f = raw[r * (stride + 1)]; line = bytearray(raw[r * (stride + 1) + 1:(r + 1) * (stride + 1)])
    if f == 1:
        for i in range(bpp, stride): line[i] = (line[i] + line[i - bpp]) & 255
    elif f == 2:
        line = bytearray(map(lambda a, b: (a + b) & 255, line, prev))
    elif f == 3:
        for i in range(stride): line[i] = (line[i] + ((line[i - bpp] if i >= bpp else 0) + prev[i]) // 2) & 255
    elif f == 4:
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0; b = prev[i]; c = prev[i - bpp] if i >= bpp else 0
            q = a + b - c; pa = abs(q - a); pb = abs(q - b); pc = abs(q - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else (b if pb <= pc else c))) & 255
    prev = line
    for x in range(0, stride, bpp * 2):   # every other pixel
        px = (line[x], line[x + 1], line[x + 2])
        if px != (255, 255, 255): nonwhite += 1
        colours.add(px)
        for k, t in targets.items():
            if abs(px[0] - t[0]) + abs(px[1] - t[1]) + abs(px[2] - t[2]) < 24: hits[k] = hits.get(k, 0) + 1
frac = nonwhite / (h * w / 2)
need(0.03 < frac < 0.8, f"the screenshot is not blank: {100 * frac:.1f}% of its pixels are not white")
need(len(colours) > 200, f"{len(colours)} distinct colours")
for k in opts.get("colours", "").split(","):
    if k: need(hits.get(k, 0) > 30, f"the {k} of the charts is drawn ({hits.get(k, 0)} pixels)")
print("\n".join(out))
PY

# --- 1. The report of MODEL (ch1: the evaluation accuracy only) ------------------------------
"$nnrt" eval "$model" --labels-out "$tmp/model.labels" > /dev/null || bad "nnrt eval $model"
if "$nnrt" report "$model" --out "$tmp/model-report" > "$tmp/out" 2> "$tmp/err"; then
  ok "nnrt report $(basename "$model"): $(cat "$tmp/out")"
  render model "$tmp/model-report" && check model network labels="$tmp/model.labels" \
    charts=chart-accuracy missing=missing-cost,missing-gradient-norms colours="evaluation orange,accuracy green"
  timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --no-first-run --user-data-dir="$tmp/chrome" \
    --no-pdf-header-footer --print-to-pdf="$tmp/model.pdf" "file://$tmp/model-report/index.html" >/dev/null 2>&1
  pages=$(python3 -c 'import re, sys; print(len(re.findall(rb"/Type\s*/Page(?!s)", open(sys.argv[1], "rb").read())))' "$tmp/model.pdf" 2>/dev/null || echo 0)
  if head -c 5 "$tmp/model.pdf" 2>/dev/null | grep -q '%PDF' && [ "$pages" -ge 2 ]; then
    ok "printed to PDF: $pages pages"
  else
    bad "print to PDF: $pages pages"
  fi
else
  bad "nnrt report $model: $(cat "$tmp/err")"
fi

# --- 2. train --report: every series recorded (ch3-overfit on 1,000 images, gradient norms) ---
if "$nnrt" train --preset ch3-overfit --epochs 6 --sizes 784,30,30,10 --gradient-norms --seed 3 --quiet \
     --out "$tmp/rich.nnrt" --report "$tmp/rich-report" > "$tmp/out" 2> "$tmp/err"; then
  ok "nnrt train --report: $(grep 'wrote report' "$tmp/out")"
  "$nnrt" eval "$tmp/rich.nnrt" --labels-out "$tmp/rich.labels" > /dev/null
  render rich "$tmp/rich-report" && check rich network labels="$tmp/rich.labels" \
    charts=chart-accuracy,chart-cost,chart-gradient-norms colours="training blue,evaluation orange,accuracy green"
  grep -q 'id="missing-' "$tmp/rich-report/index.html" && bad "rich: a series is reported missing" || ok "rich: no series is missing"
else
  bad "nnrt train --report: $(cat "$tmp/err")"
fi

# --- 3. An ensemble of two, with validation data and the test set monitored -----------------
if "$nnrt" train --preset ch1 --ensemble 2 --epochs 2 --train-limit 3000 --evaluate-on validation --monitor-test \
     --seed 5 --quiet --out "$tmp/ens.nnrt" --report "$tmp/ens-report" > "$tmp/out" 2> "$tmp/err"; then
  ok "nnrt train --ensemble 2 --report: $(grep 'wrote report' "$tmp/out")"
  members=$(sed -n 's/^member [0-9]* (seed [0-9]*): test accuracy \([0-9.]*% ([0-9]*\/10000)\).*/\1/p' "$tmp/out" | paste -sd, -)
  "$nnrt" eval "$tmp/ens.nnrt" --labels-out "$tmp/ens.labels" > /dev/null
  render ens "$tmp/ens-report" && check ens ensemble labels="$tmp/ens.labels" members="$members" \
    charts=chart-accuracy-evaluation,chart-accuracy-test missing=missing-cost,missing-gradient-norms \
    colours="training blue,evaluation orange,accuracy green"
else
  bad "nnrt train --ensemble --report: $(cat "$tmp/err")"
fi

# --- 4. Failures a user can cause: one line each, its exit status, nothing half-written -------
expect() {  # expect STATUS PATTERN -- COMMAND...
  local status=$1 pattern=$2; shift 3
  "$@" >"$tmp/out" 2>"$tmp/err"; local got=$?
  if [ "$got" -ne "$status" ]; then bad "$* -> exit $got, want $status: $(head -c 300 "$tmp/err")"; return; fi
  if ! grep -qE -- "$pattern" "$tmp/err"; then bad "$* -> stderr lacks /$pattern/: $(head -c 300 "$tmp/err")"; return; fi
  ok "$* -> $status /$pattern/"
}
mkdir -p "$tmp/nomnist"
echo "not a model" > "$tmp/text.nnrt"
: > "$tmp/a-file"
expect 66 'cannot open|No such file' -- "$nnrt" report "$tmp/missing.nnrt" --out "$tmp/r1"
expect 65 'not an nnrt model|corrupt|invalid' -- "$nnrt" report "$tmp/text.nnrt" --out "$tmp/r2"
expect 73 'it is a file' -- "$nnrt" report "$model" --out "$tmp/a-file"
expect 73 'does not exist' -- "$nnrt" report "$model" --out "$tmp/no/such/dir"
expect 66 'not found in' -- "$nnrt" report "$model" --out "$tmp/r3" --data "$tmp/nomnist"
[ ! -e "$tmp/r3" ] && ok "no report directory after a failure" || bad "a failed report left $tmp/r3"
expect 73 'does not exist' -- "$nnrt" train --preset ch1 --epochs 1 --out "$tmp/t.nnrt" --report "$tmp/no/dir"
grep -q '^Epoch' "$tmp/out" && bad "train --report into a missing directory trained first" || ok "train --report fails before training"
[ ! -e "$tmp/t.nnrt" ] && ok "and writes no model" || bad "train --report into a missing directory wrote a model"
expect 64 'is the model file' -- "$nnrt" train --preset ch1 --epochs 1 --out "$tmp/t.nnrt" --report "$tmp/t.nnrt"
"$nnrt" report --help > "$tmp/help" 2>&1; grep -q 'index.html' "$tmp/help" && ok "nnrt report --help describes the page" || bad "nnrt report --help"
"$nnrt" train --help > "$tmp/help" 2>&1; grep -q -- '--report' "$tmp/help" && ok "nnrt train --help has --report" || bad "nnrt train --help lacks --report"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
