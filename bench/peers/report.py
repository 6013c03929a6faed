"""The markdown report of run.py: tables per section, then issue 4's bars with PASS or FAIL."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

ENGINE_TITLES = {"nnrt-c": "nnrt (C)", "nnrt-c-model": "nnrt (C, model_predict)",
                 "nnrt-py": "nnrt (Python)", "ort": "ONNX Runtime",
                 "torch": "PyTorch", "litert": "LiteRT", "numpy": "numpy", "nnrt": "nnrt"}
# Issue 4's bars.
INFER_BAR = {"mlp30": 1.2, "mlp100": 1.2, "conv": 1.5}
C_BATCH1_US = 3.0
PY_VS_ORT, PY_VS_LITERT = 2.0, 1.0
TRAIN_BAR = {"mlp30": 5.0, "mlp100": 5.0, "conv": 2.0}
CH6_LIMIT_S = 3600.0
PEAK_FRACTION = 0.60


@dataclass
class Stat:
    """Repeated measurements of one figure."""

    values: List[float]

    @property
    def median(self) -> float:
        return float(statistics.median(self.values))

    @property
    def best(self) -> float:
        return max(self.values)

    @property
    def spread(self) -> float:
        """Half the range, relative to the median."""
        return (max(self.values) - min(self.values)) / 2 / self.median if self.median else 0.0


def num(x: float) -> str:
    if x >= 1000:
        return f"{x:,.0f}"
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def cell(stat: Optional[Stat], missing: str = "n/a") -> str:
    if stat is None:
        return missing
    if len(stat.values) < 2:
        return num(stat.median)
    return f"{num(stat.median)} ±{stat.spread * 100:.0f}%"


def ratio(a: Optional[Stat], b: Optional[Stat]) -> str:
    return f"{a.median / b.median:.2f}x" if a and b else "n/a"


def table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


class Bars:
    def __init__(self) -> None:
        self.rows: List[List[str]] = []

    def add(self, bar: str, measured: str, passed: Optional[bool], note: str = "") -> None:
        status = "NOT MEASURED" if passed is None else ("PASS" if passed else "FAIL")
        self.rows.append([bar, measured, status + (f" ({note})" if note else "")])

    def not_run(self, bar: str, why: str) -> None:
        self.rows.append([bar, "-", f"NOT RUN ({why})"])


def render(facts: Dict[str, str], settings: Any, threads: List[int], versions: Dict[str, str],
           unavailable: Dict[str, str], models: List[Any], checks: List[List[str]],
           results: Dict[str, Any]) -> str:
    titles = {net.key: net.title for net in models}
    s = settings
    out: List[str] = ["# nnrt and its peers, side by side", ""]
    out += [f"- Command: `{facts['command']}`", f"- Date: {facts['date']}",
            f"- Machine: {facts['machine']}; load average at start {facts['load']}",
            f"- nnrt: {facts['nnrt']}", f"- Peer packages: {facts['peers']}",
            f"- C compiler: {facts['compiler']}"]
    for engine, version in sorted(versions.items()):
        out.append(f"- {ENGINE_TITLES.get(engine, engine)} as loaded: {version}")
    for engine, why in sorted(unavailable.items()):
        out.append(f"- {ENGINE_TITLES.get(engine, engine)}: {why}; its cells read n/a")
    out += [
        f"- Method: each figure is the median of {s.repeats} repeat(s) (training: {s.train_repeats}) "
        f"taken in turns, engine after engine (A B C A B C ...), since the machine is shared; "
        f"\"±x%\" is half the range of the repeats relative to the median. An inference repeat is "
        f"{s.warmup} warm-up call(s), then calls for at least {s.seconds:g} s and "
        f"{s.min_calls} call(s); call i takes the batch starting at test image i*batch (mod "
        f"10,000), float32, outputs only. Threads: {', '.join(map(str, threads))}, for the peers "
        f"and for nnrt, which runs through a session (nnrt_session_create with the row's thread "
        f"count, made before the warm-up; 1 thread = the calling thread only).",
        "",
        "Equivalence check (setup): max |output - nnrt's output| over the first 100 MNIST test "
        "images (the run stops above 1e-4):",
        "",
        table(["network", "ONNX Runtime", "PyTorch", "LiteRT"], checks),
    ]
    bars = Bars()
    infer = results.get("infer")
    if infer is not None:
        out += ["", "## 1. Inference throughput (images/s), C API vs peers from Python", "",
                "*nnrt (C)*: bench_infer.c calling nnrt_session_predict on one session with the "
                "row's thread count (scratch memory kept between calls: after the warm-up a call "
                "allocates nothing; an N-thread session runs on the calling thread and N - 1 threads "
                "of its own, which watch for the next call for at most 0.1 ms before sleeping, and uses "
                "fewer threads when a thread's share would be under about 500,000 multiply-adds, so "
                "small batches of the MLPs run on the calling thread alone; with fewer images than "
                "threads, the conv net's convolutions split their output maps between the threads). "
                "*model_predict*: the same program calling nnrt_model_predict, which takes its "
                "scratch memory per call and has no threads (1-thread rows only; the ratios use "
                "the session figure). ONNX Runtime (InferenceSession.run, intra-op threads as "
                "listed, inter-op 1, sequential) and PyTorch (inference_mode) from Python. At "
                "batch 1, Python's per-call overhead is part of the peers' figures: section 2 "
                "compares Python with Python.", ""]
        rows = []
        for (key, batch, t) in sorted({k[:3] for k in infer}, key=lambda k: (list(titles).index(k[0]), k[1], k[2])):
            get = lambda e: infer.get((key, batch, t, e), {}).get("images_per_s")  # noqa: E731
            rows.append([titles[key], str(batch), str(t), cell(get("nnrt-c")),
                         cell(get("nnrt-c-model"), "-"), cell(get("ort")),
                         cell(get("torch")), ratio(get("nnrt-c"), get("ort")),
                         ratio(get("nnrt-c"), get("torch"))])
        out.append(table(["network", "batch", "threads", "nnrt (C)", "model_predict", "ONNX Runtime",
                          "PyTorch", "nnrt / ORT", "nnrt / PyTorch"], rows))
        out += ["", "Per-call latency, µs: median / p99 of the calls (medians over the repeats)", ""]
        rows = []
        for (key, batch, t) in sorted({k[:3] for k in infer}, key=lambda k: (list(titles).index(k[0]), k[1], k[2])):
            row = [titles[key], str(batch), str(t)]
            for engine in ("nnrt-c", "nnrt-c-model", "ort", "torch"):
                m = infer.get((key, batch, t, engine))
                row.append(f"{num(m['latency_us_median'].median)} / {num(m['latency_us_p99'].median)}"
                           if m else ("-" if engine == "nnrt-c-model" else "n/a"))
            rows.append(row)
        out.append(table(["network", "batch", "threads", "nnrt (C)", "model_predict", "ONNX Runtime",
                          "PyTorch"], rows))
        infer_bars(bars, infer, titles, threads)
    else:
        for key in INFER_BAR:
            bars.not_run(f"inference {titles[key]}: >= {INFER_BAR[key]}x ORT at batch >= 100", "--only")
        bars.not_run(f"C batch 1, MLP 784-100-10: < {C_BATCH1_US} µs/image", "--only")

    py = results.get("python")
    if py is not None:
        out += ["", "## 2. Python APIs: calls/s (batch 1) and images/s", "",
                "nnrt's ctypes binding (Session.predict_proba on one nnrt.Session per network "
                "with the row's thread count, made before the warm-up), ONNX Runtime "
                "(InferenceSession.run), LiteRT (Interpreter: set_tensor, invoke, get_tensor; one "
                "interpreter resized per batch size, default XNNPACK delegate, num_threads as "
                "listed). Every engine returns a new output array per call. Latency: median / p99 "
                "µs per call.", ""]
        rows = []
        for (key, batch, t) in sorted({k[:3] for k in py}, key=lambda k: (list(titles).index(k[0]), k[1], k[2])):
            get = lambda e, f="images_per_s": py.get((key, batch, t, e), {}).get(f)  # noqa: E731
            lat = lambda e: (f"{num(get(e, 'latency_us_median').median)} / "  # noqa: E731
                             f"{num(get(e, 'latency_us_p99').median)}" if get(e) else "n/a")
            rows.append([titles[key], str(batch), str(t), cell(get("nnrt-py")), cell(get("ort")),
                         cell(get("litert")), ratio(get("nnrt-py"), get("ort")),
                         ratio(get("nnrt-py"), get("litert")), lat("nnrt-py"), lat("ort"), lat("litert")])
        out.append(table(["network", "batch", "threads", "nnrt", "ONNX Runtime", "LiteRT",
                          "nnrt / ORT", "nnrt / LiteRT", "nnrt µs", "ORT µs", "LiteRT µs"], rows))
        python_bars(bars, py, titles, threads)
    else:
        bars.not_run(f"Python batch 1: >= {PY_VS_ORT}x ORT calls/s and > LiteRT", "--only")

    train = results.get("train")
    if train is not None:
        out += ["", "## 3. Training: seconds per epoch of 50,000 images, mini-batch 10", ""]
        out.append(
            "nnrt: `nnrt train` (one thread; the epoch's SGD seconds from the model file's "
            "provenance, without evaluation). PyTorch: torch.optim.SGD over shuffled index "
            "batches of tensors in memory, weight decay lambda/n on weights only. numpy: this "
            "folder's matrix-form backpropagation (trainers.py), float32. Hyper-parameters: "
            "784-30-10 quadratic eta 3.0; 784-100-10 cross-entropy eta 0.5 lambda 5.0; conv net "
            "ReLU log-likelihood eta 0.03 lambda 1.0 (network3's lmbda 0.1). Timed on: "
            + ", ".join(f"{titles[k]} {n:,} images" for k, n in train.images.items())
            + " (scaled to 50,000). Peer/nnrt is how many times faster nnrt is.")
        out.append("")
        head = ["network", "nnrt"] + [f"{ENGINE_TITLES[e]} {t}t" for e in ("torch", "numpy") for t in threads]
        head += [f"PyTorch {t}t / nnrt" for t in threads] + [f"numpy {t}t / nnrt" for t in threads]
        rows = []
        for key in train.images:
            n = train.seconds.get((key, "nnrt"))
            peers = [train.seconds.get((key, f"{e}/{t}")) for e in ("torch", "numpy") for t in threads]
            speedups = [ratio(train.seconds.get((key, f"{e}/{t}")), n)
                        for e in ("torch", "numpy") for t in threads]
            rows.append([titles[key], cell(n)] + [cell(p) for p in peers] + speedups)
        out.append(table(head, rows))
        total = train.ch6_seconds / train.ch6_images * 250000 * 40
        out += ["", f"Book's final ch6 network (two conv-pool layers, two fc1000 ReLU layers with "
                f"dropout 0.5, softmax10, expanded data): nnrt took {train.ch6_seconds:.2f} s of SGD "
                f"for {train.ch6_images:,} expanded images, one run. **Extrapolated**, not measured: "
                f"{train.ch6_seconds / train.ch6_images * 250000:,.0f} s per 250,000-image epoch, "
                f"{total:,.0f} s = {total / 3600:.2f} h for 40 epochs."]
        train_bars(bars, train, titles, total)
    else:
        for key in TRAIN_BAR:
            bars.not_run(f"training {titles[key]}: >= {TRAIN_BAR[key]}x faster than PyTorch", "--only")
        bars.not_run("ch6 final network, 40 epochs: < 1 hour", "--only")

    memory = results.get("memory")
    if memory is not None:
        rows_mem, libs = memory
        out += ["", "## 4. Model load time, peak memory, library size", "",
                "A fresh process per engine and network: RSS after importing the engine and "
                "reading the 10,000 test images (31 MB, held by every process), the model load "
                "time (median; nnrt: nnrt_model_load, nnrt.Model; ORT: InferenceSession; "
                "LiteRT: Interpreter + allocate_tensors; PyTorch: weights from .npz into a new "
                "nn.Module), and the peak RSS (VmHWM) after inference at batch 1,000 (nnrt: "
                "through a 1-thread session).", ""]
        rows = []
        for r in rows_mem:
            rows.append([titles[r.net], ENGINE_TITLES[r.engine],
                         f"{r.load_ms:.3f}" if r.load_ms is not None else "n/a",
                         f"{r.baseline_kb / 1024:.1f}" if r.baseline_kb else "-",
                         f"{r.peak_kb / 1024:.1f}" if r.peak_kb else "n/a"])
        out.append(table(["network", "engine", "load ms", "RSS after import MiB", "peak RSS MiB"], rows))
        out += ["", table(["library", "main shared object", "MiB", "all .so it ships or needs, MiB"],
                          [[name, path, f"{size / 2**20:.1f}", f"{total / 2**20:.1f}"]
                           for name, path, size, total in libs])]

    peak = results.get("peak")
    if peak is not None:
        out += ["", "## 5. sgemm peak and nnrt's dense throughput", "",
                "numpy float32 matmul of square matrices (OPENBLAS_NUM_THREADS set before numpy "
                "loads, one process per thread count), 2n^3 flops per product; the best product "
                "per repeat, median and best over repeats. nnrt: 2 x MACs x images/s of the MLP "
                "at batch 1,000 through the C API, a 1-thread session, on the test images with "
                "every pixel moved off zero (x / 2 + 1/4), so that the dense product runs: on the "
                "images themselves nnrt skips the blank page's zeros (section 1).", ""]
        out += ["Then, on one thread, in turns: numpy's sgemm of the same size (its sustained "
                "rate: the median product of a window as long as nnrt's), then nnrt on each MLP, "
                "repeated; *in turns* is each nnrt window's share of the numpy window just "
                "before it (median over repeats), which the bar judges: a shared machine's load "
                "changes within minutes, so the best product of the whole run (*of best*) may "
                "come from a quieter moment than nnrt's windows.", ""]
        rows = [[f"sgemm {peak.sgemm_size[t]}x{peak.sgemm_size[t]}, best product per repeat", str(t),
                 cell(peak.sgemm[t]), num(peak.sgemm[t].best), "-", "-"] for t in sorted(peak.sgemm)]
        if peak.paired_sgemm:
            size = peak.sgemm_size.get(1)
            rows.append([f"sgemm {size}x{size}, sustained, in turns with nnrt", "1", cell(peak.paired_sgemm),
                         num(peak.paired_sgemm.best), "-", "-"])
        base = peak.sgemm.get(1)
        for key, stat in peak.nnrt_dense.items():
            paired = peak.paired_share.get(key)
            rows.append([f"nnrt {titles[key]}, batch 1000", "1", cell(stat), num(stat.best),
                         f"{paired.median * 100:.0f}%" if paired else "n/a",
                         f"{stat.median / base.best * 100:.0f}%" if base else "n/a"])
        out.append(table(["what", "threads", "GFLOPS (median)", "GFLOPS (best)", "in turns", "of best"], rows))
        for key, stat in peak.nnrt_dense.items():
            paired = peak.paired_share.get(key)
            if paired is None or base is None:
                bars.add(f"dense {titles[key]} batch 1000: >= 60% of sgemm peak", "numpy missing", None)
            else:
                bars.add(f"dense {titles[key]} batch 1000: >= {PEAK_FRACTION:.0%} of 1-thread sgemm, in turns",
                         f"{paired.median:.0%} (median of {len(paired.values)} pairs; "
                         f"{stat.median / base.best:.0%} of the run's best product, {num(base.best)} GFLOPS)",
                         paired.median >= PEAK_FRACTION)
    else:
        bars.not_run("dense layers at batch 1000: >= 60% of sgemm peak", "--only")

    out += ["", "## Issue 4's bars", "", table(["bar", "measured", "status"], bars.rows), ""]
    return "\n".join(out)


def infer_bars(bars: Bars, infer: Dict[Tuple[str, int, int, str], Dict[str, Stat]],
               titles: Dict[str, str], threads: List[int]) -> None:
    for key, need in INFER_BAR.items():
        for t in (1, 2):
            if t not in threads:
                bars.not_run(f"inference {titles[key]}, {t} thread(s): >= {need}x ORT at batch >= 100",
                             "--threads")
                continue
            ratios = []
            for (k, batch, tt, engine), m in infer.items():
                if k != key or tt != t or engine != "ort" or batch < 100:
                    continue
                nnrt = infer.get((key, batch, t, "nnrt-c")) or infer.get((key, batch, 1, "nnrt-c"))
                if nnrt:
                    ratios.append((nnrt["images_per_s"].median / m["images_per_s"].median, batch,
                                   (key, batch, t, "nnrt-c") in infer))
            name = f"inference {titles[key]}, {t} thread(s): >= {need}x ORT at batch >= 100"
            if not ratios:
                bars.add(name, "n/a", None, "no batch >= 100 measured, or ORT missing")
                continue
            worst, batch, same_threads = min(ratios)
            measured = f"{worst:.2f}x (lowest, at batch {batch})"
            if same_threads:
                bars.add(name, measured, worst >= need)
            elif worst >= need:
                bars.add(name, measured, True, "nnrt at 1 thread against ORT at "
                         f"{t}: a lower bound")
            else:
                bars.add(name, measured + " with nnrt at 1 thread", None,
                         f"nnrt's {t}-thread cells are missing")
    batch1 = infer.get(("mlp100", 1, 1, "nnrt-c"))
    name = f"C batch 1, MLP 784-100-10: < {C_BATCH1_US:g} µs per image"
    if batch1:
        us = batch1["latency_us_median"].median
        plain = infer.get(("mlp100", 1, 1, "nnrt-c-model"))
        also = (f"; nnrt_model_predict {plain['latency_us_median'].median:.2f} µs" if plain else "")
        bars.add(name, f"{us:.2f} µs (median call, 1-thread session{also})", us < C_BATCH1_US)
    else:
        bars.add(name, "n/a", None, "batch 1 not measured")


def python_bars(bars: Bars, py: Dict[Tuple[str, int, int, str], Dict[str, Stat]],
                titles: Dict[str, str], threads: List[int]) -> None:
    """Issue 4's batch-1 Python bars, per network and per thread count (the same for every
    engine in a row, as for the C API's bars)."""
    for key in titles:
        for t in threads:
            get = lambda e: py.get((key, 1, t, e), {}).get("images_per_s")  # noqa: E731
            n, ort, lite = get("nnrt-py"), get("ort"), get("litert")
            if not n:
                continue
            what = f"Python batch 1, {titles[key]}, {t} thread{'s' if t > 1 else ''}"
            if ort:
                r = n.median / ort.median
                bars.add(f"{what}: >= {PY_VS_ORT:g}x ORT calls/s",
                         f"{r:.2f}x ({num(n.median)} vs {num(ort.median)} calls/s)", r >= PY_VS_ORT)
            else:
                bars.add(f"{what}: >= {PY_VS_ORT:g}x ORT calls/s", "n/a", None, "ONNX Runtime missing")
            if lite:
                r = n.median / lite.median
                bars.add(f"{what}: more calls/s than LiteRT",
                         f"{r:.2f}x ({num(n.median)} vs {num(lite.median)} calls/s)", r > PY_VS_LITERT)
            else:
                bars.add(f"{what}: more calls/s than LiteRT", "n/a", None, "LiteRT missing")


def train_bars(bars: Bars, train: Any, titles: Dict[str, str], ch6_total: float) -> None:
    for key, need in TRAIN_BAR.items():
        name = f"training {titles[key]}: >= {need:g}x faster than PyTorch (its fastest thread count)"
        n = train.seconds.get((key, "nnrt"))
        torch = [(v, k[1]) for k, v in train.seconds.items() if k[0] == key and k[1].startswith("torch")]
        if not n or not torch:
            bars.add(name, "n/a", None, "PyTorch missing" if n else "nnrt failed")
            continue
        fastest, which = min(torch, key=lambda p: p[0].median)
        r = fastest.median / n.median
        bars.add(name, f"{r:.2f}x ({num(n.median)} s vs {num(fastest.median)} s, PyTorch "
                 f"{which.split('/')[1]} thread(s))", r >= need)
    bars.add("ch6 final network, 40 epochs of 250,000 images: < 1 hour",
             f"{ch6_total / 3600:.2f} h (extrapolated from {train.ch6_images:,} images)",
             ch6_total < CH6_LIMIT_S, "extrapolation")
