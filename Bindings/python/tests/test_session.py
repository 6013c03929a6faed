"""Session: results bit for bit those of the Model at every thread count, input forms, errors,
lifetime (close, garbage collection in any order with the model), threads; and the batch-1 fast
path that Model and Session share."""

import ctypes
import gc
import os
import threading
import weakref

import numpy as np
import pytest

from support import random_conv_net, random_inputs, random_net, require_nnrt

nnrt = require_nnrt()
from nnrt import _capi  # noqa: E402

THREADS = [1, 2, 0]
BATCHES = [1, 31, 300]


@pytest.fixture(scope="module")
def model_bytes() -> bytes:
    return random_net((784, 100, 10), seed=21, name="session-test").file()


@pytest.fixture()
def model(model_bytes):
    with nnrt.Model(model_bytes) as m:
        yield m


@pytest.fixture(scope="module")
def x300() -> np.ndarray:
    return random_inputs(300, seed=22)


def _kinds():
    """(name, factory of a fresh Model): a dense network, a conv net, an ensemble."""
    dense = random_net((784, 100, 10), seed=23).file()
    conv = random_conv_net(seed=24).file()
    other = random_net((784, 30, 10), seed=25).file()
    return {
        "dense": lambda: nnrt.Model(dense),
        "conv": lambda: nnrt.Model(conv),
        "ensemble": lambda: nnrt.Ensemble([nnrt.Model(dense), nnrt.Model(other)], voting="majority"),
    }


KINDS = _kinds()


# --- Identical results --------------------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("threads", THREADS)
def test_identical_to_model(kind, threads, x300):
    model = KINDS[kind]()
    pixels = (x300 * 255).astype(np.uint8)
    with model, model.session(threads=threads) as session:
        for batch in BATCHES:
            for x in (x300[:batch], pixels[:batch]):
                proba = session.predict_proba(x)
                labels = session.predict(x)
                assert proba.dtype == np.float32 and proba.shape == (batch, model.class_count)
                assert labels.dtype == np.int32 and labels.shape == (batch,)
                np.testing.assert_array_equal(proba, model.predict_proba(x))  # bit for bit
                np.testing.assert_array_equal(labels, model.predict(x))
        # Repeated calls (scratch memory reused) give the same answers.
        np.testing.assert_array_equal(session.predict_proba(x300), model.predict_proba(x300))
        np.testing.assert_array_equal(session.predict_proba(x300[:1]), model.predict_proba(x300[:1]))


@pytest.mark.parametrize("threads", THREADS)
def test_same_input_forms_as_model(model, threads, x300):
    x = x300[:6]
    with model.session(threads) as session:
        forms = [
            x[0], x[0].reshape(28, 28), x[0].reshape(1, 28, 28), x[:1], x[:1].reshape(1, 1, 28, 28),
            x.reshape(6, 28, 28), x.reshape(6, 1, 28, 28), x.tolist(), x[0].tolist(),
            x.astype(np.float64), x[0].astype(np.float64), np.asfortranarray(x),
            np.ascontiguousarray(x[:, ::-1])[:, ::-1],  # a strided view
            (x * 255).astype(np.uint8), (x[0] * 255).astype(np.uint8).reshape(28, 28),
            x[:0], (x[:0] * 255).astype(np.uint8),
        ]
        for form in forms:
            np.testing.assert_array_equal(session.predict_proba(form), model.predict_proba(form))
            np.testing.assert_array_equal(session.predict(form), model.predict(form))


def test_uint8_is_scaled_by_the_contract(model, x300):
    pixels = (x300[:40] * 255).astype(np.uint8)
    floats = pixels.astype(np.float32) / np.float32(255)
    with model.session() as session:
        np.testing.assert_allclose(session.predict_proba(pixels), session.predict_proba(floats), atol=1e-5)
        np.testing.assert_array_equal(session.predict_proba(pixels), model.predict_proba(pixels))
        np.testing.assert_array_equal(session.predict_proba(pixels[3]), model.predict_proba(pixels[3]))


def test_results_are_new_arrays(model, x300):
    with model.session() as session:
        first = session.predict_proba(x300[0])
        kept = first.copy()
        first[:] = -1.0
        second = session.predict_proba(x300[0])
        assert second is not first and not np.shares_memory(first, second)
        np.testing.assert_array_equal(second, kept)
        labels = session.predict(x300[1])
        assert session.predict(x300[1]) is not labels


