"""Session: one ``nnrt_session`` handle, reusable memory and opt-in threads for one caller."""

from __future__ import annotations

import threading
from ctypes import byref, c_size_t, c_void_p
from typing import TYPE_CHECKING, Any, Iterable, List, Optional, Tuple, overload

from . import _capi, _model
from ._errors import ClosedSessionError, InvalidArgumentError, NNRTError, check
from ._model import _SIZE_0, _SIZE_1, Model, _address, _char_from_buffer, _examples, _run_batch

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from ._images import FileResult
    from ._model import Labels, ModelInput, Outputs

__all__ = ["Session"]

_SIZE_MAX = c_size_t(-1).value


class _SingleBuffers:
    """A session's batch-1 buffers and ctypes pointers to them, made once: one example's input
    as float32 and as uint8, each with a view for every shape one example may take, and one
    example's label and outputs."""

    __slots__ = ("float_views", "float_pointer", "u8_views", "u8_pointer",
                 "labels", "labels_pointer", "outputs", "outputs_pointer")

    def __init__(self, input_size: int, class_count: int, shapes: Iterable[Tuple[int, ...]]) -> None:
        numpy = _model._np
        floats = numpy.zeros(input_size, _model._FLOAT32)
        pixels = numpy.zeros(input_size, _model._UINT8)
        self.float_views = {shape: floats.reshape(shape) for shape in shapes}
        self.u8_views = {shape: pixels.reshape(shape) for shape in shapes}
        self.float_pointer = byref(_char_from_buffer(floats))
        self.u8_pointer = byref(_char_from_buffer(pixels))
        self.labels = numpy.empty(1, _model._INT32)
        self.outputs = numpy.empty((1, class_count), _model._FLOAT32)
        self.labels_pointer = byref(_char_from_buffer(self.labels))
        self.outputs_pointer = byref(_char_from_buffer(self.outputs))


