#!/usr/bin/env python3
"""Per-call cost of the binding at batch 1: MLP 784-100-10 with random weights (written with
tests/modelwriter.py), one MNIST-sized example per call.

    python tools/call_overhead.py [--runs R] [--number N] [--stub LIBSTUB.so]

Prints, for each way of calling, the median and best of R runs of N calls (µs per call), runs
taken in turns so that a busy machine slows all rows alike. Rows:

- ``C ... via ctypes``: nnrt_model_predict and nnrt_session_predict through ctypes with every
  argument prepared beforehand, the floor of any ctypes binding (the C prediction plus ctypes'
  own call cost);
- ``Model.*`` and ``Session.*``: the binding's methods, float32 rows ``(1, 784)`` and
  ``(784,)``, and uint8 pixels.

``--stub`` replaces the library's prediction functions by a C function that returns 0 at once
(build one from ``int32_t stub(void) { return 0; }`` with ``gcc -shared -fPIC``), so that only
the binding's own cost is timed. The package imported is the one on ``sys.path`` (this checkout's
when run from it), the library the one ``NNRT_LIBRARY`` names or the package finds.
"""

from __future__ import annotations

import argparse
import ctypes
import statistics
import sys
import timeit
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
try:
    import nnrt
except ModuleNotFoundError:
    sys.path.insert(0, str(HERE.parent))
    import nnrt
import numpy as np  # noqa: E402

import support  # noqa: E402
from nnrt import _capi  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--number", type=int, default=20000)
    parser.add_argument("--stub", help="a shared library with `stub`, returning 0 (see above)")
    args = parser.parse_args()

    model = nnrt.Model(support.random_net((784, 100, 10), seed=3).file())
    session = model.session() if hasattr(model, "session") else None
    x = support.random_inputs(1)
    row = x[0]
    pixels = (x * 255).astype(np.uint8)
    out = np.empty((1, 10), np.float32)

    names = ["nnrt_model_predict", "nnrt_model_predict_u8", "nnrt_session_predict",
             "nnrt_session_predict_u8", "_model_predict_unchecked", "_model_predict_u8_unchecked",
             "_session_predict_unchecked", "_session_predict_u8_unchecked"]
    if args.stub:
        stub_lib = ctypes.CDLL(args.stub)
        for name in names:
            if hasattr(_capi, name):
                stub = ctypes.CFUNCTYPE(ctypes.c_int32)(("stub", stub_lib))
                stub.argtypes = getattr(_capi, name).argtypes
                stub.restype = ctypes.c_int32
                setattr(_capi, name, stub)

    raw = getattr(_capi, "_model_predict_unchecked", None)
    if raw is None:  # a binding without the unchecked twins
        raw = _capi.lib["nnrt_model_predict"]
        raw.restype = ctypes.c_int32
    args_c = (ctypes.c_void_p(model._handle), ctypes.c_void_p(x.ctypes.data), ctypes.c_size_t(1),
              ctypes.c_size_t(784), None, ctypes.c_size_t(0), ctypes.c_void_p(out.ctypes.data),
              ctypes.c_size_t(10))
    rows = {"C model_predict via ctypes (prepared)": lambda: raw(*args_c),
            "Model.predict_proba(float32 (1, 784))": lambda: model.predict_proba(x),
            "Model.predict_proba(float32 (784,))": lambda: model.predict_proba(row),
            "Model.predict(float32 (1, 784))": lambda: model.predict(x),
            "Model.predict_proba(uint8 (1, 784))": lambda: model.predict_proba(pixels)}
    if session is not None:
        raw_session = _capi._session_predict_unchecked
        args_s = (ctypes.c_void_p(session._handle),) + args_c[1:]
        rows["C session_predict via ctypes (prepared)"] = lambda: raw_session(*args_s)
        rows.update({"Session.predict_proba(float32 (1, 784))": lambda: session.predict_proba(x),
                     "Session.predict_proba(float32 (784,))": lambda: session.predict_proba(row),
                     "Session.predict(float32 (1, 784))": lambda: session.predict(x),
                     "Session.predict_proba(uint8 (1, 784))": lambda: session.predict_proba(pixels)})
    timers = {name: timeit.Timer(call) for name, call in rows.items()}
    for timer in timers.values():
        timer.timeit(args.number // 10)
    results = {name: [] for name in rows}
    for _ in range(args.runs):
        for name, timer in timers.items():
            results[name].append(timer.timeit(args.number) / args.number * 1e6)
    print(f"nnrt {nnrt.__version__} from {Path(nnrt.__file__).parent}, library {nnrt.library_path}"
          f"{' (predictions stubbed out)' if args.stub else ''}")
    for name, values in results.items():
        print(f"  {name:42s} median {statistics.median(values):6.2f} µs   best {min(values):6.2f} µs")


if __name__ == "__main__":
    main()
