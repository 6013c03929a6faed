#!/usr/bin/env python3
"""Side-by-side benchmark of nnrt against ONNX Runtime, PyTorch, numpy and LiteRT.

One run builds three networks with fixed random weights (MLP 784-30-10, MLP 784-100-10, the
conv net), writes them for every engine, checks that all engines compute the same outputs on 100
MNIST test images (else it stops), then measures the sections below and prints a markdown
report ending with issue 4's bars, each with its measured figure and PASS or FAIL.

  infer   C API inference (bench_infer.c: a session per thread count, and nnrt_model_predict at
          1 thread) against ONNX Runtime and PyTorch from Python
  python  batch 1 and 1000 through the Python APIs: nnrt's binding (Session), ONNX Runtime, LiteRT
  train   seconds per epoch of mini-batch SGD: nnrt's CLI, PyTorch, numpy; the ch6 final net
  memory  model load time, peak RSS, shipped library sizes
  peak    numpy sgemm GFLOPS (the machine's peak) and nnrt's dense GFLOPS at batch 1000, on
          inputs with no zeros (on MNIST images nnrt skips the blank page's zeros)

Run bench/peers/setup.sh once first; run.py re-executes itself with build/venv-bench's python.
See bench/peers/README.md for what every column means.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import importlib.metadata
import importlib.util
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
VENV = REPO / "build" / "venv-bench"
SECTIONS = ("infer", "python", "train", "memory", "peak")
DENSE_INPUTS = "test-images-dense.f32"   # x / 2 + 1/4: no zeros for the product to skip
# nnrt runs at every thread count of --threads through a session (bench_infer.c's default API,
# engines.NnrtPy's Session(threads=N)). "nnrt-c-model" is nnrt_model_predict, measured at 1 thread
# only (it has no threads): the same work without a session's reusable memory.
NNRT_MODEL_API_THREADS = {1}

if __name__ == "__main__" and Path(sys.prefix).resolve() != VENV.resolve() \
        and (VENV / "bin" / "python").exists() and not os.environ.get("NNRT_BENCH_NO_REEXEC"):
    os.execv(str(VENV / "bin" / "python"), [str(VENV / "bin" / "python"), __file__, *sys.argv[1:]])

import numpy as np  # noqa: E402  (after the re-exec into the venv)

import nets  # noqa: E402
import report  # noqa: E402
from report import Stat  # noqa: E402
from trainers import TRAIN_IMAGES  # noqa: E402

# The nnrt CLI runs matching trainers.TRAINING (the torch and numpy peers).
NNRT_TRAIN_FLAGS: Dict[str, List[str]] = {
    "mlp30": ["--preset", "ch1"],   # [784,30,10] sigmoid, quadratic, eta 3.0
    "mlp100": ["--sizes", "784,100,10", "--cost", "cross-entropy", "--eta", "0.5", "--lambda", "5"],
    # ch6-relu's network and hyper-parameters (network3's lmbda 0.1 = --lambda 1)
    "conv": ["--layers", "convpool20x5:relu,convpool40x5:relu,fc100:relu,softmax10",
             "--cost", "log-likelihood", "--init", "network3", "--eta", "0.03", "--lambda", "1"],
}
# ch6-dropout spelled out: the preset keeps the best epoch, which needs per-epoch evaluation.
CH6_FINAL_FLAGS = ["--layers", "convpool20x5:relu,convpool40x5:relu,fc1000:relu:drop0.5,"
                   "fc1000:relu:drop0.5,softmax10:drop0.5", "--cost", "log-likelihood",
                   "--init", "network3", "--eta", "0.03", "--expand", "shift1"]
CH6_FINAL_EPOCH_IMAGES, CH6_FINAL_EPOCHS = 250000, 40
PEER_PACKAGES = ("numpy", "onnx", "onnxruntime", "ai-edge-litert", "torch")
# What each peer engine needs importable here (run.py writes ONNX and TFLite files itself).
ENGINE_MODULES = {"ort": ("onnx", "onnxruntime"), "litert": ("ai_edge_litert", "flatbuffers"),
                  "torch": ("torch",), "numpy": ("numpy",)}


class BenchError(RuntimeError):
    pass


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


@dataclass
class Settings:
    repeats: int
    seconds: float
    warmup: int
    min_calls: int
    infer_batches: List[int]
    python_batches: List[int]
    train_repeats: int
    mlp_fraction: float
    conv_fraction: float
    ch6_images: int
    load_repeats: int
    sgemm_sizes: List[int]
    sgemm_seconds: float


def settings_for(args: argparse.Namespace) -> Settings:
    if args.quick:
        s = Settings(repeats=2, seconds=0.03, warmup=1, min_calls=1, infer_batches=[1, 100, 1000],
                     python_batches=[1, 1000], train_repeats=1, mlp_fraction=0.02,
                     conv_fraction=0.01, ch6_images=500, load_repeats=3, sgemm_sizes=[1024],
                     sgemm_seconds=0.2)
    else:
        s = Settings(repeats=5, seconds=0.5, warmup=3, min_calls=2,
                     infer_batches=[1, 10, 100, 1000, 10000], python_batches=[1, 1000],
                     train_repeats=3, mlp_fraction=1.0, conv_fraction=0.2, ch6_images=10000,
                     load_repeats=20, sgemm_sizes=[1024, 2048], sgemm_seconds=1.5)
    if args.repeats:
        s.repeats = s.train_repeats = args.repeats
    if args.seconds:
        s.seconds = args.seconds
    if args.train_fraction:
        s.mlp_fraction = s.conv_fraction = args.train_fraction
    if args.ch6_images:
        s.ch6_images = args.ch6_images
    return s


# --- Processes ------------------------------------------------------------------------------------

class Worker:
    """One engines.py process (an engine at a thread count), asked JSON requests line by line."""

    def __init__(self, engine: str, threads: int, ctx: "Context") -> None:
        env = ctx.worker_env(threads)
        if engine == "numpy":   # a pinned OpenBLAS core type would slow the sgemm peak
            env.pop("OPENBLAS_CORETYPE", None)
            env.pop("OPENBLAS_L2_SIZE", None)
        self.name = f"{engine}/{threads}t"
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "engines.py"), engine, "--threads", str(threads),
             "--work", str(ctx.work)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=ctx.worker_log, text=True, env=env)
        self.log_path = ctx.work / "workers.log"
        hello = self._read()
        self.ready: bool = hello["ready"]
        self.version: str = hello.get("version", "")
        self.error: str = hello.get("error", "")

    def _read(self) -> Dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise BenchError(f"worker {self.name} exited (status {self.process.wait()}); "
                             f"its messages are in {self.log_path}")
        return json.loads(line)

    def ask(self, op: str, **request: Any) -> Dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"op": op, **request}) + "\n")
        self.process.stdin.flush()
        answer = self._read()
        if "error" in answer:
            raise BenchError(f"{self.name} {op} {request}: {answer['error']}\n{answer.get('traceback', '')}")
        return answer

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait()


@dataclass
class Context:
    args: argparse.Namespace
    settings: Settings
    work: Path
    bench_infer: Path = Path()
    workers: Dict[Tuple[str, int], Worker] = field(default_factory=dict)
    unavailable: Dict[str, str] = field(default_factory=dict)   # engine -> reason
    versions: Dict[str, str] = field(default_factory=dict)
    worker_log: Any = None   # the workers' stderr (engine chatter, crashes): WORK/workers.log

    def worker_env(self, threads: int) -> Dict[str, str]:
        env = dict(os.environ)
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[name] = str(threads)
        env["NNRT_LIBRARY"] = str(self.args.lib)
        return env

    def worker(self, engine: str, threads: int) -> Optional[Worker]:
        """The live worker for (engine, threads), or None if the engine cannot run here."""
        if engine in self.unavailable:
            return None
        if (engine, threads) not in self.workers:
            w = Worker(engine, threads, self)
            if not w.ready:
                self.unavailable[engine] = w.error
                log(f"{engine}: {w.error}")
                w.close()
                return None
            self.versions.setdefault(engine, w.version)
            self.workers[engine, threads] = w
        return self.workers[engine, threads]

    def close_workers(self) -> None:
        for w in self.workers.values():
            w.close()
        self.workers.clear()

    def c_infer(self, key: str, batch: int, seconds: float, threads: int = 1,
                load_repeats: int = 1, warmup: Optional[int] = None,
                api: str = "session", inputs: str = "test-images.f32") -> Dict[str, Any]:
        """bench_infer's JSON: through a session with `threads` threads (api "session"), or
        through nnrt_model_predict (api "model", 1 thread), on the float file `inputs` of the
        work folder."""
        s = self.settings
        out = subprocess.run(
            [str(self.bench_infer), str(self.work / f"{key}.nnrt"), str(self.work / inputs),
             str(batch), "--seconds", str(seconds), "--min-calls", str(s.min_calls),
             "--warmup", str(s.warmup if warmup is None else warmup),
             "--load-repeats", str(load_repeats), "--threads", str(threads), "--api", api],
            capture_output=True, text=True, env=self.worker_env(threads))
        if out.returncode != 0:
            raise BenchError(f"bench_infer {key} {batch} --threads {threads} --api {api}: "
                             f"{out.stderr.strip()}")
        result: Dict[str, Any] = json.loads(out.stdout)
        if result.get("threads") != threads and not (api == "session" and threads == 0):
            raise BenchError(f"bench_infer {key} {batch}: asked for {threads} thread(s), "
                             f"ran {result.get('threads')}")
        return result


# --- Setup ----------------------------------------------------------------------------------------

def prepare(ctx: Context) -> List[nets.Net]:
    """Writes every model file and the input arrays into the work folder, compiles bench_infer,
    and checks which peers are installed."""
    args, work = ctx.args, ctx.work
    work.mkdir(parents=True, exist_ok=True)
    for path in (args.lib, args.include / "nnrt.h", args.cli):
        if not path.exists():
            raise BenchError(f"{path} is missing: build nnrt first (scripts/build.sh)")
    for engine, modules in ENGINE_MODULES.items():
        missing = [m for m in modules if importlib.util.find_spec(m) is None]
        if missing:
            ctx.unavailable[engine] = f"not installed ({', '.join(missing)})"
    ctx.worker_log = open(work / "workers.log", "w")
    x_test, _ = nets.load_mnist(args.mnist, "test")
    np.save(work / "test-images.npy", x_test)
    x_test.tofile(work / "test-images.f32")
    # The same images with no pixel at zero, for the dense product's GFLOPS (section 5): on the
    # images themselves, nnrt skips the blank page's zeros.
    (x_test * np.float32(0.5) + np.float32(0.25)).astype(np.float32).tofile(work / DENSE_INPUTS)
    if "train" in args.only:
        x_train, y_train = nets.load_mnist(args.mnist, "train")
        np.save(work / "train-images.npy", x_train)
        np.save(work / "train-labels.npy", y_train)
    models = nets.make_nets()
    for net in models:
        np.savez(work / f"{net.key}.npz", **net.params)
        nets.write_nnrt(net, work / f"{net.key}.nnrt")
        if "ort" not in ctx.unavailable:
            nets.write_onnx(net, work / f"{net.key}.onnx")
        if "litert" not in ctx.unavailable:
            nets.write_tflite(net, work / f"{net.key}.tflite")
    ctx.bench_infer = work / "bench_infer"
    lib_dir = args.lib.resolve().parent
    command = [args.cc, "-O2", "-std=c99", "-Wall", "-I", str(args.include), str(HERE / "bench_infer.c"),
               "-L", str(lib_dir), "-l:" + args.lib.name, f"-Wl,-rpath,{lib_dir}", "-o", str(ctx.bench_infer)]
    compiled = subprocess.run(command, capture_output=True, text=True)
    if compiled.returncode != 0:
        raise BenchError(f"compiling bench_infer.c failed:\n{shlex.join(command)}\n{compiled.stderr}")
    return models


def verify(ctx: Context, models: List[nets.Net]) -> List[List[str]]:
    """All engines' outputs on the first 100 test images, against nnrt's; aborts past 1e-4."""
    rows, failures = [], []
    for net in models:
        nnrt_worker = ctx.worker("nnrt-py", 1)
        if nnrt_worker is None:
            raise BenchError(f"the nnrt binding cannot be imported: {ctx.unavailable['nnrt-py']}")
        reference = np.array(nnrt_worker.ask("outputs", key=net.key, count=100)["outputs"])
        row = [net.title]
        for engine in ("ort", "torch", "litert"):
            w = ctx.worker(engine, 1)
            if w is None:
                row.append("not installed")
                continue
            got = np.array(w.ask("outputs", key=net.key, count=100)["outputs"])
            diff = float(np.abs(got - reference).max())
            agree = int((got.argmax(axis=1) == reference.argmax(axis=1)).sum())
            row.append(f"{diff:.1e} ({agree}/100 same label)")
            if not diff <= 1e-4:
                failures.append(f"{engine} on {net.title}: max |diff| {diff:.3g}")
        rows.append(row)
    ctx.close_workers()
    if failures:
        raise BenchError("engines disagree with nnrt beyond 1e-4: " + "; ".join(failures))
    return rows


# --- Measuring ------------------------------------------------------------------------------------

Measure = Callable[[], Optional[Dict[str, Any]]]


def interleave(measures: Dict[str, Measure], repeats: int) -> Dict[str, List[Dict[str, Any]]]:
    """Runs every measure once per round, in turn (A B C A B C ...); None results are dropped."""
    results: Dict[str, List[Dict[str, Any]]] = {name: [] for name in measures}
    for _ in range(repeats):
        for name, measure in measures.items():
            result = measure()
            if result is not None:
                results[name].append(result)
    return results


InferTable = Dict[Tuple[str, int, int, str], Dict[str, Stat]]   # (net, batch, threads, engine)


def infer_engine_measures(ctx: Context, key: str, batch: int, engines: List[Tuple[str, int]]) -> Dict[str, Measure]:
    s = ctx.settings
    measures: Dict[str, Measure] = {}
    for engine, threads in engines:
        name = f"{engine}/{threads}"
        if engine == "nnrt-c":
            measures[name] = lambda t=threads: ctx.c_infer(key, batch, s.seconds, t)
            continue
        if engine == "nnrt-c-model":
            if threads in NNRT_MODEL_API_THREADS:
                measures[name] = functools.partial(ctx.c_infer, key, batch, s.seconds, threads, api="model")
            continue
        w = ctx.worker(engine, threads)
        if w is None:
            continue
        measures[name] = lambda w=w: w.ask("infer", key=key, batch=batch, seconds=s.seconds,
                                           min_calls=s.min_calls, warmup=s.warmup)
    return measures


def measure_inference(ctx: Context, models: List[nets.Net], engines: List[str],
                      batches: List[int]) -> InferTable:
    table: InferTable = {}
    combos = [(e, t) for e in engines for t in ctx.args.threads]
    for net in models:
        for batch in batches:
            log(f"{'/'.join(engines)}: {net.title}, batch {batch}")
            results = interleave(infer_engine_measures(ctx, net.key, batch, combos), ctx.settings.repeats)
            for name, runs in results.items():
                engine, threads = name.split("/")
                if runs:
                    table[net.key, batch, int(threads), engine] = {
                        f: Stat([r[f] for r in runs])
                        for f in ("images_per_s", "latency_us_median", "latency_us_p99")}
    ctx.close_workers()
    return table


def nnrt_train(ctx: Context, flags: List[str], limit: int, seed: int) -> Tuple[float, int]:
    """One epoch of the nnrt CLI; returns (SGD seconds from the file's provenance, images)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "model.nnrt"
        command = [str(ctx.args.cli), "train", *flags, "--epochs", "1", "--evaluate-on", "none",
                   "--quiet", "--seed", str(seed), "--data", str(ctx.args.mnist), "--out", str(out)]
        if limit < TRAIN_IMAGES:
            command += ["--train-limit", str(limit)]
        run = subprocess.run(command, capture_output=True, text=True)
        if run.returncode != 0:
            raise BenchError(f"{shlex.join(command)} failed: {run.stderr.strip()}")
        inspect = subprocess.run([str(ctx.args.cli), "inspect", "--json", str(out)],
                                 capture_output=True, text=True, check=True)
    provenance = json.loads(inspect.stdout)["network"]["provenance"]
    return (float(provenance["epochs"][0]["seconds"]),
            int(provenance["hyperparameters"]["training_examples"]))


@dataclass
class TrainResult:
    images: Dict[str, int]                      # net -> images timed per run
    seconds: Dict[Tuple[str, str], Stat]        # (net, "nnrt" | "torch/1" | ...) -> s per epoch
    ch6_images: int = 0
    ch6_seconds: float = 0.0


def measure_training(ctx: Context, models: List[nets.Net]) -> TrainResult:
    s, full = ctx.settings, TRAIN_IMAGES
    result = TrainResult({}, {})
    for net in models:
        fraction = s.mlp_fraction if net.kind == "mlp" else s.conv_fraction
        images = max(10, int(round(full * fraction / 10)) * 10)
        result.images[net.key] = images
        scale = full / images
        measures: Dict[str, Measure] = {}
        seeds = iter(range(1, 1000))

        def nnrt_run() -> Dict[str, Any]:
            seconds, timed = nnrt_train(ctx, NNRT_TRAIN_FLAGS[net.key], images, next(seeds))
            return {"seconds": seconds * full / timed}
        measures["nnrt"] = nnrt_run
        for engine in ("torch", "numpy"):
            if engine == "numpy" and net.kind != "mlp":
                continue
            for threads in ctx.args.threads:
                w = ctx.worker(engine, threads)
                if w is not None:
                    measures[f"{engine}/{threads}"] = lambda w=w: {
                        "seconds": w.ask("train", key=net.key, images=images, seed=next(seeds))["seconds"] * scale}
        log(f"training {net.title} on {images} images: {', '.join(measures)}")
        for name, runs in interleave(measures, s.train_repeats).items():
            if runs:
                result.seconds[net.key, name] = Stat([r["seconds"] for r in runs])
        ctx.close_workers()
    limit = max(1, s.ch6_images // 5)   # --train-limit counts images before the 5x expansion
    log(f"training the ch6 final network on {limit * 5} expanded images")
    result.ch6_seconds, result.ch6_images = nnrt_train(ctx, CH6_FINAL_FLAGS, limit, 1)
    return result


@dataclass
class MemoryRow:
    engine: str
    net: str
    load_ms: Optional[float]
    peak_kb: Optional[int]
    baseline_kb: Optional[int]


def measure_memory(ctx: Context, models: List[nets.Net]) -> List[MemoryRow]:
    """Each engine in a fresh process per network: RSS after import, load time, peak RSS after
    running batches of 1,000."""
    s, rows = ctx.settings, []
    for net in models:
        log(f"memory and load time: {net.title}")
        c = ctx.c_infer(net.key, 1000, 0.2, 1, load_repeats=s.load_repeats)
        rows.append(MemoryRow("nnrt-c", net.key, c["load_ms_median"], c["vmhwm_kb"], None))
        for engine in ("nnrt-py", "ort", "litert", "torch"):
            w = ctx.worker(engine, 1)
            if w is None:
                rows.append(MemoryRow(engine, net.key, None, None, None))
                continue
            baseline = w.ask("rss")["vmrss_kb"]
            load = w.ask("load_time", key=net.key, repeats=s.load_repeats)["load_ms_median"]
            w.ask("infer", key=net.key, batch=1000, seconds=0.2, min_calls=1, warmup=1)
            rows.append(MemoryRow(engine, net.key, load, w.ask("rss")["vmhwm_kb"], baseline))
            ctx.close_workers()   # a fresh process for the next measurement
    return rows


def library_sizes(ctx: Context) -> List[Tuple[str, str, int, int]]:
    """(library, main shared object, its bytes, bytes of every .so it ships or needs beyond glibc).

    libnnrt's extra is Debian's libprotobuf-c (found with ldd); a Python package's is every .so
    in its folder."""
    lib = ctx.args.lib
    extra = 0
    ldd = subprocess.run(["ldd", str(lib)], capture_output=True, text=True).stdout
    for line in ldd.splitlines():
        if "protobuf-c" in line and "=>" in line:
            extra += Path(line.split("=>")[1].split("(")[0].strip()).resolve().stat().st_size
    shown = lib.relative_to(REPO) if lib.is_relative_to(REPO) else lib
    rows = [("nnrt (+ libprotobuf-c)", str(shown), lib.stat().st_size, lib.stat().st_size + extra)]
    mains = {"onnxruntime": "libonnxruntime.so*", "torch": "libtorch_cpu.so",
             "ai_edge_litert": "libpywrap_litert_common.so"}
    for package, pattern in mains.items():
        spec = importlib.util.find_spec(package)
        if spec is None or spec.origin is None:
            continue
        root = Path(spec.origin).parent
        libraries = [p for p in root.rglob("*.so*") if p.is_file()]
        main = sorted(p for p in libraries if p.match(pattern))
        if main:
            rows.append((package, str(main[0].relative_to(root.parent)), main[0].stat().st_size,
                         sum(p.stat().st_size for p in libraries)))
    return rows


@dataclass
class PeakResult:
    sgemm: Dict[int, Stat]                       # threads -> GFLOPS per call, best size
    sgemm_size: Dict[int, int]
    nnrt_dense: Dict[str, Stat]                  # net -> GFLOPS at batch 1000 (1 thread)
    # 1 thread, in turns with nnrt_dense: numpy's sustained GFLOPS (median call of a window as
    # long as nnrt's), and per net the ratio of each nnrt window to the numpy window before it.
    paired_sgemm: Optional[Stat] = None
    paired_share: Dict[str, Stat] = field(default_factory=dict)


def measure_peak(ctx: Context, models: List[nets.Net]) -> PeakResult:
    s = ctx.settings
    result = PeakResult({}, {}, {})
    for threads in ctx.args.threads:
        w = ctx.worker("numpy", threads)
        if w is None:
            break
        for size in s.sgemm_sizes:
            log(f"sgemm {size}x{size}, {threads} thread(s)")
            runs = [w.ask("sgemm", size=size, seconds=s.sgemm_seconds) for _ in range(s.repeats)]
            stat = Stat([r["gflops_best"] for r in runs])
            if threads not in result.sgemm or stat.best > result.sgemm[threads].best:
                result.sgemm[threads], result.sgemm_size[threads] = stat, size
        ctx.close_workers()
    # nnrt's dense product in turns with numpy's sgemm on one thread (numpy, each MLP, numpy,
    # ...), each over the same window, so that a ratio compares two figures taken seconds apart:
    # the peak above is the best single product of the whole run, which a shared machine may
    # have offered minutes earlier.
    mlps = [net for net in models if net.kind == "mlp"]
    w = ctx.worker("numpy", 1)
    size = result.sgemm_size.get(1, s.sgemm_sizes[0])
    sustained: List[float] = []
    rates: Dict[str, List[float]] = {net.key: [] for net in mlps}
    shares: Dict[str, List[float]] = {net.key: [] for net in mlps}
    for repeat in range(s.repeats):
        log(f"nnrt dense GFLOPS at batch 1000 in turns with numpy sgemm {size}x{size}, repeat {repeat + 1}")
        numpy_rate = w.ask("sgemm", size=size, seconds=s.seconds)["gflops_median"] if w else None
        if numpy_rate is not None:
            sustained.append(numpy_rate)
        for net in mlps:
            run = ctx.c_infer(net.key, 1000, s.seconds, inputs=DENSE_INPUTS)   # a 1-thread session
            rate = 2 * net.macs * run["images_per_s"] / 1e9
            rates[net.key].append(rate)
            if numpy_rate:
                shares[net.key].append(rate / numpy_rate)
    ctx.close_workers()
    for net in mlps:
        result.nnrt_dense[net.key] = Stat(rates[net.key])
        if shares[net.key]:
            result.paired_share[net.key] = Stat(shares[net.key])
    if sustained:
        result.paired_sgemm = Stat(sustained)
    return result


# --- Main -----------------------------------------------------------------------------------------

def header(ctx: Context, argv: List[str]) -> Dict[str, str]:
    def first_line(command: List[str]) -> str:
        try:
            return subprocess.run(command, capture_output=True, text=True).stdout.strip().splitlines()[0]
        except (OSError, IndexError):
            return "unknown"

    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    facts = dict(line.split(":", 1) for line in lscpu.splitlines() if ":" in line)
    cores = int(facts.get("Core(s) per socket", "0").strip() or 0) * int(facts.get("Socket(s)", "1").strip() or 1)
    versions = []
    for name in PEER_PACKAGES:
        try:
            versions.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{name} not installed")
    return {
        "command": shlex.join(["bench/peers/run.py", *argv]),
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "machine": f"{facts.get('Model name', '?').strip()}, {cores} cores ({os.cpu_count()} CPUs online), "
                   f"Linux {platform.release()}, Python {platform.python_version()}",
        "nnrt": f"`{first_line([str(ctx.args.cli), '--version'])}` ({ctx.args.cli}); library {ctx.args.lib}",
        "peers": ", ".join(versions),
        "compiler": first_line([ctx.args.cc, "--version"]),
        "load": ", ".join(f"{v:.2f}" for v in os.getloadavg()),
    }


def parse_args(argv: List[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--quick", action="store_true", help="tiny iteration counts: a smoke run")
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help=f"comma-separated sections to run (default all: {','.join(SECTIONS)})")
    parser.add_argument("--threads", default="1,2", help="thread counts for the peers (default 1,2)")
    parser.add_argument("--out", type=Path, help="also write the markdown report to this file")
    parser.add_argument("--repeats", type=int, help="interleaved repeats per measurement (5; quick 2)")
    parser.add_argument("--seconds", type=float, help="time budget per inference measurement (0.5)")
    parser.add_argument("--train-fraction", type=float,
                        help="time SGD on this fraction of the 50,000 images and scale up "
                             "(default 1 for the MLPs, 0.2 = 10,000 images for the conv net)")
    parser.add_argument("--ch6-images", type=int,
                        help="expanded images to time the ch6 final network on (default 10000)")
    parser.add_argument("--lib", type=Path, default=REPO / "build/lib/libnnrt.so")
    parser.add_argument("--include", type=Path, default=REPO / "build/include")
    parser.add_argument("--cli", type=Path, default=REPO / "build/bin/nnrt")
    parser.add_argument("--mnist", type=Path,
                        default=Path(os.environ.get("MNIST_DIR") or Path.home() / ".cache/nnrt/mnist"),
                        help="MNIST folder (default $MNIST_DIR, else nnrt's download cache)")
    parser.add_argument("--work", type=Path, default=REPO / "build/bench-peers",
                        help="where models, inputs and bench_infer are written")
    parser.add_argument("--cc", default=os.environ.get("CC", "gcc"))
    args = parser.parse_args(argv)
    args.only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(args.only) - set(SECTIONS)
    if unknown:
        parser.error(f"--only: unknown section(s) {', '.join(sorted(unknown))}; choose from {', '.join(SECTIONS)}")
    args.threads = [int(t) for t in args.threads.split(",")]
    for name in ("lib", "include", "cli", "mnist", "work"):
        setattr(args, name, getattr(args, name).absolute())
    return args


def main(argv: List[str]) -> int:
    args = parse_args(argv)
    ctx = Context(args, settings_for(args), args.work)
    try:
        models = prepare(ctx)
        facts = header(ctx, argv)
        log("checking that every engine computes the same outputs")
        checks = verify(ctx, models)
        results: Dict[str, Any] = {}
        if "infer" in args.only:
            results["infer"] = measure_inference(ctx, models, ["nnrt-c", "nnrt-c-model", "ort", "torch"],
                                                 ctx.settings.infer_batches)
        if "python" in args.only:
            results["python"] = measure_inference(ctx, models, ["nnrt-py", "ort", "litert"], ctx.settings.python_batches)
        if "train" in args.only:
            results["train"] = measure_training(ctx, models)
        if "memory" in args.only:
            results["memory"] = (measure_memory(ctx, models), library_sizes(ctx))
        if "peak" in args.only:
            results["peak"] = measure_peak(ctx, models)
    except BenchError as error:
        print(f"run.py: {error}", file=sys.stderr)
        return 1
    finally:
        ctx.close_workers()
        if ctx.worker_log:
            ctx.worker_log.close()
    text = report.render(facts, ctx.settings, args.threads, ctx.versions, ctx.unavailable, models,
                         checks, results)
    print(text)
    if args.out:
        args.out.write_text(text)
        log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
