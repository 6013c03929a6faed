"""Resource safety: a long loop of load / predict / close with the process's resident memory
measured (VmRSS, /proc/self/status), and models, ensembles and sessions released by close() or
by the garbage collector in every order, twice, and used after closing."""

from __future__ import annotations

import gc
import itertools
import os
import sys
import time
import weakref
from typing import Any, Callable, Dict, List

import numpy as np
import pytest

from support import random_conv_net, random_inputs, random_net, require_nnrt

nnrt = require_nnrt()

ITERATIONS = int(os.environ.get("NNRT_RESOURCE_ITERATIONS", "100000"))
RSS_BOUND_KIB = 2048


def rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc/self/status")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_long_loop_keeps_memory_flat(tmp_path: Any) -> None:
    data = random_net((784, 4, 10), seed=50).file()
    path = tmp_path / "model.nnrt"
    path.write_bytes(data)
    x = random_inputs(1, seed=51)[0]
    image = b"P5\n28 28\n255\n" + (x * 255).astype(np.uint8).tobytes()
    early = 0
    t0 = time.perf_counter()
    for i in range(ITERATIONS):
        a = nnrt.Model(data)
        b = nnrt.Model(path if i % 2 else data)
        ensemble = nnrt.Ensemble([a, b], voting="majority" if i % 2 else "mean-probability")
        session = (ensemble if i % 3 else a).session(2 if i % 50 == 0 else 1)
        (a if i % 2 else ensemble).predict(x)
        session.predict_proba(x)
        if i % 10 == 0:
            b.classify_files([image])
            with pytest.raises(nnrt.BadModelError):
                nnrt.Model(data[:100])
        # Released in different orders and ways: close(), or dropping the last reference.
        order = i % 4
        if order == 0:
            a.close(); b.close(); ensemble.close(); session.close()
        elif order == 1:
            session.close(); ensemble.close(); b.close(); a.close()
        elif order == 2:
            del a, ensemble  # the session keeps what it runs alive
            session.predict(x)
            session.close(); b.close()
        else:
            del session, ensemble, a, b
        if i + 1 == ITERATIONS // 10:
            gc.collect()
            early = rss_kib()
    gc.collect()
    late = rss_kib()
    print(f"{ITERATIONS} iterations in {time.perf_counter() - t0:.1f} s; VmRSS {early} KiB after "
          f"{ITERATIONS // 10}, {late} KiB after {ITERATIONS}: {late - early:+d} KiB")
    assert late - early <= RSS_BOUND_KIB, f"memory grew by {late - early} KiB"


def _objects(data: bytes, conv: bytes) -> Dict[str, Any]:
    model = nnrt.Model(data)
    other = nnrt.Model(conv)
    ensemble = nnrt.Ensemble([model, other], voting="mean-probability")
    return {"model": model, "other": other, "ensemble": ensemble,
            "session": model.session(2), "ensemble session": ensemble.session(1)}


def check_open(objects: Dict[str, Any], x: np.ndarray, reference: Dict[str, np.ndarray]) -> None:
    """The objects not closed predict as before (a function: no loop variable outlives it)."""
    for name, obj in objects.items():
        if not obj.closed:
            np.testing.assert_array_equal(obj.predict_proba(x), reference[name])


@pytest.mark.parametrize("how", ["close", "gc", "mixed"])
def test_release_in_every_order(how: str) -> None:
    """All 120 orders of releasing two models, their ensemble and two sessions; after each release
    the objects still open keep predicting exactly as before."""
    data = random_net((784, 12, 10), seed=52).file()
    conv = random_conv_net(seed=53, maps=2, hidden=8).file()
    x = random_inputs(3, seed=54)
    reference = {name: obj.predict_proba(x) for name, obj in _objects(data, conv).items()}
    gc.collect()
    names = list(reference)
    for n, order in enumerate(itertools.permutations(names)):
        objects = _objects(data, conv)
        refs = {name: weakref.ref(obj) for name, obj in objects.items()}
        for k, name in enumerate(order):
            by_gc = how == "gc" or (how == "mixed" and (n + k) % 2 == 1)
            if by_gc:
                del objects[name]  # the last reference: freed now (no cycles)
            else:
                objects[name].close()
                assert objects[name].closed
            check_open(objects, x, reference)
        objects.clear()
        gc.collect()
        # Nothing outlives the last reference (sessions hold their models until they go).
        assert all(ref() is None for ref in refs.values()), [name for name, ref in refs.items() if ref()]


def test_double_close_and_use_after_close() -> None:
    data = random_net((784, 12, 10), seed=55).file()
    x = random_inputs(1, seed=56)
    model = nnrt.Model(data)
    ensemble = nnrt.Ensemble([model])
    session = ensemble.session()
    uses: Dict[str, Callable[[], Any]] = {
        "model.predict": lambda: model.predict(x),
        "model.name": lambda: model.name,
        "model.layers": lambda: model.layers(),
        "model.session": lambda: model.session(),
        "ensemble.predict_members": lambda: ensemble.predict_members(x),
        "ensemble of a closed model": lambda: nnrt.Ensemble([model]),
        "session.predict_proba": lambda: session.predict_proba(x),
        "session.threads": lambda: session.threads,
        "session.classify_files": lambda: session.classify_files([b"P5\n1 1\n255\n\x00"]),
    }
    for obj in (session, ensemble, model):
        obj.close()
        obj.close()  # idempotent
        assert obj.closed and "closed" in repr(obj)
        with pytest.raises((nnrt.ClosedModelError, nnrt.ClosedSessionError)):
            with obj:  # entering a closed object raises
                pass  # pragma: no cover
    for name, use in uses.items():
        with pytest.raises((nnrt.ClosedModelError, nnrt.ClosedSessionError)) as raised:
            use()
        assert "is closed" in str(raised.value), name
        assert raised.value.status == nnrt.InvalidArgumentError.code


def test_cycles_are_collected() -> None:
    """Models and sessions in reference cycles are freed by the cycle collector."""
    data = random_net((784, 12, 10), seed=57).file()
    refs: List[Any] = []
    for _ in range(50):
        model = nnrt.Model(data)
        session = model.session()
        holder: Dict[str, Any] = {"model": model, "session": session}
        holder["self"] = holder  # a cycle
        refs += [weakref.ref(model), weakref.ref(session)]
        del model, session, holder
    gc.collect()
    assert all(ref() is None for ref in refs)
