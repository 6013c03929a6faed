"""The object layer: Model and Ensemble, each owning one ``nnrt_model`` handle."""

from __future__ import annotations

import os
import sys
from array import array
from collections.abc import Sequence
from ctypes import addressof, byref, c_char, c_char_p, c_float, c_int32, c_size_t, c_uint32, c_void_p
from itertools import chain
from typing import (TYPE_CHECKING, Any, Dict, FrozenSet, Iterable, List, NamedTuple, Optional, Tuple, Union,
                    overload)

from . import _capi
from ._errors import (ClosedModelError, InvalidArgumentError, NNRTError, NotFoundError, ShapeMismatchError,
                      check)

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    from numpy.typing import ArrayLike

    from ._session import Session
    from ._images import FileResult

    #: What prediction takes: numpy arrays and anything numpy.asarray takes, and (without numpy
    #: too) uint8 or float32 buffers and nested sequences of numbers.
    ModelInput = Union[ArrayLike, bytes, bytearray, memoryview, "array[Any]"]
    #: Labels: an int32 ndarray (N,) with numpy, else a list of N ints.
    Labels = Union[np.ndarray, List[int]]
    #: Outputs: a float32 ndarray (N, class_count) with numpy, else N lists of class_count floats.
    Outputs = Union[np.ndarray, List[List[float]]]
    #: predict_members: ndarrays (N, members) and (N, members, class_count), else nested lists.
    MemberResults = Union[Tuple[np.ndarray, np.ndarray], Tuple[List[List[int]], List[List[List[float]]]]]

__all__ = ["Model", "Ensemble", "InputContract", "Producer", "LayerInfo"]

#: What ``Model(...)`` accepts: a path, or the bytes of a model file.
ModelSource = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview]

_VOTING_NAMES = {
    _capi.NNRT_VOTING_MAJORITY: "majority",
    _capi.NNRT_VOTING_MEAN_PROBABILITY: "mean-probability",
}
_VOTING_CODES = {name: code for code, name in _VOTING_NAMES.items()}
_LAYER_NAMES = {
    _capi.NNRT_LAYER_DENSE: "dense",
    _capi.NNRT_LAYER_CONV2D: "conv2d",
    _capi.NNRT_LAYER_MAX_POOL2D: "max_pool2d",
}
_ACTIVATION_NAMES = {
    _capi.NNRT_ACTIVATION_SIGMOID: "sigmoid",
    _capi.NNRT_ACTIVATION_TANH: "tanh",
    _capi.NNRT_ACTIVATION_RELU: "relu",
    _capi.NNRT_ACTIVATION_LINEAR: "linear",
    _capi.NNRT_ACTIVATION_SOFTMAX: "softmax",
}
_POLARITY_NAMES = {
    _capi.NNRT_POLARITY_LIGHT_ON_DARK: "light-on-dark",
    _capi.NNRT_POLARITY_DARK_ON_LIGHT: "dark-on-light",
}


class InputContract(NamedTuple):
    """How raw 8-bit pixels become network input: ``float = pixel * scale + offset``.

    ``polarity`` is ``"light-on-dark"`` (MNIST: white digit on black) or ``"dark-on-light"``.
    """

    scale: float
    offset: float
    polarity: str


class LayerInfo(NamedTuple):
    """One layer of a member network (``Model.layers``).

    ``kind`` is ``"dense"``, ``"conv2d"`` or ``"max_pool2d"``; ``activation`` is ``"sigmoid"``,
    ``"tanh"``, ``"relu"``, ``"linear"`` or ``"softmax"`` (a value a newer library adds shows as
    ``"unknown(N)"``); ``name`` is the layer's name in the file; ``summary`` is a readable line
    with the shapes, e.g. ``"conv2d 'conv1' [1,28,28] -> [20,24,24], 5x5 kernels, linear"``
    (for display: its wording may change).
    """

    kind: str
    activation: str
    name: str
    summary: str


class Producer(NamedTuple):
    """The program that wrote a model file, e.g. ``Producer("nnrt", "0.3.0")``."""

    name: str
    version: str


# numpy, imported at the first prediction (loading and introspection never need it), and the
# dtypes the per-call path compares against by identity. Without numpy (_NO_NUMPY once an import
# failed), prediction takes buffers and sequences and returns lists (the "plain" path below).
_np: Any = None
_NO_NUMPY = False
_FLOAT32: Any = None
_UINT8: Any = None
_INT32: Any = None


def _numpy() -> Any:
    """numpy, imported at the first call, or None if it cannot be imported (tried once)."""
    global _np, _NO_NUMPY, _FLOAT32, _UINT8, _INT32
    if _np is None and not _NO_NUMPY:
        try:
            import numpy
        except ImportError:
            _NO_NUMPY = True
            return None
        _FLOAT32, _UINT8 = numpy.dtype(numpy.float32), numpy.dtype(numpy.uint8)
        _INT32 = numpy.dtype(numpy.int32)
        _np = numpy  # last: another thread seeing _np set also sees the dtypes
    return _np