def test_threads_property(model):
    for requested in (1, 2, 3):
        with nnrt.Session(model, threads=requested) as session:
            assert session.threads == requested
    with model.session(threads=0) as session:  # one per online core
        assert session.threads >= 1
        if os.cpu_count():
            assert session.threads == os.cpu_count()
    with model.session() as session:
        assert session.threads == 1  # threads are opt-in
    with model.session(np.int64(2)) as session:  # any integer type
        assert session.threads == 2


def test_model_and_repr(model):
    with model.session(2) as session:
        assert session.model is model
        assert isinstance(session, nnrt.Session)
        assert "threads=2" in repr(session) and "session-test" in repr(session)
    assert "closed" in repr(session)


# --- Errors -------------------------------------------------------------------------------------

def test_too_many_threads_is_an_invalid_argument(model):
    for threads in (257, 10**6, 2**64 + 1):
        with pytest.raises(nnrt.InvalidArgumentError) as info:
            model.session(threads)
        assert info.value.status == 1 and "thread" in info.value.message


@pytest.mark.parametrize("threads", [-1, 1.5, "2", None, True])
def test_bad_thread_arguments(model, threads):
    with pytest.raises(nnrt.InvalidArgumentError) as info:
        nnrt.Session(model, threads)
    assert info.value.status == 1


def test_session_needs_a_model():
    with pytest.raises(TypeError):
        nnrt.Session("model.nnrt")


def test_closed_model_makes_no_session(model_bytes):
    model = nnrt.Model(model_bytes)
    model.close()
    with pytest.raises(nnrt.ClosedModelError):
        model.session()


@pytest.mark.parametrize("threads", [1, 2])
def test_wrong_input(model, threads):
    with model.session(threads) as session:
        for bad in (np.zeros((2, 783), np.float32), np.zeros(10), np.zeros((3, 27, 28)),
                    np.zeros(783, np.float32), np.zeros((1, 785), np.uint8)):
            with pytest.raises(nnrt.ShapeMismatchError) as info:
                session.predict_proba(bad)
            assert info.value.status == 5
            with pytest.raises(nnrt.ShapeMismatchError) as model_info:
                model.predict_proba(bad)
            assert str(info.value) == str(model_info.value)  # the same message as the model's
        with pytest.raises(TypeError):
            session.predict(np.array(["a"] * 784))
        # The session still works after errors.
        x = random_inputs(3)
        np.testing.assert_array_equal(session.predict_proba(x), model.predict_proba(x))


def test_library_errors_raise(model, monkeypatch):
    """A failing status from the library (here a spy that reports SHAPE_MISMATCH) raises."""
    def failing(*args):
        return _capi.NNRT_ERR_SHAPE_MISMATCH

    with model.session() as session:
        for name in ("_session_predict_unchecked", "nnrt_session_predict"):
            monkeypatch.setattr(_capi, name, failing)
        for x in (random_inputs(1), random_inputs(5)):
            with pytest.raises(nnrt.ShapeMismatchError):
                session.predict_proba(x)


# --- Lifetime -----------------------------------------------------------------------------------

def test_close_twice_and_use_after_close(model):
    session = model.session(2)
    assert not session.closed
    session.close()
    session.close()
    assert session.closed
    x = random_inputs(4)
    for use in (lambda: session.predict(x), lambda: session.predict_proba(x),
                lambda: session.predict(x[0]), lambda: session.predict_proba(x[:1]),
                lambda: session.predict_proba((x[0] * 255).astype(np.uint8)),
                lambda: session.predict_proba(x[:0]), lambda: session.predict(x.tolist()),
                lambda: session.threads, lambda: session.model):
        with pytest.raises(nnrt.ClosedSessionError) as info:
            use()
        assert isinstance(info.value, nnrt.InvalidArgumentError) and info.value.status == 1
        assert "session is closed" in str(info.value)
    with pytest.raises(nnrt.ClosedSessionError):
        with session:
            pass
    # The model is not closed with it.
    assert not model.closed
    model.predict(x)


def test_context_manager_closes(model):
    with model.session() as session:
        session.predict(random_inputs(1))
    assert session.closed


@pytest.mark.parametrize("threads", [1, 2])
def test_model_closed_or_collected_first(model_bytes, threads):
    x = random_inputs(40, seed=26)
    model = nnrt.Model(model_bytes)
    expected = model.predict_proba(x)
    session = model.session(threads)
    # The C session keeps the C model alive: closing the Python model first is fine.
    model.close()
    np.testing.assert_array_equal(session.predict_proba(x), expected)
    np.testing.assert_array_equal(session.predict_proba(x[0]), expected[:1])

    model = nnrt.Model(model_bytes)
    session = nnrt.Session(model, threads)
    ref = weakref.ref(model)
    del model
    gc.collect()
    assert ref() is not None  # the session keeps its Python model too
    np.testing.assert_array_equal(session.predict_proba(x), expected)
    np.testing.assert_array_equal(session.predict(x[0]), expected[:1].argmax(axis=1))
    del session
    gc.collect()
    assert ref() is None  # and lets it go with it


def test_garbage_collection_in_any_order(model_bytes):
    x = random_inputs(2)
    for i in range(30):
        model = nnrt.Model(model_bytes)
        sessions = [model.session(1 + (i + j) % 2) for j in range(3)]
        if i % 3 == 0:
            del model
        elif i % 3 == 1:
            model.close()
        for session in sessions:
            session.predict(x)
        if i % 2:
            sessions.reverse()
        del sessions
        gc.collect()


def test_model_close_does_not_close_sessions(model_bytes):
    model = nnrt.Model(model_bytes)
    session = model.session()
    model.close()
    assert not session.closed and session.model is model
    session.predict(random_inputs(1))
    session.close()


# --- Threads ------------------------------------------------------------------------------------

@pytest.mark.parametrize("session_threads", [1, 2])
def test_one_session_per_python_thread(model_bytes, session_threads):
    x = random_inputs(300, seed=27)
    pixels = (x * 255).astype(np.uint8)
    with nnrt.Model(model_bytes) as model:
        expected = [model.predict_proba(x), model.predict(x), model.predict_proba(x[:1]),
                    model.predict(pixels[5])]
        results = {}
        errors = []
        start = threading.Barrier(6)

        def work(index):
            try:
                with model.session(session_threads) as session:
                    start.wait()
                    got = []
                    for _ in range(20):
                        got = [session.predict_proba(x), session.predict(x), session.predict_proba(x[:1]),
                               session.predict(pixels[5])]
                    results[index] = got
            except BaseException as error:  # reported by the main thread
                errors.append(error)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors
        assert len(results) == 6
        for got in results.values():
            for value, want in zip(got, expected):
                np.testing.assert_array_equal(value, want)


def test_shared_session_calls_wait_for_each_other(model):
    """Sharing one session between threads is not the intended use, but is safe: calls are
    serialized, every result is right."""
    x = random_inputs(64, seed=28)
    expected = model.predict_proba(x)
    errors = []
    with model.session(2) as session:
        def work():
            try:
                for i in range(200):
                    row = i % 64
                    np.testing.assert_array_equal(session.predict_proba(x[row]), expected[row:row + 1])
                    if i % 50 == 0:
                        np.testing.assert_array_equal(session.predict_proba(x), expected)
            except BaseException as error:
                errors.append(error)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert not errors


# --- The batch-1 fast path (Model and Session) --------------------------------------------------

def _makers(model):
    return {"model": lambda: model, "session": lambda: model.session(), "session2": lambda: model.session(2)}


@pytest.mark.parametrize("which", ["model", "session", "session2"])
def test_batch1_inputs_that_skip_the_fast_path(model, which, x300):
    """Arrays that the fast path does not take (read-only, other dtypes, other byte orders,
    subclasses, strided) give the same answers as a plain float32 row."""
    runner = _makers(model)[which]()
    x = x300[7]
    want = model.predict_proba(x[None, :].copy())
    readonly = x.copy()
    readonly.flags.writeable = False
    frombytes = np.frombuffer(x.tobytes(), dtype=np.float32)  # read-only too
    pixels = (x * 255).astype(np.uint8)
    readonly_pixels = np.frombuffer(pixels.tobytes(), dtype=np.uint8)

    class Sub(np.ndarray):
        pass

    for form in (readonly, frombytes, x.astype(">f4"), x.astype(np.float64), x.view(Sub),
                 np.repeat(x, 2)[::2], np.asfortranarray(x.reshape(28, 28)), x.reshape(1, 784)):
        np.testing.assert_array_equal(runner.predict_proba(form), want)
        np.testing.assert_array_equal(runner.predict(form), want.argmax(axis=1))
    np.testing.assert_array_equal(runner.predict_proba(readonly_pixels), model.predict_proba(pixels))


