#!/usr/bin/env python3
"""Reproduce the book's figures: train presets with the release `nnrt` CLI and record the results
in bench/ACCURACY.md, next to the book's figure.

    bench/accuracy.py ch1 ch3-l2-100             train these presets (seed 1) and update the table
    bench/accuracy.py --seed 2 ch6-conv1         another seed (rows are kept per preset and seed)
    bench/accuracy.py --all                      every preset (many hours on 2 cores)
    bench/accuracy.py --table-only               rewrite the table from the models already trained

Every run writes a checkpoint after each epoch; if a run is interrupted (a reboot, Ctrl-C), running
the same command again resumes it from its last completed epoch (`nnrt train --resume`), and the
row then says so. An ensemble preset's members are also recorded as rows of the single-network
preset they are (member k of `ch6-ensemble --seed s` is exactly `ch6-dropout --seed s+k`).

Our figure is measured as the book measured its own: the test accuracy at the epoch with the best
validation accuracy where the preset also monitors the test set (chapter 6, network3.py), else the
peak accuracy on the evaluation data the preset monitors (test data in chapters 1 and 3 as
network.py/network2.py print it, validation data for ch3-l2-100 and chapter 5), or the ensemble's
test accuracy. Each row keeps the exact command that produced it. Models and
logs go to build/accuracy/. Needs MNIST (MNIST_DIR or the download cache) and scripts/build.sh.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / "bench" / "ACCURACY.md"
OUT = ROOT / "build" / "accuracy"
NOTES_HEADING = "## Notes"
HEADER = ("| preset | book | ours | difference | seed | epochs | wall time | s/epoch | measured on | command |\n"
          "|---|---|---|---|---|---|---|---|---|---|")


def run_json(nnrt: str, *args: str) -> list[dict]:
    out = subprocess.run([nnrt, *args], check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def percent(correct: int, total: int) -> float:
    return 100.0 * correct / total if total else 0.0


def our_figure(model: dict) -> tuple[str, float | None]:
    """(how it was measured, accuracy in percent) from `nnrt inspect --json`."""
    if "ensemble" in model:
        for e in model["ensemble"].get("evaluations", []):
            m = e["metrics"]
            if "t10k" in e["dataset"] and "correct" in m:
                return (f"ensemble on test ({e['dataset']})", percent(m["correct"], m["total"]))
        return ("ensemble: no test evaluation recorded", None)
    net = model["network"]
    prov = net.get("provenance", {})
    epochs = prov.get("epochs", [])
    split = prov.get("evaluation_split", "")
    if split and split != "t10k" and any(e.get("test") for e in epochs):
        scored = [e for e in epochs if e.get("evaluation") and "correct" in e["evaluation"] and e.get("test")]
        if scored:
            best = max(scored, key=lambda e: (e["evaluation"]["correct"], -e["epoch"]))
            t = best["test"]
            return (f"test at best validation epoch {best['epoch']}", percent(t["correct"], t["total"]))
    scored = [e for e in epochs if e.get("evaluation") and "correct" in e["evaluation"]]
    if split and scored:
        # The book prints the evaluation data's accuracy each epoch and quotes its peak: test data
        # in chapters 1 and 3, validation data in chapter 3's last runs and chapter 5.
        best = max(scored, key=lambda e: (e["evaluation"]["correct"], -e["epoch"]))
        ev = best["evaluation"]
        which = "test" if split == "t10k" else "validation"
        return (f"peak {which}, epoch {best['epoch']}", percent(ev["correct"], ev["total"]))
    for e in net.get("evaluations", []):
        m = e["metrics"]
        if "t10k" in e["dataset"] and "correct" in m:
            return ("final model on test", percent(m["correct"], m["total"]))
    return ("no test accuracy recorded", None)


# Ensemble presets whose members are exactly another preset's network, seed by seed.
MEMBER_PRESET = {"ch6-ensemble": "ch6-dropout"}


def member_figures(model: dict) -> list[tuple[str, float | None, int, float | None]]:
    """(how, accuracy, epochs, s/epoch) of each member of an ensemble model, in member order."""
    rows = []
    for member in model["ensemble"]["members"]:
        single = {"network": member}
        how, ours = our_figure(single)
        epochs, speed = epochs_and_speed(single)
        rows.append((how, ours, epochs, speed))
    return rows


def checkpoint_exists(model: Path) -> bool:
    """Whether an interrupted run of `model` left a checkpoint to resume (network or ensemble)."""
    # Ensemble members write MODEL.checkpoint.member1 ... memberN (numbered from 1).
    return (Path(f"{model}.checkpoint").exists() or Path(f"{model}.checkpoint.member1").exists())


def epochs_and_speed(model: dict) -> tuple[int, float | None]:
    nets = model["ensemble"]["members"] if "ensemble" in model else [model["network"]]
    epochs = [e for n in nets for e in n.get("provenance", {}).get("epochs", [])]
    if not epochs:
        return 0, None
    per_member = len(epochs) // len(nets)
    # The median: a run resumed from a checkpoint counts the time it was stopped in the epoch it
    # was stopped in (a paused process's clock runs on), which one such epoch must not skew.
    return per_member, statistics.median(e["seconds"] for e in epochs)


def load_rows(table: Path) -> dict[tuple[str, str], str]:
    rows: dict[tuple[str, str], str] = {}
    if table.exists():
        for line in table.read_text().splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) == 10 and cells[0] not in ("preset", "---"):
                rows[(cells[0], cells[4])] = line
    return rows


def write_table(rows: dict[tuple[str, str], str], order: list[str], table: Path) -> None:
    rank = {name: i for i, name in enumerate(order)}
    ordered = sorted(rows.items(), key=lambda kv: (rank.get(kv[0][0], 10**6), kv[0][0], int(kv[0][1] or 0)))
    text = f"""# The book's results, reproduced