class Session:
    """Runs one :class:`Model` (or :class:`Ensemble`) for one caller: ``Session(model, threads=1)``,
    or ``model.session(threads=1)``.

    A session keeps its scratch memory between calls: after the first call of a given batch size
    a prediction allocates nothing in the library, and at batch 1 the binding reuses its own
    input and output buffers too (the example is copied in, the results are copied out, so every
    call returns new arrays). That is the lean path for latency-sensitive callers that predict
    one example at a time.

    **Results are identical to the model's own predictions, bit for bit**, whatever the thread
    count: ``session.predict_proba(x)`` equals ``model.predict_proba(x)`` exactly.

    **Threads are opt-in.** ``threads`` counts the threads one prediction uses, the calling thread
    included: 1 (the default) runs on the calling thread only and creates no thread; N > 1 makes
    the session start N - 1 threads of its own, which sleep between calls (after watching for
    the next call for at most 0.1 ms); 0 means one per online core. A batch is split by examples
    and uses fewer threads when a thread's share would be under about 500,000 multiply-adds (22
    rows of a 784-30-10 network), so an MLP's batch 1 runs on the calling thread. With fewer
    examples than threads, a network's convolutions split their output maps between the threads
    instead, and its large dense layers their columns (a conv net's batch 1 uses them all). Too
    many threads (the library's limit is 256) raise :class:`nnrt.InvalidArgumentError`.
    :attr:`threads` reports the resolved count.

    **One thread at a time per session.** The model stays shareable, but a session is not: give
    each Python thread its own session. Concurrent calls on one session do not corrupt anything,
    they wait for each other (a lock serializes them), so they gain nothing. The library releases
    the GIL while it computes, so sessions in different threads run in parallel.

    Prediction takes exactly what :meth:`Model.predict` and :meth:`Model.predict_proba` take
    (float data or ``uint8`` pixels, one example or a batch of N: arrays, buffers, sequences) and
    returns the same types and shapes (numpy arrays, or lists without numpy); errors are the same
    (:class:`nnrt.ShapeMismatchError` for input that does not fit). There is no
    ``predict_members``: use the model's.

    Lifetime: the session keeps its model alive, in C (the library holds the model for the
    session) and in Python (``session.model``), so the model may be closed or garbage-collected
    first and the session keeps predicting. ``close()`` stops the session's threads and frees
    it; it is idempotent, and any later use raises :class:`nnrt.ClosedSessionError`. Sessions
    are context managers, and are also released when garbage-collected.
    """

    # Class defaults, so close() and __del__ work on a partial object (type comments: an
    # annotation here would show in help(nnrt.Session)).
    _handle = None  # type: Optional[int]
    _c_handle = None  # type: Optional[c_void_p]
    _model = None  # type: Optional[Model]

    def __init__(self, model: Model, threads: int = 1) -> None:
        """Creates a session for ``model`` that uses ``threads`` threads (see the class docstring)."""
        self._lock = threading.Lock()
        if not isinstance(model, Model):
            raise TypeError(f"Session() takes an nnrt.Model, not {type(model).__name__}")
        if isinstance(threads, bool) or not hasattr(threads, "__index__") or threads.__index__() < 0:
            raise InvalidArgumentError(
                _capi.NNRT_ERR_INVALID_ARGUMENT,
                f"threads must be a non-negative int (0: one per core), not {threads!r}",
            )
        requested = min(threads.__index__(), _SIZE_MAX)  # the library rejects what it cannot run
        handle = c_void_p()
        check(_capi.nnrt_session_create(model._ptr(), requested, byref(handle)))
        if not handle.value:
            raise NNRTError(_capi.NNRT_ERR_INTERNAL, "libnnrt reported success but gave no session")
        self._free = _capi.nnrt_session_free  # kept on the instance for __del__ at shutdown
        self._handle = handle.value
        self._c_handle = c_void_p(handle.value)
        self._model = model
        count = c_size_t()
        try:
            check(_capi.nnrt_session_threads(self._handle, byref(count)))
        except BaseException:
            self.close()
            raise
        self._threads: int = count.value
        # The model's immutable shape facts, used per call (they outlive model.close()).
        self._input_size: int = model._input_size
        self._class_count: int = model._class_count
        self._input_shape: Tuple[int, ...] = model._input_shape
        self._example_shapes = model._example_shapes
        self._single_shapes = model._single_shapes
        self._c_input_size = c_size_t(self._input_size)
        self._c_class_count = c_size_t(self._class_count)
        # Batch-1 buffers, made at the first batch-1 call. Guarded by the lock, like every call.
        self._buffers: Optional[_SingleBuffers] = None

    # --- Handle ownership ------------------------------------------------------------------

    def close(self) -> None:
        """Stop the session's threads and free it. Idempotent; any later use raises
        :class:`nnrt.ClosedSessionError`. Waits for a call in progress on another thread.

        The model is not closed: it keeps working, and so do its other sessions.
        """
        with self._lock:
            handle, self._handle = self._handle, None
            self._c_handle = None
            self._model = None
            self._buffers = None
        if handle is not None:
            self._free(handle)

    @property
    def closed(self) -> bool:
        """Whether ``close()`` has been called."""
        return self._handle is None

    def _check_open(self) -> None:
        if self._handle is None:
            raise ClosedSessionError()

    def _ptr(self) -> int:
        handle = self._handle
        if handle is None:
            raise ClosedSessionError()
        return handle

    def __enter__(self) -> Session:
        """Returns the session itself (``with model.session() as session:``); closed on exit."""
        self._check_open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: nothing sensible left to do
            pass

    def __repr__(self) -> str:
        model = self._model
        if self._handle is None or model is None:
            return "<nnrt.Session [closed]>"
        return f"<nnrt.Session threads={self._threads} model={model!r}>"

    # --- Introspection ---------------------------------------------------------------------

    @property
    def threads(self) -> int:
        """The number of threads a prediction uses, the calling thread included (a ``threads=0``
        request resolved to the number of online cores)."""
        self._check_open()
        return self._threads

    @property
    def model(self) -> Model:
        """The model this session runs (kept alive by the session)."""
        model = self._model
        if self._handle is None or model is None:
            raise ClosedSessionError()
        return model

    # --- Inference -------------------------------------------------------------------------

    def _make_buffers(self) -> _SingleBuffers:
        buffers = _SingleBuffers(self._input_size, self._class_count, self._single_shapes)
        self._buffers = buffers
        return buffers

    def _single(self, x: Any, labels: bool) -> Optional[np.ndarray]:
        """The batch-1 fast path: labels (``labels``) or outputs for ``x`` if it is a float32 or
        uint8 ndarray holding one example, else None (then :meth:`_predict` runs).

        It checks no more than that, copies ``x`` into the session's input buffer (cheaper than
        making a ctypes pointer to ``x`` and, unlike one, no object for the garbage collector),
        calls the unchecked twin of the library function with ctypes arguments prepared once
        (see ``_capi``) and copies the results out of the session's output buffer (every call
        returns a new array).
        """
        numpy = _model._np
        if numpy is None or type(x) is not numpy.ndarray:
            return None
        shape = x.shape
        if shape not in self._single_shapes:
            return None
        dtype = x.dtype
        if dtype is _model._FLOAT32:
            u8 = False
        elif dtype is _model._UINT8:
            u8 = True
        else:
            return None
        lock = self._lock
        lock.acquire()
        try:
            handle = self._c_handle
            if handle is None:
                raise ClosedSessionError()
            b = self._buffers or self._make_buffers()
            if u8:
                b.u8_views[shape][...] = x
                function, pointer = _capi._session_predict_u8_unchecked, b.u8_pointer
            else:
                b.float_views[shape][...] = x
                function, pointer = _capi._session_predict_unchecked, b.float_pointer
            if labels:
                status = function(handle, pointer, _SIZE_1, self._c_input_size,
                                  b.labels_pointer, _SIZE_1, None, _SIZE_0)
            else:
                status = function(handle, pointer, _SIZE_1, self._c_input_size,
                                  None, _SIZE_0, b.outputs_pointer, self._c_class_count)
            if status:
                raise NNRTError.from_status(status)
            result: "np.ndarray" = b.labels.copy() if labels else b.outputs.copy()
            return result
        finally:
            lock.release()

    def _predict(self, x: ModelInput, labels: bool) -> Any:
        """Labels (``labels``) or outputs for any accepted input (converted once if needed) and
        any batch size, through the checked library function, into a new array (or new lists,
        without numpy)."""
        flat, count, u8 = _examples(x, self._example_shapes, self._input_size, self._input_shape)
        with self._lock:
            handle = self._handle
            if handle is None:
                raise ClosedSessionError()
            # Looked up per call (not bound once) so that tests can spy on the raw functions.
            function = _capi.nnrt_session_predict_u8 if u8 else _capi.nnrt_session_predict
            return _run_batch(function, handle, flat, count, labels, self._input_size, self._class_count)

    def classify_files(self, items: Iterable[Any], top: int = 3) -> List[FileResult]:
        """As :meth:`nnrt.Model.classify_files`, on this session's threads and memory: a list of
        :class:`nnrt.FileResult`, one per item."""
        from ._images import classify_items

        self._check_open()
        return classify_items(self._model, self, items, top)

    @overload
    def predict(self, x: np.ndarray) -> np.ndarray: ...
    @overload
    def predict(self, x: ModelInput) -> Labels: ...

    def predict(self, x: ModelInput) -> Labels:
        """Predicted class indices, an ``int32`` array of shape (N,) (without numpy a list of N
        ints), exactly as :meth:`Model.predict` gives them."""
        result = self._single(x, True)
        return self._predict(x, True) if result is None else result

    @overload
    def predict_proba(self, x: np.ndarray) -> np.ndarray: ...
    @overload
    def predict_proba(self, x: ModelInput) -> Outputs: ...

    def predict_proba(self, x: ModelInput) -> Outputs:
        """Outputs, a ``float32`` array of shape (N, class_count) (without numpy N lists of
        ``class_count`` floats), exactly (bit for bit) as :meth:`Model.predict_proba` gives them."""
        result = self._single(x, False)
        return self._predict(x, False) if result is None else result