_char_from_buffer = c_char.from_buffer
#: c_size_t constants for the unchecked batch-1 calls (read only, shared by every thread).
_SIZE_0 = c_size_t(0)
_SIZE_1 = c_size_t(1)
#: The array.array type code of int32_t (the library's labels).
_INT32_CODE = next(code for code in "ilh" if array(code).itemsize == 4)
#: Struct byte-order prefixes that mean this machine's order for a float32 buffer.
_NATIVE_ORDERS = ("", "@", "=", "<") if sys.byteorder == "little" else ("", "@", "=", ">", "!")


def _run_batch(function: Any, handle: Any, flat: Any, count: int, labels: bool,
               input_size: int, class_count: int) -> Any:
    """Calls a checked predict function (model or session, float or u8) on ``count`` examples in
    ``flat`` into a new array: labels (int32, (count,)) or outputs (float32, (count, classes)).

    Without numpy ``flat`` is what :func:`_plain_examples` returns, and so is the result: a list
    of ints or a list of rows (lists of floats).
    """
    numpy = _np
    if numpy is None:
        return _run_batch_plain(function, handle, flat, count, labels, input_size, class_count)
    result: "np.ndarray"
    if labels:
        result = numpy.empty(count, _INT32)
    else:
        result = numpy.empty((count, class_count), _FLOAT32)
    if count == 0:
        return result
    address = _address(result)
    status = function(
        handle, _address(flat), count, count * input_size,
        address if labels else None, count if labels else 0,
        None if labels else address, 0 if labels else result.size,
    )
    if status:
        raise NNRTError.from_status(status)
    return result


def _run_batch_plain(function: Any, handle: Any, data: Any, count: int, labels: bool,
                     input_size: int, class_count: int) -> Union[List[int], List[List[float]]]:
    """:func:`_run_batch` without numpy: results in array.array buffers, returned as lists."""
    if count == 0:
        return []
    size = count if labels else count * class_count
    result = array(_INT32_CODE if labels else "f", bytes(4 * size))
    address = result.buffer_info()[0]
    status = function(
        handle, data, count, count * input_size,
        address if labels else None, size if labels else 0,
        None if labels else address, 0 if labels else size,
    )
    if status:
        raise NNRTError.from_status(status)
    values = result.tolist()
    return values if labels else _rows(values, class_count)


def _rows(values: List[Any], width: int) -> List[Any]:
    """``values`` cut into consecutive lists of ``width``."""
    return [values[start:start + width] for start in range(0, len(values), width)]


def _nest(values: List[Any], shape: Tuple[int, ...]) -> List[Any]:
    """Flat ``values`` as nested lists of ``shape`` (what ndarray.tolist() gives)."""
    for width in reversed(shape[1:]):
        values = _rows(values, width)
    return values


def _address(array: Any) -> int:
    """The address of the data of a non-empty, C-contiguous ndarray, as an int (for the checked
    functions, whose buffers are ``c_void_p``).

    ``c_char.from_buffer`` costs a fraction of ``array.ctypes.data`` or ``.ctypes.data_as``
    (which build a helper object per call and cost more than a batch-1 prediction). It needs a
    writable buffer, so read-only arrays take the slow way.
    """
    try:
        return addressof(_char_from_buffer(array))
    except TypeError:  # read-only: no writable buffer
        return int(array.ctypes.data)


def _pointer(array: Any) -> Any:
    """A pointer to the data of a non-empty, C-contiguous ndarray, as a ctypes object for the
    unchecked functions (``_capi._*_unchecked``): a byref of a one-byte view of its buffer."""
    try:
        return byref(_char_from_buffer(array))
    except TypeError:  # read-only: no writable buffer
        return c_void_p(array.ctypes.data)


def _shape_error(shape: Tuple[int, ...], input_size: int, input_shape: Tuple[int, ...]) -> ShapeMismatchError:
    return ShapeMismatchError(
        _capi.NNRT_ERR_SHAPE_MISMATCH,
        f"input of shape {shape} does not fit the model's examples of shape "
        f"{input_shape} ({input_size} values): expected (N, {input_size}), "
        f"(N, *{input_shape}) or a single example",
    )


def _shape_count(shape: Tuple[int, ...], shapes: FrozenSet[Tuple[int, ...]], input_size: int,
                 input_shape: Tuple[int, ...]) -> int:
    """How many examples input of ``shape`` holds: one if it is an example's shape, N if it is
    (N, *example shape); anything else raises ShapeMismatchError."""
    if shape in shapes:
        return 1
    if len(shape) >= 2 and shape[1:] in shapes:
        return shape[0]
    raise _shape_error(shape, input_size, input_shape)


def _flat_count(values: int, input_size: int, input_shape: Tuple[int, ...]) -> int:
    """How many examples a one-dimensional buffer of ``values`` values holds (any whole number)."""
    count, rest = divmod(values, input_size)
    if rest:
        raise ShapeMismatchError(
            _capi.NNRT_ERR_SHAPE_MISMATCH,
            f"a flat buffer of {values} values does not hold whole examples of the model's "
            f"{input_size} values (shape {input_shape}): expected N * {input_size} values",
        )
    return count