Written by `bench/accuracy.py` (see its docstring); rerun it to add or refresh rows. "ours" is the
figure the book reports for that experiment, measured the same way: the test accuracy at the epoch
with the best validation accuracy where the book reports that (chapter 6), otherwise the peak
accuracy on the data the book monitored (test data in chapters 1 and 3, validation data for
`ch3-l2-100` and chapter 5), and the ensemble's test accuracy for ensembles. "difference" is
ours minus the book's, in percentage points. "s/epoch" is the median epoch's seconds, training
and evaluation (ensemble members train side by side, a thread each, and the last one left takes
both). Single runs vary with the seed by a few tenths of a point, hence rows for several seeds
(the notes below the table compare them with an independent run of the book's algorithm);
network.py's quadratic-cost nets with N(0,1) weights (`ch1`, `ch1-100`) sometimes leave whole
output classes saturated and stuck, as the book warns readers.

{HEADER}
""" + "\n".join(line for _, line in ordered) + "\n"
    missing = [name for name in order if not any(key[0] == name for key in rows)]
    if missing:
        text += "\nNot run yet: " + ", ".join(f"`{name}`" for name in missing) + ".\n"
    # Notes written by hand below the table (from a "## Notes" heading on) are kept.
    old = table.read_text() if table.exists() else ""
    if NOTES_HEADING in old:
        text += "\n" + old[old.index(NOTES_HEADING):]
    table.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("presets", nargs="*", help="presets to train (see `nnrt presets`)")
    parser.add_argument("--all", action="store_true", help="every preset")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--nnrt", default=str(ROOT / "build" / "bin" / "nnrt"))
    parser.add_argument("--table-only", action="store_true", help="rebuild rows from build/accuracy/*.nnrt")
    parser.add_argument("--table", type=Path, default=TABLE, help="the table to update (default: %(default)s)")
    parser.add_argument("--out-dir", type=Path, default=OUT, help="models and logs (default: %(default)s)")
    args = parser.parse_args()
    table, out_dir = args.table.resolve(), args.out_dir.resolve()

    presets = {p["name"]: p for p in run_json(args.nnrt, "presets", "--json")}
    order = list(presets)
    names = order if args.all else args.presets
    unknown = [n for n in names if n not in presets]
    if unknown:
        print(f"accuracy.py: unknown presets {unknown}; known: {', '.join(order)}", file=sys.stderr)
        return 64
    if not names and not args.table_only:
        parser.print_usage(sys.stderr)
        return 64
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = load_rows(table)
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                   if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    cores = os.cpu_count() or 0
    today = time.strftime("%Y-%m-%d")
    version = subprocess.run([args.nnrt, "--version"], capture_output=True, text=True).stdout.strip()
    kernels = re.search(r"kernels: ([^)]+)", version)
    build = f", kernels {kernels.group(1)}" if kernels else ""

    jobs = []
    if args.table_only:
        for f in sorted(out_dir.glob("*-seed*.nnrt")):
            m = re.fullmatch(r"(.+)-seed(\d+)\.nnrt", f.name)
            if m and m.group(1) in presets:
                jobs.append((m.group(1), int(m.group(2)), f, None))
    else:
        for name in names:
            model = out_dir / f"{name}-seed{args.seed}.nnrt"
            command = [args.nnrt, "train", "--preset", name, "--seed", str(args.seed), "--checkpoint",
                       "--out", str(model)]
            shown = " ".join(["nnrt", *command[1:]]).replace(str(ROOT) + "/", "")
            log = out_dir / f"{name}-seed{args.seed}.log"
            resumed = checkpoint_exists(model)
            if resumed:
                # An interrupted earlier run: continue it, keeping its log and its recorded command.
                command = [args.nnrt, "train", "--resume", "--out", str(model)]
                shown_file = out_dir / f"{name}-seed{args.seed}.command"
                if shown_file.exists():
                    shown = shown_file.read_text().strip()
                shown += "; interrupted, then nnrt train --resume --out " + str(model).replace(str(ROOT) + "/", "")
            else:
                (out_dir / f"{name}-seed{args.seed}.command").write_text(shown + "\n")
            print(f"==> {' '.join(['nnrt', *command[1:]]).replace(str(ROOT) + '/', '')}", flush=True)
            start = time.monotonic()
            with log.open("a" if resumed else "w") as out:
                proc = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT)
            wall = time.monotonic() - start
            if proc.returncode != 0:
                print(f"accuracy.py: {name} failed (exit {proc.returncode}); see {log}", file=sys.stderr)
                return 1
            jobs.append((name, args.seed, model, (None if resumed else wall, shown)))

    for name, seed, model, run in jobs:
        info = run_json(args.nnrt, "inspect", "--json", str(model))[0]
        how, ours = our_figure(info)
        epochs, speed = epochs_and_speed(info)
        book = presets[name].get("book")
        book_value = float(book.rstrip("%")) if book else None
        diff = f"{ours - book_value:+.2f}" if ours is not None and book_value is not None else "-"
        old = rows.get((name, str(seed)))
        if run is None and old:
            # Refresh the figures, keeping the measured wall time and command of the original row.
            cells = [c.strip() for c in old.strip().strip("|").split("|")]
            wall_text, shown, measured = cells[6], cells[9].strip("`"), cells[8]
        else:
            wall, shown = run if run else (None, "(table-only)")
            if wall:
                wall_text = f"{wall / 60:.1f} min"
            elif run and speed is not None:
                # A resumed run: its wall time is spread over several processes; the epochs' own
                # times (training and evaluation) add up to most of it.
                members = len(info["ensemble"]["members"]) if "ensemble" in info else 1
                wall_text = f"{speed * epochs * members / 60:.1f} min of epochs"
            else:
                wall_text = "-"
            measured = f"{today}, {cores} cores {cpu}{build}"
        ours_text = f"{ours:.2f}% ({how})" if ours is not None else how
        speed_text = f"{speed:.3g}" if speed is not None else "-"
        rows[(name, str(seed))] = (f"| {name} | {book or '-'} | {ours_text} | {diff} | {seed} | {epochs} | "
                                   f"{wall_text} | {speed_text} | {measured} | `{shown}` |")
        print(rows[(name, str(seed))], flush=True)
        single = MEMBER_PRESET.get(name)
        if single and single in presets and "ensemble" in info:
            single_book = presets[single].get("book")
            single_value = float(single_book.rstrip("%")) if single_book else None
            for k, (m_how, m_ours, m_epochs, m_speed) in enumerate(member_figures(info)):
                m_diff = (f"{m_ours - single_value:+.2f}" if m_ours is not None and single_value is not None
                          else "-")
                m_text = f"{m_ours:.2f}% ({m_how})" if m_ours is not None else m_how
                existing = rows.get((single, str(seed + k)))
                if existing and "| member " not in existing:
                    continue    # a run of that preset on its own is recorded already; keep it
                m_speed_text = f"{m_speed:.3g}" if m_speed is not None else "-"
                rows[(single, str(seed + k))] = (
                    f"| {single} | {single_book or '-'} | {m_text} | {m_diff} | {seed + k} | {m_epochs} | "
                    f"(in the {name} run) | {m_speed_text} | {measured} | member {k + 1} of `{shown}` |")
                print(rows[(single, str(seed + k))], flush=True)
    write_table(rows, order, table)
    print(f"wrote {table}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
