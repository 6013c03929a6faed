#!/usr/bin/env python3
"""Image input benchmark (issue 5): accuracy on scanned digits next to the IDX test set, and
files per second, through the release `nnrt classify` (which runs libnnrt's code).

    MNIST_DIR=... python3 bench/images.py [--count 10000] [MODEL ...]

Writes the test images with build/bin/nnrt-testimages into build/bench-images (kept between
runs): 10,000 "scanned" test digits (scaled up, off-centre, dark on paper, uneven light, noise,
blur, RGB, RGBA, 16-bit; PNG, JPEG, PGM, PPM), 2,000 plain 28x28 PNGs and 200 1000x1000 RGB
JPEG "photos". For each model: accuracy on the IDX test images (`nnrt eval`) and on the scans of
the same digits (`nnrt classify`), and the difference (the issue's bar: within 0.5 points). Then
files/second for the PNGs and the JPEGs with 1 and 2 threads (median of 3 runs, whole command
including start-up and model load), next to the Python baseline of bench/images_baseline.py
(Pillow + numpy preprocessing + the nnrt binding for the network; timed without interpreter
start-up), run with build/venv-bench's Python (bench/peers/setup.sh installs Pillow there).
Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import platform
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NNRT = ROOT / "build/bin/nnrt"
GEN = ROOT / "build/bin/nnrt-testimages"
BASELINE_PYTHON = ROOT / "build/venv-bench/bin/python"
OUT = ROOT / "build/bench-images"


def run(cmd, **kw):
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)


def ensure(set_name: str, count: int) -> Path:
    folder = OUT / set_name
    labels = folder / "labels.csv"
    if labels.exists() and sum(1 for _ in open(labels)) == count + 1:
        return folder
    args = [GEN, "--out", OUT, "--count", count]
    if set_name != "scanned":
        args += ["--set", set_name]
    p = run(args)
    if p.returncode != 0:
        sys.exit(f"nnrt-testimages failed: {p.stderr}")
    print(p.stdout.strip(), file=sys.stderr)
    return folder


def accuracy_idx(model: Path, count: int) -> float:
    p = run([NNRT, "eval", model, "--limit", count])
    if p.returncode != 0:
        sys.exit(f"nnrt eval {model}: {p.stderr}")
    last = p.stdout.strip().splitlines()[-1]          # accuracy: 99.49% (9949/10000)
    correct, total = last.split("(")[1].rstrip(")").split("/")
    return int(correct) / int(total)


def classify(model: Path, folder: Path, threads: int):
    t0 = time.perf_counter()
    p = run([NNRT, "classify", model, folder, "--format", "csv", "--threads", threads, "--quiet"])
    elapsed = time.perf_counter() - t0
    if p.returncode not in (0, 1):
        sys.exit(f"nnrt classify {model}: {p.stderr}")
    return list(csv.DictReader(io.StringIO(p.stdout))), elapsed


def baseline(model: Path, folder: Path, threads: int, nnrt_images: bool = False):
    """files/s of bench/images_baseline.py (with nnrt_images: of nnrt's classify_files from the
    same Python), or None if that Python lacks Pillow or nnrt."""
    if not BASELINE_PYTHON.exists():
        return None
    env = dict(os.environ, NNRT_LIBRARY=str(ROOT / "build/lib/libnnrt.so"))
    p = run([BASELINE_PYTHON, ROOT / "bench/images_baseline.py", model, folder, threads]
            + (["--nnrt"] if nnrt_images else []), env=env)
    if p.returncode != 0:
        print(f"baseline failed: {p.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return None
    import json
    return json.loads(p.stdout)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("models", nargs="*")
    args = ap.parse_args()
    if not os.environ.get("MNIST_DIR"):
        sys.exit("set MNIST_DIR")
    models = [Path(m) for m in args.models] or [
        p for p in (ROOT / "build/accuracy" / n for n in
                    ("ch1-seed1.nnrt", "ch3-l2-100-seed1.nnrt", "ch6-relu-seed1.nnrt", "ch6-expanded-seed1.nnrt"))
        if p.exists()]
    scanned = ensure("scanned", args.count)
    truth = {r["file"]: (r["label"], r["kind"]) for r in csv.DictReader(open(scanned / "labels.csv"))}

    lscpu = run(["lscpu"]).stdout
    cpu = next((l.split(":", 1)[1].strip() for l in lscpu.splitlines() if l.startswith("Model name")), "?")
    print(f"# Image input: accuracy on scans and throughput\n")
    command = " ".join(["MNIST_DIR=... python3 bench/images.py", f"--count {args.count}", *map(str, args.models)])
    print(f"- Command: `{command}`")
    print(f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; CPU: {cpu}, {os.cpu_count()} cores; "
          f"{run([NNRT, '--version']).stdout.strip()}; Python {platform.python_version()}")
    print(f"- Scans: `build/bin/nnrt-testimages --count {args.count}` (seed 2026): the first {args.count} MNIST test digits, "
          "each turned into one of ten kinds of scan (see Sources/NNImageSynthesis)\n")

    print("| model | IDX test accuracy | accuracy on the scans | difference (points) |")
    print("|---|---|---|---|")
    per_kind = None
    for model in models:
        idx = accuracy_idx(model, args.count)
        rows, _ = classify(model, scanned, 2)
        correct = sum(r["label"] == truth[Path(r["path"]).name][0] for r in rows)
        acc = correct / len(truth)
        print(f"| {model.name} | {100 * idx:.2f}% | {100 * acc:.2f}% ({correct}/{len(truth)}) | {100 * (acc - idx):+.2f} |")
        kinds_total, kinds_ok = Counter(), Counter()
        for r in rows:
            label, kind = truth[Path(r["path"]).name]
            kinds_total[kind] += 1
            kinds_ok[kind] += r["label"] == label
        per_kind = (model.name, kinds_total, kinds_ok)
    if per_kind:
        name, kinds_total, kinds_ok = per_kind
        print(f"\nBy kind of scan, {name}:\n")
        print("| kind | accuracy |")
        print("|---|---|")
        for kind in kinds_total:
            print(f"| {kind} | {100 * kinds_ok[kind] / kinds_total[kind]:.2f}% ({kinds_ok[kind]}/{kinds_total[kind]}) |")

    # Throughput with the smallest and the largest model: the network's own share of the time
    # differs (a 784-30-10 MLP costs microseconds per image, the conv net about 60).
    for model in dict.fromkeys([models[0], models[-1]] if models else []):
        pngs = ensure("mnist-png", 2000)
        jpegs = ensure("large-jpeg", 200)
        print(f"\nThroughput with {model.name}, files/s, median of 3 interleaved runs: the whole "
              "`nnrt classify DIR --format csv --threads T` command (start-up and model load included); "
              "`model.classify_files(paths, threads=T)` from Python; and the Python baseline "
              "(bench/images_baseline.py: Pillow decoding, numpy preprocessing, the nnrt binding for "
              "the network; T processes). Both Python figures exclude interpreter start-up.\n")
        print("| files | count | threads | nnrt classify | classify_files (Python) | Python baseline | classify_files / baseline |")
        print("|---|---|---|---|---|---|---|")
        for label, folder, count in (("28x28 grey PNG", pngs, 2000), ("1000x1000 RGB JPEG, quality 90", jpegs, 200)):
            for threads in (1, 2):
                times, ours, base = [], [], []
                for _ in range(3):   # interleaved, since the machine is shared
                    times.append(classify(model, folder, threads)[1])
                    o = baseline(model, folder, threads, nnrt_images=True)
                    b = baseline(model, folder, threads)
                    if o and b:
                        ours.append(o["files_per_s"])
                        base.append(b["files_per_s"])
                rate = count / statistics.median(times)
                if base:
                    o, b = statistics.median(ours), statistics.median(base)
                    print(f"| {label} | {count} | {threads} | {rate:,.0f} | {o:,.0f} | {b:,.0f} | {o / b:.1f}x |")
                else:
                    print(f"| {label} | {count} | {threads} | {rate:,.0f} | not run (no Pillow or nnrt in build/venv-bench) | | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