def _buffer(x: Any) -> Optional[memoryview]:
    """A memoryview of ``x`` if it has the buffer protocol (bytes, bytearray, memoryview,
    array.array, ctypes arrays, ...), else None."""
    try:
        return memoryview(x)
    except TypeError:
        return None


def _examples(x: Any, shapes: FrozenSet[Tuple[int, ...]], input_size: int,
              input_shape: Tuple[int, ...]) -> Tuple[Any, int, bool]:
    """``x`` as C-contiguous float32 or uint8 data holding N examples, N, and whether it is uint8.

    The array is ``x`` itself when it already is a C-contiguous float32 or uint8 ndarray of an
    accepted shape (then it is not even reshaped: the library reads N * input_size values from
    its address); anything else is converted once to (N, input_size). A one-dimensional buffer
    that is not an ndarray (bytes, array.array, ...) holds any whole number of examples, flat.
    Without numpy, :func:`_plain_examples` does this instead.
    """
    numpy = _np if _np is not None else _numpy()
    if numpy is None:
        return _plain_examples(x, shapes, input_size, input_shape)
    if type(x) is numpy.ndarray:  # the per-call fast path: no conversion, no reshape
        dtype = x.dtype
        if (dtype is _FLOAT32 or dtype is _UINT8) and x.flags.c_contiguous:
            shape = x.shape
            if shape in shapes:
                return x, 1, dtype is _UINT8
            if len(shape) >= 2 and shape[1:] in shapes:
                return x, shape[0], dtype is _UINT8
    flat_buffer = False
    if isinstance(x, numpy.ndarray):
        values = x
    else:
        view = _buffer(x)
        try:
            values = numpy.asarray(x if view is None else view)  # a memoryview of bytes is uint8
        except ValueError as error:  # ragged nested sequences
            raise ShapeMismatchError(_capi.NNRT_ERR_SHAPE_MISMATCH,
                                     f"input is not a regular array of numbers: {error}") from None
        if view is not None:
            if values.dtype.kind == "S" and values.dtype.itemsize == 1:  # format 'c': bytes
                values = values.view(numpy.uint8)
            flat_buffer = values.ndim == 1
    if values.dtype.kind not in "biuf":
        raise TypeError(f"model input must be numeric, not {values.dtype}")
    u8 = bool(values.dtype == numpy.uint8)
    if flat_buffer:
        count = _flat_count(values.size, input_size, input_shape)
    else:
        count = _shape_count(tuple(values.shape), shapes, input_size, input_shape)
    flat = numpy.ascontiguousarray(values, dtype=_UINT8 if u8 else _FLOAT32).reshape(count, input_size)
    return flat, count, u8


# --- Without numpy ------------------------------------------------------------------------------

def _buffer_is_u8(view: memoryview) -> bool:
    """Whether a buffer holds uint8 pixels (format 'B' or 'c') or native float32 values ('f');
    TypeError for anything else."""
    fmt = view.format
    order, code = (fmt[0], fmt[1:]) if fmt[:1] in ("@", "=", "<", ">", "!") else ("", fmt)
    if code in ("B", "c"):
        return True
    if code == "f" and view.itemsize == 4:
        if order in _NATIVE_ORDERS:
            return False
        raise TypeError(f"model input buffers of float32 must be in this machine's byte order, not "
                        f"format {fmt!r}: byteswap them first (array.array('f', data).byteswap())")
    raise TypeError(
        f"model input buffers must hold uint8 pixels (format 'B') or float32 values (format 'f'), "
        f"not format {fmt!r}: pass float32 (e.g. array.array('f', values)); with numpy installed, "
        f"other types are converted"
    )


def _plain_data(x: Any, view: memoryview) -> Any:
    """The data of a buffer as something a ``c_void_p`` argument takes, without a copy where
    possible: ``bytes`` itself (ctypes passes its address), a ctypes array over a writable
    buffer; a read-only or non-contiguous buffer is copied once into ``bytes``."""
    if view.nbytes == 0:
        return None
    if view.c_contiguous:
        base = view.obj
        if type(base) is bytes and view.nbytes == len(base):  # the whole of a bytes object
            return base
        if not view.readonly:
            return (c_char * view.nbytes).from_buffer(view)
    return view.tobytes()


def _is_sequence(value: Any) -> bool:
    """Whether ``value`` is a level of nested input (lists, tuples, other sequences); text and
    buffers are not (a bytes row inside a list is an error, not 784 numbers)."""
    if type(value) is list or type(value) is tuple:
        return True
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes, bytearray, memoryview, array))


def _nested(x: Any, what: str = "input") -> Tuple[Tuple[int, ...], List[Any]]:
    """The shape of (nested) sequences ``x`` and their leaves in order (C order); a leaf ``x``
    has shape (). Sequences of unequal lengths raise ShapeMismatchError ("{what} is not ...")."""
    if not _is_sequence(x):
        return (), [x]
    shape = [len(x)]
    level = list(x)
    while level and _is_sequence(level[0]):
        width = len(level[0])
        for item in level:
            if not _is_sequence(item) or len(item) != width:
                raise ShapeMismatchError(
                    _capi.NNRT_ERR_SHAPE_MISMATCH,
                    f"{what} is not a regular array of numbers: sequences of different lengths or "
                    f"depths at depth {len(shape)} (the first has {width} items)",
                )
        shape.append(width)
        level = list(chain.from_iterable(level))
    return tuple(shape), level


