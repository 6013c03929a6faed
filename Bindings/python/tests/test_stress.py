"""Many Python threads x many calls on one shared model and one shared ensemble (with a conv
member), with sessions of their own and one shared session: every result bit-identical to a
single-threaded reference computed first. The library releases the GIL while it computes, so the
calls really overlap."""

from __future__ import annotations

import os
import threading
import time
from typing import Any, Dict, List, Tuple

import numpy as np

from support import random_conv_net, random_inputs, random_net, require_nnrt

nnrt = require_nnrt()

THREADS = 8
CALLS = int(os.environ.get("NNRT_STRESS_CALLS", "2000"))  # per thread
COMBOS: List[Tuple[int, int]] = [(0, 1), (5, 1), (0, 7), (3, 33), (0, 64), (31, 2)]  # (offset, count)


def pgm(pixels: np.ndarray) -> bytes:
    return b"P5\n28 28\n255\n" + pixels.astype(np.uint8).tobytes()


def test_threads_share_models_and_get_the_single_threaded_results() -> None:
    x = random_inputs(64, seed=40)
    pixels = (x * 255).astype(np.uint8)
    image = pgm(pixels[9])
    dense_bytes = random_net((784, 30, 10), seed=41).file()
    dense = nnrt.Model(dense_bytes)
    conv = nnrt.Model(random_conv_net(seed=42).file())
    ensemble = nnrt.Ensemble([dense, conv, nnrt.Model(random_net((784, 20, 10), seed=43).file())],
                             voting="majority")
    models = [dense, conv, ensemble]
    shared = ensemble.session(2)
    shared_lock = threading.Lock()  # not needed (sessions serialize their calls): used half the time

    # The single-threaded reference of every model and combo.
    want: Dict[Any, Any] = {}
    for m, model in enumerate(models):
        for c, (offset, count) in enumerate(COMBOS):
            rows = slice(offset, offset + count)
            want[m, c] = (model.predict(x[rows]), model.predict_proba(x[rows]), model.predict(pixels[rows]),
                          model.predict_members(x[rows]))
        want[m, "image"] = model.classify_files([image])[0]

    errors: List[str] = []
    counts = [0] * THREADS
    start = threading.Barrier(THREADS)

    def work(index: int) -> None:
        rng = np.random.default_rng(index)
        own = dense.session(1)
        own2 = conv.session(2)
        try:
            start.wait()
            for _ in range(CALLS):
                op, m, c = int(rng.integers(8)), int(rng.integers(3)), int(rng.integers(len(COMBOS)))
                offset, count = COMBOS[c]
                rows = slice(offset, offset + count)
                labels, proba, u8_labels, (member_labels, member_outputs) = want[m, c]
                model = models[m]
                if op == 0:
                    same = np.array_equal(model.predict(x[rows]), labels)
                elif op == 1:
                    same = np.array_equal(model.predict_proba(x[rows]), proba)
                elif op == 2:
                    same = np.array_equal(model.predict(pixels[rows]), u8_labels)
                elif op == 3:
                    got_labels, got_outputs = model.predict_members(x[rows])
                    same = np.array_equal(got_labels, member_labels) and np.array_equal(got_outputs, member_outputs)
                elif op == 4:
                    session, which = (own, 0) if rng.integers(2) else (own2, 1)
                    same = np.array_equal(session.predict_proba(x[rows]), want[which, c][1])
                elif op == 5:
                    if rng.integers(2):
                        with shared_lock:
                            got = shared.predict_proba(x[rows])
                    else:
                        got = shared.predict_proba(x[rows])
                    same = np.array_equal(got, want[2, c][1])
                elif op == 6:
                    result = model.classify_files([image])[0]
                    reference = want[m, "image"]
                    same = result.index == reference.index and result.top == reference.top
                else:
                    with nnrt.Model(dense_bytes) as mine:
                        same = np.array_equal(mine.predict_proba(x[rows]), want[0, c][1])
                if not same:
                    errors.append(f"thread {index}: op {op} on model {m}, rows {rows}: results differ")
                counts[index] += 1
        except BaseException as error:  # reported by the main thread
            errors.append(f"thread {index}: {error!r}")
        finally:
            own.close()
            own2.close()

    t0 = time.perf_counter()
    threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - t0
    shared.close()
    for model in models:
        model.close()
    print(f"{sum(counts)} calls in {THREADS} threads: {elapsed:.2f} s")
    assert not errors, errors[:5]
    assert counts == [CALLS] * THREADS


def test_closing_one_thread_s_session_leaves_the_others_alone() -> None:
    """Sessions created, used and closed in many threads at once, while the model is shared."""
    x = random_inputs(8, seed=44)
    with nnrt.Model(random_net((784, 30, 10), seed=45).file()) as model:
        expected = model.predict_proba(x)
        errors: List[BaseException] = []

        def work() -> None:
            try:
                for i in range(100):
                    with model.session(1 + i % 2) as session:
                        np.testing.assert_array_equal(session.predict_proba(x), expected)
            except BaseException as error:
                errors.append(error)

        threads = [threading.Thread(target=work) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors
