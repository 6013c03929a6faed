"""A measurement worker: one engine, one thread count, one process; run.py drives it.

    python engines.py ENGINE --threads N --work DIR

ENGINE is nnrt-py (the ctypes binding through an nnrt.Session of the worker's thread count,
library from NNRT_LIBRARY), ort (ONNX Runtime),
litert (ai-edge-litert's Interpreter), torch or numpy. The worker imports its engine once, then
answers JSON requests, one per line on stdin, with one JSON line on stdout. Keeping workers alive
lets run.py interleave engines (A B A B ...) without paying for imports each time. The first line
it writes is {"ready": true, "version": ...}, or {"ready": false, "error": ...} when the engine
cannot be imported (run.py then reports it as not installed).

Requests ({"op": ...}):
  load_time {key, repeats}           -> {"load_ms_median"}: open the model file from scratch
  infer {key, batch, seconds, min_calls, warmup}
                                     -> {"calls", "seconds", "images_per_s",
                                         "latency_us_median", "latency_us_p99"}
  outputs {key, count}               -> {"outputs": [[...], ...]} for the first count test images
  train {key, images, seed}          -> {"seconds"} for one pass of SGD (torch, numpy)
  sgemm {size, seconds}              -> {"gflops_best", "gflops_median", "calls"} (numpy)
  rss {}                             -> {"vmhwm_kb", "vmrss_kb"}
The thread count is fixed per process: run.py also sets OMP_NUM_THREADS and
OPENBLAS_NUM_THREADS to it in the worker's environment before it starts.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Dict, List, Sequence, Tuple

import numpy as np

import trainers

Runner = Callable[[Any], Any]


def quantile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank quantile of an ascending list (as bench_infer.c)."""
    rank = min(len(sorted_values), max(1, int(q * len(sorted_values) + 0.999999)))
    return sorted_values[rank - 1]


def blas_description() -> str:
    """numpy's BLAS and, with threadpoolctl installed, the kernel it chose for this CPU."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version')}; install threadpoolctl for its kernel"
    info = [pool for pool in threadpool_info() if pool.get("user_api") == "blas"]
    return ", ".join(f"{p.get('internal_api')} {p.get('version')} {p.get('architecture')} kernels, "
                     f"{p.get('num_threads')} thread(s)" for p in info) or "no BLAS found"


def proc_status() -> Dict[str, int]:
    values = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmHWM:", "VmRSS:")):
                name, amount = line.split(":", 1)
                values[name.lower() + "_kb"] = int(amount.split()[0])
    return values


class Engine:
    """Loads the benchmark models of one engine and makes per-batch callables."""

    name = ""

    def __init__(self, work: Path, threads: int) -> None:
        self.work, self.threads = work, threads

    def version(self) -> str:
        raise NotImplementedError

    def open(self, key: str) -> Any:
        """A freshly loaded model (what load_time times)."""
        raise NotImplementedError

    def runner(self, model: Any, key: str, batch: int) -> Runner:
        """A callable that runs one batch (an element of :meth:`inputs`) and returns outputs."""
        raise NotImplementedError

    def inputs(self, key: str, x: np.ndarray) -> Any:
        """The test images (N, 784) in the layout and type this engine's models take."""
        return x if key.startswith("mlp") else x.reshape(-1, 1, 28, 28)


class NnrtPy(Engine):
    """nnrt's binding: ``open`` loads an ``nnrt.Model`` (what load_time times); predictions go
    through one ``nnrt.Session(model, threads=N)`` per network, made once (reusable memory, the
    worker's thread count), as a latency-sensitive caller would use it."""

    name = "nnrt-py"

    def __init__(self, work: Path, threads: int) -> None:
        super().__init__(work, threads)
        import nnrt
        if not hasattr(nnrt, "Session"):
            raise ImportError(f"the nnrt binding at {Path(nnrt.__file__).parent} has no Session "
                              "(older than the library)")
        self.nnrt = nnrt
        self.sessions: Dict[str, Any] = {}

    def version(self) -> str:
        return (f"nnrt binding {self.nnrt.__version__} (Session.predict_proba, {self.threads} "
                f"thread(s)), library {self.nnrt.version()}, kernels {self.nnrt.kernel_build()} "
                f"({self.nnrt.library_path})")

    def open(self, key: str) -> Any:
        return self.nnrt.Model(str(self.work / f"{key}.nnrt"))

    def runner(self, model: Any, key: str, batch: int) -> Runner:
        if key not in self.sessions:
            session = model.session(threads=self.threads)
            if session.threads != self.threads:
                raise RuntimeError(f"asked for a {self.threads}-thread session, got {session.threads}")
            self.sessions[key] = session
        return self.sessions[key].predict_proba

    def inputs(self, key: str, x: np.ndarray) -> Any:
        return x