def test_batch1_inputs_model_passes_x_session_copies_into_its_buffer(model, monkeypatch):
    # The model (shared between threads) passes the caller's array itself; a session copies the
    # example into its own buffer, one per input type, the same for every call.
    seen = []

    def spy(real, size):
        def call(handle, inputs, *rest):
            address = ctypes.cast(inputs, ctypes.c_void_p).value
            seen.append((address, ctypes.string_at(address, size)))
            return real(handle, inputs, *rest)
        return call

    for name, size in (("_model_predict_unchecked", 784 * 4), ("_model_predict_u8_unchecked", 784),
                       ("_session_predict_unchecked", 784 * 4), ("_session_predict_u8_unchecked", 784)):
        monkeypatch.setattr(_capi, name, spy(getattr(_capi, name), size))
    x = random_inputs(2)
    pixels = np.arange(784, dtype=np.uint8).reshape(28, 28)
    for row in (x[0], x[1]):
        model.predict(row[None])
    model.predict_proba(pixels)
    assert seen == [(x[0:1].ctypes.data, x[0].tobytes()), (x[1:2].ctypes.data, x[1].tobytes()),
                    (pixels.ctypes.data, pixels.tobytes())]
    seen.clear()
    with model.session() as session:
        session.predict(x[0:1])
        session.predict_proba(x[1])
        session.predict_proba(pixels)
        session.predict_proba(pixels.T.copy())
    (a0, b0), (a1, b1), (p0, q0), (p1, q1) = seen
    assert a0 == a1 != x.ctypes.data and p0 == p1 != pixels.ctypes.data and a0 != p0
    assert (b0, b1, q0, q1) == (x[0].tobytes(), x[1].tobytes(), pixels.tobytes(), pixels.T.copy().tobytes())


def test_batch1_strided_example_takes_the_session_fast_path(model, monkeypatch):
    # A view that is not C-contiguous is copied into the session's buffer like any example.
    wide = np.ascontiguousarray(np.repeat(random_inputs(1).reshape(28, 28), 2, axis=1))
    view = wide[:, ::2]
    assert not view.flags.c_contiguous
    expected = model.predict_proba(np.ascontiguousarray(view))
    with model.session() as session:
        session.predict_proba(view)  # the first call makes the buffers
        monkeypatch.setattr(_capi, "nnrt_session_predict", None)  # the checked path would fail
        np.testing.assert_array_equal(session.predict_proba(view), expected)
        np.testing.assert_array_equal(session.predict_proba(view.astype(np.float32)), expected)


def test_raw_session_functions(model):
    handle = model._handle
    session = ctypes.c_void_p(12345)
    assert _capi.nnrt_session_create(None, 1, ctypes.byref(session)) == _capi.NNRT_ERR_INVALID_ARGUMENT
    assert session.value is None
    assert _capi.nnrt_session_create(handle, 257, ctypes.byref(session)) == _capi.NNRT_ERR_INVALID_ARGUMENT
    assert _capi.nnrt_session_create(handle, 2, ctypes.byref(session)) == _capi.NNRT_OK
    threads = ctypes.c_size_t()
    assert _capi.nnrt_session_threads(session.value, ctypes.byref(threads)) == _capi.NNRT_OK
    assert threads.value == 2
    x = random_inputs(3)
    outputs = np.full((3, 10), -7.0, np.float32)
    assert _capi.nnrt_session_predict(session.value, x.ctypes.data, 3, x.size, None, 0,
                                      outputs.ctypes.data, 29) == _capi.NNRT_ERR_BUFFER_TOO_SMALL
    assert (outputs == -7).all()  # nothing written
    assert _capi.nnrt_session_predict(session.value, x.ctypes.data, 3, x.size - 1, None, 0,
                                      outputs.ctypes.data, 30) == _capi.NNRT_ERR_SHAPE_MISMATCH
    assert _capi.nnrt_session_predict(session.value, x.ctypes.data, 3, x.size, None, 0,
                                      outputs.ctypes.data, 30) == _capi.NNRT_OK
    np.testing.assert_array_equal(outputs, model.predict_proba(x))
    _capi.nnrt_session_free(session.value)
    _capi.nnrt_session_free(None)