def _float32(values: List[Any]) -> "array[float]":
    """The leaves of nested input as an array of float32; TypeError for non-numbers."""
    try:
        return array("f", values)
    except (TypeError, OverflowError) as error:
        for value in values:
            if _is_sequence(value):
                raise ShapeMismatchError(
                    _capi.NNRT_ERR_SHAPE_MISMATCH,
                    "input is not a regular array of numbers: numbers and sequences at the same depth",
                ) from None
        for value in values:
            if not isinstance(value, (int, float)):
                raise TypeError(f"model input must be numeric, not {type(value).__name__}") from None
        raise TypeError(f"model input must be numbers float32 can hold: {error}") from None  # a huge int


def _plain_examples(x: Any, shapes: FrozenSet[Tuple[int, ...]], input_size: int,
                    input_shape: Tuple[int, ...]) -> Tuple[Any, int, bool]:
    """:func:`_examples` without numpy: (data for a ``c_void_p`` argument, N, uint8?).

    A buffer of uint8 (bytes, bytearray, array('B'), memoryview 'B') or float32 (array('f'),
    memoryview 'f') is passed as it is when it is writable or ``bytes`` (a read-only or strided
    one is copied once); one-dimensional buffers hold any whole number of examples, others follow
    the shape rules of arrays. Nested sequences of numbers are converted to float32 once.
    """
    view = _buffer(x)
    if view is not None:
        u8 = _buffer_is_u8(view)
        if view.ndim == 1:
            count = _flat_count(len(view), input_size, input_shape)
        else:
            count = _shape_count(tuple(view.shape or ()), shapes, input_size, input_shape)
        return _plain_data(x, view), count, u8
    shape, leaves = _nested(x)
    values = _float32(leaves)
    count = _shape_count(shape, shapes, input_size, input_shape)
    return _plain_data(values, memoryview(values)), count, False


def _plain_scaled(data: Any, scale: float, offset: float) -> "array[float]":
    """uint8 pixels as float32 ``pixel * scale + offset``, rounded as numpy's float32 arithmetic
    rounds it (each product and sum to float32), for the members' float-only function."""
    products = array("f", [pixel * scale for pixel in range(256)])  # exact in double, then rounded
    table = array("f", [product + offset for product in products])
    return array("f", [table[pixel] for pixel in bytes(data)])


def _text(raw: Optional[bytes]) -> str:
    return raw.decode("utf-8", errors="replace") if raw else ""


def _path_bytes(path: Union[str, os.PathLike[str], bytes]) -> bytes:
    """A path as the bytes the C library gets (``os.fsencode``: any str Python can hold, including
    names that are not UTF-8). A NUL byte would cut the path short in C, so it is refused."""
    encoded = os.fsencode(path)
    if b"\0" in encoded:
        raise InvalidArgumentError(
            _capi.NNRT_ERR_INVALID_ARGUMENT,
            f"path {os.fsdecode(encoded)!r} contains a NUL character: no file can have that name",
        )
    return encoded