class Ort(Engine):
    name = "ort"

    def __init__(self, work: Path, threads: int) -> None:
        super().__init__(work, threads)
        import onnxruntime
        self.ort = onnxruntime

    def version(self) -> str:
        return f"onnxruntime {self.ort.__version__}"

    def open(self, key: str) -> Any:
        options = self.ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = self.ort.ExecutionMode.ORT_SEQUENTIAL
        return self.ort.InferenceSession(str(self.work / f"{key}.onnx"), options,
                                         providers=["CPUExecutionProvider"])

    def runner(self, model: Any, key: str, batch: int) -> Runner:
        run = model.run
        return lambda x: run(None, {"x": x})[0]


class LiteRT(Engine):
    name = "litert"

    def __init__(self, work: Path, threads: int) -> None:
        super().__init__(work, threads)
        import ai_edge_litert
        from ai_edge_litert.interpreter import Interpreter
        self.interpreter, self.module = Interpreter, ai_edge_litert

    def version(self) -> str:
        return f"ai-edge-litert {self.module.__version__} (Interpreter, default XNNPACK delegate)"

    def open(self, key: str) -> Any:
        interpreter = self.interpreter(model_path=str(self.work / f"{key}.tflite"),
                                       num_threads=self.threads)
        interpreter.allocate_tensors()
        return interpreter

    def runner(self, model: Any, key: str, batch: int) -> Runner:
        # One interpreter per batch size: resizing is part of setting up, not of a call.
        interpreter = self.open(key)
        tensor_in = interpreter.get_input_details()[0]["index"]
        tensor_out = interpreter.get_output_details()[0]["index"]
        shape = [batch, 784] if key.startswith("mlp") else [batch, 28, 28, 1]
        interpreter.resize_tensor_input(tensor_in, shape, strict=False)
        interpreter.allocate_tensors()
        set_tensor, invoke, get_tensor = interpreter.set_tensor, interpreter.invoke, interpreter.get_tensor

        def run(x: np.ndarray) -> np.ndarray:
            set_tensor(tensor_in, x)
            invoke()
            return get_tensor(tensor_out)
        return run

    def inputs(self, key: str, x: np.ndarray) -> Any:
        return x if key.startswith("mlp") else x.reshape(-1, 28, 28, 1)   # NHWC


class Torch(Engine):
    name = "torch"

    def __init__(self, work: Path, threads: int) -> None:
        super().__init__(work, threads)
        import torch
        torch.set_num_threads(threads)
        torch.set_num_interop_threads(1)
        self.torch = torch

    def version(self) -> str:
        return f"torch {self.torch.__version__}"

    def open(self, key: str) -> Any:
        """Weights from the .npz into a fresh nn.Module (PyTorch has no file of this format)."""
        with np.load(self.work / f"{key}.npz") as f:
            params = {name: f[name] for name in f.files}
        return trainers.build_torch(key, params).eval()

    def runner(self, model: Any, key: str, batch: int) -> Runner:
        torch = self.torch

        def run(x: Any) -> Any:
            with torch.inference_mode():
                return model(x)
        return run

    def inputs(self, key: str, x: np.ndarray) -> Any:
        return self.torch.from_numpy(super().inputs(key, x))


class Numpy(Engine):
    """Only for training and the sgemm peak; it runs no inference models."""

    name = "numpy"

    def version(self) -> str:
        return f"numpy {np.__version__} ({blas_description()})"


ENGINES = {cls.name: cls for cls in (NnrtPy, Ort, LiteRT, Torch, Numpy)}