class Model:
    """A loaded nnrt model: a single network or a voting ensemble.

    ``Model(path)`` loads a file (``str`` or ``pathlib.Path``); ``Model(data)`` loads the bytes of
    a model file (``bytes``, ``bytearray`` or ``memoryview``). The whole file is validated before
    this returns; failures raise :class:`nnrt.NNRTError` subclasses (``NNRTIOError``,
    ``BadModelError``, ``UnsupportedVersionError``, ...).

    A model is immutable and may be used by many threads at once (the library releases the GIL
    while it computes). ``close()`` releases it; it must not race with other use of the same
    model. Models are context managers, and are also released when garbage-collected.

    :meth:`session` (:class:`nnrt.Session`) runs the model for one caller with reusable memory
    (the leanest batch-1 path) and, on request, threads of its own; its results are this model's,
    bit for bit.

    Prediction input ``x`` is one of:

    - float data, ``(N, input_size)`` or ``(N, *input_shape)`` (e.g. ``(N, 784)`` or
      ``(N, 28, 28)`` for MNIST, values 0..1), or a single example (``(784,)``, ``(28, 28)``),
      which counts as N = 1: a numpy array, or (nested) lists or tuples of numbers. A
      C-contiguous ``float32`` array is passed to the library without a copy; any other array
      or a sequence is converted once.
    - ``uint8`` pixels of the same shapes, scaled by the model's input contract inside the
      library (MNIST: pixel / 255): numpy arrays of dtype ``uint8``. Lists of ints are read as
      float values, not as pixels.
    - a buffer: ``bytes``, ``bytearray``, ``array.array('B')`` or a memoryview of format ``'B'``
      hold ``uint8`` pixels (as a ``uint8`` array does); ``array.array('f')`` or a memoryview of
      format ``'f'`` hold ``float32`` values. A one-dimensional buffer holds N examples one after
      the other (N * input_size values, any N, 0 included); a memoryview of more dimensions
      follows the shapes above. ``bytes`` and writable buffers are passed without a copy.

    **Results are numpy arrays if numpy can be imported, else plain Python lists**, exactly what
    the array's ``.tolist()`` gives: :meth:`predict` a list of N ints, :meth:`predict_proba` N
    lists of ``class_count`` floats (one example: a list of one). Which one depends only on
    whether numpy is installed, never on the input. Without numpy every input above but numpy
    arrays works, except buffers of other types than ``uint8`` and ``float32`` (``TypeError``:
    numpy converts them). Loading and every property never need numpy.
    """

    # Class defaults, so __del__ works even if __init__ failed (type comments: an annotation here
    # would show in help(nnrt.Model)).
    _handle = None  # type: Optional[int]
    _c_handle = None  # type: Optional[c_void_p]

    def __init__(self, source: Union[str, os.PathLike[str], bytes, bytearray, memoryview]) -> None:
        """Loads and validates a model file from a path, or from the bytes of a model file."""
        handle = c_void_p()
        if isinstance(source, (str, os.PathLike)):
            status = _capi.nnrt_model_load(_path_bytes(source), byref(handle))
        elif isinstance(source, (bytes, bytearray, memoryview)):
            data = source if isinstance(source, bytes) else bytes(source)
            status = _capi.nnrt_model_load_from_memory(data, len(data), byref(handle))
        else:
            raise TypeError(
                "Model() takes a path (str or os.PathLike) or the bytes of a model file, "
                f"not {type(source).__name__}"
            )
        check(status)
        self._adopt(handle.value)

    # --- Handle ownership ------------------------------------------------------------------

    def _adopt(self, handle: Optional[int]) -> None:
        """Take ownership of a new handle and cache the immutable shape facts used per call."""
        if not handle:
            raise NNRTError(_capi.NNRT_ERR_INTERNAL, "libnnrt reported success but gave no model")
        self._free = _capi.nnrt_model_free  # kept on the instance for __del__ at shutdown
        self._handle = handle
        try:
            self._input_size = self._get_size(_capi.nnrt_model_input_size)
            self._class_count = self._get_size(_capi.nnrt_model_class_count)
            self._member_count = self._get_size(_capi.nnrt_model_member_count)
            self._input_shape = self._get_input_shape()
        except BaseException:
            self.close()
            raise
        # The same facts as ctypes values, for the unchecked batch-1 calls.
        self._c_handle = c_void_p(handle)
        self._c_input_size = c_size_t(self._input_size)
        self._c_class_count = c_size_t(self._class_count)
        unit_stripped = self._input_shape
        while len(unit_stripped) > 1 and unit_stripped[0] == 1:
            unit_stripped = unit_stripped[1:]
        # Shapes that one example may have: flat, as the contract says, and without leading 1s.
        self._example_shapes: FrozenSet[Tuple[int, ...]] = frozenset(
            {(self._input_size,), self._input_shape, unit_stripped}
        )
        # Shapes that hold exactly one example: an example, or a batch of one.
        self._single_shapes: FrozenSet[Tuple[int, ...]] = self._example_shapes | frozenset(
            (1, *shape) for shape in self._example_shapes
        )

    def _ptr(self) -> int:
        handle = self._handle
        if handle is None:
            raise ClosedModelError()
        return handle

    def close(self) -> None:
        """Release the model. Idempotent; any later use raises :class:`nnrt.ClosedModelError`.

        Ensembles built from this model keep working: the library keeps members alive.
        """
        handle, self._handle = self._handle, None
        self._c_handle = None
        if handle is not None:
            self._free(handle)

    @property
    def closed(self) -> bool:
        """Whether ``close()`` has been called."""
        return self._handle is None

    def __enter__(self) -> Model:
        """Returns the model itself (``with nnrt.Model(path) as model:``); closed on exit."""
        self._ptr()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: nothing sensible left to do
            pass

    def __repr__(self) -> str:
        kind = type(self).__name__
        if self._handle is None:
            return f"<nnrt.{kind} [closed]>"
        try:
            name = self.name
            voting = self.voting
        except NNRTError:  # pragma: no cover - introspection of a live model does not fail
            name, voting = "?", "?"
        members = f" members={self._member_count} voting={voting}" if self._member_count != 1 else ""
        return (
            f"<nnrt.{kind} {name!r} input={self._input_shape} classes={self._class_count}"
            f"{members}>"
        )

    # --- Introspection ---------------------------------------------------------------------

    def _get_size(self, function: Any) -> int:
        value = c_size_t()
        check(function(self._ptr(), byref(value)))
        return value.value

    def _get_input_shape(self) -> Tuple[int, ...]:
        capacity = 4
        while True:
            dims = (c_size_t * capacity)()
            rank = c_size_t()
            status = _capi.nnrt_model_input_shape(self._ptr(), dims, capacity, byref(rank))
            if status == _capi.NNRT_ERR_BUFFER_TOO_SMALL and rank.value > capacity:
                capacity = rank.value
                continue
            check(status)
            return tuple(dims[i] for i in range(rank.value))

    def _get_string(self, function: Any, *args: Any) -> str:
        value = c_char_p()
        check(function(self._ptr(), *args, byref(value)))
        return _text(value.value)

    @property
    def input_size(self) -> int:
        """Number of values in one example (784 for MNIST)."""
        self._ptr()
        return self._input_size

    @property
    def input_shape(self) -> Tuple[int, ...]:
        """One example's shape as channels, height, width (MNIST: ``(1, 28, 28)``)."""
        self._ptr()
        return self._input_shape

    @property
    def class_count(self) -> int:
        """Number of classes (outputs per example)."""
        self._ptr()
        return self._class_count

    @property
    def labels(self) -> List[str]:
        """The class labels, by class index (MNIST: ``["0", ..., "9"]``)."""
        return [self._get_string(_capi.nnrt_model_class_label, i) for i in range(self.class_count)]

    @property
    def member_count(self) -> int:
        """Number of member networks: 1 for a single network."""
        self._ptr()
        return self._member_count

    @property
    def voting(self) -> str:
        """The voting rule: ``"majority"`` or ``"mean-probability"`` (single networks report the
        latter, under which their predictions are their own)."""
        value = c_int32()
        check(_capi.nnrt_model_voting(self._ptr(), byref(value)))
        return _VOTING_NAMES.get(value.value, f"unknown({value.value})")

    @property
    def format_version(self) -> int:
        """Format version of the file the model came from (0 for an :class:`Ensemble`)."""
        value = c_uint32()
        check(_capi.nnrt_model_format_version(self._ptr(), byref(value)))
        return value.value

    @property
    def producer(self) -> Producer:
        """The program that wrote the file (empty strings for an :class:`Ensemble`)."""
        name, version = c_char_p(), c_char_p()
        check(_capi.nnrt_model_producer(self._ptr(), byref(name), byref(version)))
        return Producer(_text(name.value), _text(version.value))

    @property
    def name(self) -> str:
        """The network's or the ensemble's name."""
        return self._get_string(_capi.nnrt_model_name)

    @property
    def metadata(self) -> Dict[str, str]:
        """The file's free-form key/value entries, in file order (the first of duplicate keys)."""
        result: Dict[str, str] = {}
        for i in range(self._get_size(_capi.nnrt_model_metadata_count)):
            key, value = c_char_p(), c_char_p()
            check(_capi.nnrt_model_metadata_entry(self._ptr(), i, byref(key), byref(value)))
            result.setdefault(_text(key.value), _text(value.value))
        return result

    def layers(self, member: int = 0) -> List[LayerInfo]:
        """The layers of member network ``member`` (0 for a single network), input side first.

        Raises :class:`nnrt.NotFoundError` if ``member`` is not below :attr:`member_count`.
        """
        if not isinstance(member, int) or isinstance(member, bool) or member < 0:
            raise InvalidArgumentError(_capi.NNRT_ERR_INVALID_ARGUMENT,
                                       f"member must be a non-negative int, not {member!r}")
        self._ptr()
        if member >= self._member_count:  # also keeps ints beyond size_t from wrapping around
            raise NotFoundError(_capi.NNRT_ERR_NOT_FOUND,
                                f"member {member} is not below the member count {self._member_count}")
        count = c_size_t()
        check(_capi.nnrt_model_layer_count(self._ptr(), member, byref(count)))
        result: List[LayerInfo] = []
        for index in range(count.value):
            kind, activation = c_int32(), c_int32()
            name, summary = c_char_p(), c_char_p()
            check(_capi.nnrt_model_layer_info(self._ptr(), member, index, byref(kind), byref(activation),
                                              byref(name), byref(summary)))
            result.append(LayerInfo(
                _LAYER_NAMES.get(kind.value, f"unknown({kind.value})"),
                _ACTIVATION_NAMES.get(activation.value, f"unknown({activation.value})"),
                _text(name.value),
                _text(summary.value),
            ))
        return result

    @property
    def input_contract(self) -> InputContract:
        """How ``uint8`` pixels are scaled, and the expected polarity."""
        scale, offset, polarity = c_float(), c_float(), c_int32()
        check(_capi.nnrt_model_input_contract(self._ptr(), byref(scale), byref(offset), byref(polarity)))
        name = _POLARITY_NAMES.get(polarity.value, f"unknown({polarity.value})")
        return InputContract(scale.value, offset.value, name)

    # --- Inference -------------------------------------------------------------------------

    def _single(self, x: Any, labels: bool) -> Optional[np.ndarray]:
        """The batch-1 fast path: labels (``labels``) or outputs for ``x`` if it is a C-contiguous
        float32 or uint8 ndarray holding one example, else None (then :meth:`_predict` runs).

        It checks no more than that, passes ``x`` itself, and calls the unchecked twin of the
        library function with ctypes arguments (see ``_capi``): at batch 1 the call's own cost
        is of the order of the prediction's.
        """
        numpy = _np
        if numpy is None or type(x) is not numpy.ndarray or not x.flags.c_contiguous \
                or x.shape not in self._single_shapes:
            return None
        dtype = x.dtype
        if dtype is _FLOAT32:
            function = _capi._model_predict_unchecked
        elif dtype is _UINT8:
            function = _capi._model_predict_u8_unchecked
        else:
            return None
        handle = self._c_handle
        if handle is None:
            raise ClosedModelError()
        # A fresh buffer per call: a model is shared between threads (a Session reuses its own).
        result: "np.ndarray"
        if labels:
            result = numpy.empty(1, _INT32)
            status = function(handle, _pointer(x), _SIZE_1, self._c_input_size,
                              _pointer(result), _SIZE_1, None, _SIZE_0)
        else:
            result = numpy.empty((1, self._class_count), _FLOAT32)
            status = function(handle, _pointer(x), _SIZE_1, self._c_input_size,
                              None, _SIZE_0, _pointer(result), self._c_class_count)
        if status:
            raise NNRTError.from_status(status)
        return result

    def _predict(self, x: ModelInput, labels: bool) -> Any:
        """Labels (``labels``) or outputs for any accepted input (converted once if needed) and
        any batch size, through the checked library function (arrays, or lists without numpy)."""
        flat, count, u8 = _examples(x, self._example_shapes, self._input_size, self._input_shape)
        # Looked up per call (not bound once) so that tests can spy on the raw functions.
        function = _capi.nnrt_model_predict_u8 if u8 else _capi.nnrt_model_predict
        return _run_batch(function, self._ptr(), flat, count, labels, self._input_size, self._class_count)

    @overload
    def predict(self, x: np.ndarray) -> np.ndarray: ...
    @overload
    def predict(self, x: ModelInput) -> Labels: ...

    def predict(self, x: ModelInput) -> Labels:
        """Predicted class indices: an ``int32`` array of shape (N,), or without numpy a list
        of N ints (one example: N = 1).

        For an ensemble, the winner under its voting rule. Map indices to names with ``labels``.
        """
        result = self._single(x, True)
        return self._predict(x, True) if result is None else result

    @overload
    def predict_proba(self, x: np.ndarray) -> np.ndarray: ...
    @overload
    def predict_proba(self, x: ModelInput) -> Outputs: ...

    def predict_proba(self, x: ModelInput) -> Outputs:
        """Outputs: a ``float32`` array of shape (N, class_count), or without numpy N lists of
        ``class_count`` floats (the float32 values; one example: N = 1).

        A single network's output layer; for an ensemble the mean member output
        (``"mean-probability"``) or the fraction of members voting for each class
        (``"majority"``).
        """
        result = self._single(x, False)
        return self._predict(x, False) if result is None else result

    @overload
    def predict_members(self, x: np.ndarray) -> Tuple[np.ndarray, np.ndarray]: ...
    @overload
    def predict_members(self, x: ModelInput) -> MemberResults: ...

    def predict_members(self, x: ModelInput) -> MemberResults:
        """Each member's own predictions: labels ``int32`` (N, members) and outputs ``float32``
        (N, members, class_count); without numpy the same as nested lists (N lists of
        ``members`` ints, N lists of ``members`` lists of ``class_count`` floats).

        ``uint8`` input is scaled by the input contract first (the library's member function
        takes floats only), so it is copied once, rounded as float32 arithmetic rounds it.
        """
        flat, count, u8 = _examples(x, self._example_shapes, self._input_size, self._input_shape)
        numpy = _np
        if numpy is None:
            return self._predict_members_plain(flat, count, u8)
        if u8:
            contract = self.input_contract
            flat = flat.astype(numpy.float32) * numpy.float32(contract.scale) + numpy.float32(contract.offset)
        handle = self._ptr()
        members = self._member_count
        label_buffer = numpy.empty((count, members), dtype=numpy.int32)
        output_buffer = numpy.empty((count, members, self._class_count), dtype=numpy.float32)
        if count == 0:
            return label_buffer, output_buffer
        check(_capi.nnrt_model_predict_members(
            handle, _address(flat), count, count * self._input_size,
            _address(label_buffer), label_buffer.size,
            _address(output_buffer), output_buffer.size,
        ))
        return label_buffer, output_buffer

    def _predict_members_plain(self, data: Any, count: int, u8: bool
                               ) -> Tuple[List[List[int]], List[List[List[float]]]]:
        """predict_members without numpy, on what :func:`_plain_examples` gives."""
        if u8 and count:
            contract = self.input_contract
            scaled = _plain_scaled(data, contract.scale, contract.offset)
            data = _plain_data(scaled, memoryview(scaled))
        handle = self._ptr()
        members, classes = self._member_count, self._class_count
        if count == 0:
            return [], []
        label_buffer = array(_INT32_CODE, bytes(4 * count * members))
        output_buffer = array("f", bytes(4 * count * members * classes))
        check(_capi.nnrt_model_predict_members(
            handle, data, count, count * self._input_size,
            label_buffer.buffer_info()[0], len(label_buffer),
            output_buffer.buffer_info()[0], len(output_buffer),
        ))
        return _rows(label_buffer.tolist(), members), _nest(output_buffer.tolist(), (count, members, classes))

    # --- Images ------------------------------------------------------------------------------

    def classify_files(self, items: Iterable[Any], top: int = 3, threads: int = 1) -> List[FileResult]:
        """Classifies images: a :class:`nnrt.FileResult` per item, in order. One bad image never
        stops the others: its result carries the error.

        Each item may be a path (``str`` or ``pathlib.Path``) to a PNG, JPEG or PGM/PPM file, the
        bytes of such a file, a Pillow image, or an array of pixels of any size: (H, W) grey
        or (H, W, C) with C = 2 (grey, alpha), 3 (RGB) or 4 (RGBA), ``uint8``, ``uint16`` or
        floats in 0..1 (1 = white); a numpy array, or nested lists (ints are 8-bit levels,
        clipped to 0..255; floats 0..1). None of these needs numpy but numpy arrays.
        libnnrt preprocesses every one the same way, as MNIST was
        made: grey levels (alpha over white), polarity from the image, cropped to the ink,
        scaled to fit 20x20, centre of mass at the centre of 28x28. Paths are read and decoded
        on ``threads`` threads in parallel (0: one per core).

        ``top`` (at least 1) is how many of the most likely classes each result lists. Raises
        :class:`nnrt.UnsupportedError` if the model takes no images (its input is not one grey
        plane), :class:`nnrt.InvalidArgumentError` for ``top`` below 1, and ``TypeError`` if
        ``items`` is a single path or image rather than a list of them.
        """
        from ._images import classify_items
        from ._session import Session

        with Session(self, threads) as session:
            return classify_items(self, session, items, top)

    @overload
    def preprocess(self, image: np.ndarray) -> np.ndarray: ...
    @overload
    def preprocess(self, image: Any) -> Union[np.ndarray, List[Any]]: ...

    def preprocess(self, image: Any) -> Union[np.ndarray, List[Any]]:
        """What the network sees for ``image`` (any item :meth:`classify_files` accepts): the
        model's input as a ``float32`` array of :attr:`input_shape` (MNIST: (1, 28, 28), 0..1
        with 1 = ink), or without numpy the same as nested lists of floats (its ``.tolist()``).
        ``predict(model.preprocess(x))`` equals ``classify_files([x])``'s label.

        Raises the error of a bad image (e.g. :class:`nnrt.ImageDecodeError`).
        """
        from ._images import preprocess_item

        row, _ = preprocess_item(self, image)
        if isinstance(row, array):
            return _nest(row.tolist(), self._input_shape)
        reshaped: "np.ndarray" = row.reshape(self._input_shape)
        return reshaped

    def session(self, threads: int = 1) -> Session:
        """A :class:`nnrt.Session` for this model: ``nnrt.Session(self, threads)``.

        Sessions keep their scratch memory between calls (the lean batch-1 path) and may spread a
        batch over ``threads`` threads of their own; results are identical to this model's,
        bit for bit. One thread at a time per session. See :class:`nnrt.Session`.
        """
        from ._session import Session

        return Session(self, threads)


class Ensemble(Model):
    """An ensemble built from loaded models: ``Ensemble([a, b, c], voting="majority")``.

    ``voting`` is ``"majority"`` (ties go to the tied label with the largest output summed over
    all members, then to the smallest index) or ``"mean-probability"`` (argmax of the mean
    output). Members must agree on input size and class labels, else
    :class:`nnrt.ShapeMismatchError`. Members that are ensembles contribute their own members, so
    ``Ensemble([e], voting=...)`` re-votes ``e``.

    The ensemble shares the members' weights and keeps them alive: members may be closed after
    it is built. It is used exactly like a :class:`Model`.
    """

    def __init__(self, models: Iterable[Model], voting: Union[str, int] = "majority") -> None:
        """Builds the ensemble of ``models`` voting by ``voting`` (see the class docstring)."""
        members = list(models)
        for member in members:
            if not isinstance(member, Model):
                raise TypeError(f"Ensemble members must be nnrt.Model objects, not {type(member).__name__}")
        if isinstance(voting, str):
            rule = _VOTING_CODES.get(voting.replace("_", "-").lower())
        elif hasattr(voting, "__index__") and not isinstance(voting, bool):  # int, numpy integers
            rule = voting.__index__() if voting.__index__() in _VOTING_NAMES else None
        else:
            raise TypeError(f"voting must be 'majority' or 'mean-probability', not {type(voting).__name__}")
        if rule is None:
            raise InvalidArgumentError(
                _capi.NNRT_ERR_INVALID_ARGUMENT,
                f"unknown voting rule {voting!r}: use 'majority' or 'mean-probability'",
            )
        handles = (c_void_p * len(members))(*[member._ptr() for member in members])
        handle = c_void_p()
        check(_capi.nnrt_ensemble_create(handles, len(members), rule, byref(handle)))
        self._adopt(handle.value)