class Worker:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.models: Dict[str, Any] = {}
        self.runners: Dict[Tuple[str, int], Runner] = {}
        self.test: Dict[str, Any] = {}
        self.trainers: Dict[str, Callable[[int, int], float]] = {}
        self.x_test = np.load(engine.work / "test-images.npy")

    def model(self, key: str) -> Any:
        if key not in self.models:
            self.models[key] = self.engine.open(key)
            self.test[key] = self.engine.inputs(key, self.x_test)
        return self.models[key]

    def load_time(self, key: str, repeats: int) -> Dict[str, float]:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            self.engine.open(key)
            times.append(time.perf_counter() - start)
        return {"load_ms_median": float(np.median(times)) * 1e3}

    def infer(self, key: str, batch: int, seconds: float, min_calls: int,
              warmup: int) -> Dict[str, float]:
        model = self.model(key)
        if (key, batch) not in self.runners:
            self.runners[key, batch] = self.engine.runner(model, key, batch)
        run, pool = self.runners[key, batch], self.test[key]
        count = len(pool)
        for _ in range(warmup):
            run(pool[:batch])
        clock = time.perf_counter_ns
        budget = int(seconds * 1e9)
        latencies: List[int] = []
        offset, start = 0, clock()
        end = start
        while True:
            x = pool[offset:offset + batch]
            t0 = clock()
            run(x)
            end = clock()
            latencies.append(end - t0)
            offset += batch
            if offset + batch > count:
                offset = 0
            if len(latencies) >= min_calls and end - start >= budget:
                break
        latencies.sort()
        elapsed = (end - start) / 1e9
        return {"calls": len(latencies), "seconds": elapsed,
                "images_per_s": len(latencies) * batch / elapsed,
                "latency_us_median": quantile(latencies, 0.5) / 1e3,
                "latency_us_p99": quantile(latencies, 0.99) / 1e3}

    def outputs(self, key: str, count: int) -> Dict[str, Any]:
        model = self.model(key)
        out = self.engine.runner(model, key, count)(self.test[key][:count])
        return {"outputs": np.asarray(out, dtype=np.float64).reshape(count, -1).tolist()}

    def train(self, key: str, images: int, seed: int) -> Dict[str, float]:
        if key not in self.trainers:
            with np.load(self.engine.work / f"{key}.npz") as f:
                params = {name: f[name] for name in f.files}
            x = np.load(self.engine.work / "train-images.npy")
            labels = np.load(self.engine.work / "train-labels.npy")
            make = trainers.torch_trainer if self.engine.name == "torch" else trainers.numpy_trainer
            self.trainers[key] = make(key, params, x, labels)
        return {"seconds": self.trainers[key](images, seed)}

    def sgemm(self, size: int, seconds: float) -> Dict[str, float]:
        rng = np.random.default_rng(1)
        a = rng.standard_normal((size, size), dtype=np.float32)
        b = rng.standard_normal((size, size), dtype=np.float32)
        out = np.empty_like(a)
        np.matmul(a, b, out=out)
        rates: List[float] = []
        start = time.perf_counter()
        while len(rates) < 3 or time.perf_counter() - start < seconds:
            t0 = time.perf_counter()
            np.matmul(a, b, out=out)
            rates.append(2.0 * size ** 3 / (time.perf_counter() - t0) / 1e9)
        return {"gflops_best": max(rates), "gflops_median": float(np.median(rates)),
                "calls": len(rates)}

    def handle(self, request: Dict[str, Any]) -> Dict[str, Any]:
        op = request.pop("op")
        if op == "rss":
            return proc_status()
        return getattr(self, op)(**request)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("engine", choices=sorted(ENGINES))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--work", type=Path, required=True)
    args = parser.parse_args()
    reply = sys.stdout.write
    try:
        engine = ENGINES[args.engine](args.work, args.threads)
        worker = Worker(engine)
        reply(json.dumps({"ready": True, "version": engine.version()}) + "\n")
    except ImportError as error:
        hint = "; rerun bench/peers/setup.sh if the binding changed" if args.engine == "nnrt-py" else ""
        reply(json.dumps({"ready": False, "error": f"not installed ({error}){hint}"}) + "\n")
        return
    sys.stdout.flush()
    for line in sys.stdin:
        try:
            answer = worker.handle(json.loads(line))
        except Exception as error:   # reported to run.py, which decides what to do
            answer = {"error": f"{type(error).__name__}: {error}",
                      "traceback": traceback.format_exc()}
        reply(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
