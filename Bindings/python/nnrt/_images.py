"""Image input: classify image files, encoded images, Pillow images and arrays of pixels.

libnnrt does every step itself (decoding PNG, JPEG and PGM/PPM; grey levels; polarity; crop to
the ink; MNIST's 20x20 box; centre of mass in 28x28), so Python, C and the ``nnrt`` command give
the same answer for the same image. Nothing here needs numpy but numpy arrays: without it,
Pillow images and nested lists of pixels are read in plain Python.
"""

from __future__ import annotations

import os
import struct
import sys
from array import array
from ctypes import Structure, byref, c_char, c_char_p, c_float, c_int32, c_uint32
from typing import TYPE_CHECKING, Any, Dict, FrozenSet, Iterable, List, NamedTuple, Optional, Tuple

from . import _capi
from ._errors import InvalidArgumentError, NNRTError, ShapeMismatchError, check

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

__all__ = ["FileResult"]

#: NNRT_IMAGE_* bits by name.
_FLAG_NAMES = (
    (_capi.NNRT_IMAGE_INVERTED, "inverted"),
    (_capi.NNRT_IMAGE_BLANK, "blank"),
    (_capi.NNRT_IMAGE_RESIZED, "resized"),
)


def _flag_set(bits: int) -> FrozenSet[str]:
    return frozenset(name for bit, name in _FLAG_NAMES if bits & bit)


class _CFileResult(Structure):
    """``nnrt_file_result`` (256 bytes)."""

    _fields_ = [
        ("status", c_int32),
        ("label", c_int32),
        ("confidence", c_float),
        ("flags", c_uint32),
        ("message", c_char * 240),
    ]


class FileResult(NamedTuple):
    """What :meth:`nnrt.Model.classify_files` found for one image.

    ``source`` is the path as given (``str``), or ``"<item N>"`` for an in-memory image.
    On success ``label`` is the class label (``"7"``), ``index`` its class index, ``confidence``
    its output (the probability for a softmax network, the share of votes for a majority
    ensemble), ``top`` the most likely classes as (label, output) pairs, and ``error`` is None.
    On failure ``label`` is None, ``index`` -1, and ``error`` the :class:`nnrt.NNRTError` saying
    why (e.g. :class:`nnrt.ImageDecodeError` for a truncated file). ``flags`` says what
    preprocessing found: ``"inverted"`` (dark ink on light paper), ``"blank"`` (no ink),
    ``"resized"`` (cropped, scaled and centred).
    """

    source: str
    label: Optional[str]
    index: int  # type: ignore[assignment]  # the field shadows tuple.index, as documented
    confidence: float
    top: List[Tuple[str, float]]
    flags: FrozenSet[str]
    error: Optional[NNRTError]

    @property
    def ok(self) -> bool:
        """True if the image was classified."""
        return self.error is None


def _is_path(item: Any) -> bool:
    return isinstance(item, (str, os.PathLike))


def _is_pillow(item: Any) -> bool:
    return hasattr(item, "mode") and hasattr(item, "size") and hasattr(item, "getdata")


def _upright(item: Any) -> Any:
    """A Pillow image upright, as libnnrt decodes JPEG files: the EXIF Orientation tag applied."""
    try:
        if item.getexif().get(0x0112, 1) != 1:
            from PIL import ImageOps

            item = ImageOps.exif_transpose(item)
    except (AttributeError, ImportError):  # not a full Pillow image
        pass
    return item


def _shape_checked(shape: Tuple[int, ...]) -> Tuple[int, ...]:
    """An image array's shape with a trailing channel axis of 1 dropped; InvalidArgumentError
    unless it is (H, W) or (H, W, C) with C in 2..4, and holds pixels."""
    if len(shape) == 3 and shape[2] == 1:
        shape = shape[:2]
    size = 1
    for dim in shape:
        size *= dim
    if size == 0:
        raise InvalidArgumentError(
            _capi.NNRT_ERR_INVALID_ARGUMENT, f"an image array must hold pixels, not shape {shape}"
        )
    if len(shape) not in (2, 3) or (len(shape) == 3 and shape[2] not in (2, 3, 4)):
        raise InvalidArgumentError(
            _capi.NNRT_ERR_INVALID_ARGUMENT,
            f"an image array must be (height, width) or (height, width, channels) with 1 to 4 "
            f"channels, not {shape}",
        )
    return shape


def _ragged(message: str) -> InvalidArgumentError:
    return InvalidArgumentError(_capi.NNRT_ERR_INVALID_ARGUMENT, message)


def _pixels(item: Any, numpy: Any) -> np.ndarray:
    """A Pillow image or an array as a C-contiguous uint8 or uint16 array (H, W) or (H, W, C),
    C in 1..4 (grey, grey + alpha, RGB, RGBA)."""
    if _is_pillow(item):
        item = _upright(item)
        mode = item.mode
        if mode in ("I;16", "I;16L", "I;16B", "I"):
            grid = numpy.asarray(item)
            if grid.dtype != numpy.uint16:
                grid = numpy.clip(grid, 0, 65535).astype(numpy.uint16)
        elif mode in ("L", "LA", "RGB", "RGBA"):
            grid = numpy.asarray(item)
        elif mode == "1":
            grid = numpy.asarray(item.convert("L"))
        else:  # P, PA, CMYK, YCbCr, F, ...: as RGBA (palette transparency kept)
            grid = numpy.asarray(item.convert("RGBA"))
    else:
        try:
            grid = numpy.asarray(item)
        except ValueError as error:  # ragged nested lists
            raise _ragged(f"an image array is not a regular array of numbers: {error}") from None
        if grid.dtype.kind == "f":
            # Floats are read as 0..1 intensities (1 = white), kept at 16-bit precision.
            grid = (numpy.clip(grid, 0.0, 1.0) * 65535.0 + 0.5).astype(numpy.uint16)
        elif grid.dtype == numpy.bool_:
            grid = grid.astype(numpy.uint8) * 255
        elif grid.dtype not in (numpy.uint8, numpy.uint16):
            if grid.dtype.kind not in "iu":
                raise TypeError(f"image arrays must be numeric, not {grid.dtype}")
            grid = numpy.clip(grid, 0, 255).astype(numpy.uint8)
    grid = grid.reshape(_shape_checked(tuple(grid.shape)))
    contiguous: np.ndarray = numpy.ascontiguousarray(grid)
    return contiguous


def _plain_pixels(item: Any) -> Tuple[Any, Tuple[int, ...], int]:
    """:func:`_pixels` without numpy, for Pillow images and nested lists (or buffers) of pixel
    values: (the pixels, C-contiguous, as ``bytes`` or an ``array.array('H')``; the shape
    (H, W) or (H, W, C); bytes per value, 1 or 2). The values are read as numpy would read them:
    floats (any float among them) as 0..1 intensities kept at 16-bit precision, bools as 0 or
    255, ints clipped to 0..255."""
    if _is_pillow(item):
        item = _upright(item)
        width, height = item.size
        mode = item.mode
        if mode in ("I;16", "I;16L", "I;16B", "I"):
            raw = item.tobytes()
            if mode == "I":  # 32-bit ints, native byte order
                data = array("H", [min(max(value, 0), 65535) for value in array("i", raw)])
            else:
                data = array("H", raw)
                if (mode == "I;16B") != (sys.byteorder == "big"):
                    data.byteswap()
            return data, _shape_checked((height, width)), 2
        if mode not in ("L", "LA", "RGB", "RGBA"):  # P, PA, CMYK, YCbCr, F, 1, ...
            item = item.convert("L" if mode == "1" else "RGBA")
        channels = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}[item.mode]
        return item.tobytes(), _shape_checked((height, width, channels)), 1

    from ._model import _buffer, _nested

    view = _buffer(item)
    code = ""
    if view is not None:  # a buffer of numbers (array.array, ctypes arrays, ...): by its format
        shape, values, code = _buffer_values(view)
    else:
        try:
            shape, values = _nested(item, "an image array")
        except ShapeMismatchError as error:
            raise _ragged(error.message) from None
    if code == "H":
        pixels: Any = array("H", values)  # uint16 levels stay 16-bit, as a uint16 array does
        depth = 2
    elif all(type(value) is bool for value in values):
        pixels = bytes(255 if value else 0 for value in values)
        depth = 1
    elif all(isinstance(value, int) for value in values):  # ints and bools
        pixels = bytes(0 if value < 0 else 255 if value > 255 else value for value in values)
        depth = 1
    elif all(isinstance(value, (int, float)) for value in values):
        # 0..1 intensities (1 = white) at 16-bit precision; NaN as 0.
        clipped = [0.0 if value != value else min(max(value, 0.0), 1.0) for value in values]
        levels: Any
        if code == "f":  # numpy computes in float32 for float32 pixels: round as it does
            levels = array("f", [value + 0.5 for value in array("f", [value * 65535.0 for value in clipped])])
        else:
            levels = [value * 65535.0 + 0.5 for value in clipped]
        pixels = array("H", [int(level) for level in levels])
        depth = 2
    else:
        bad = next(value for value in values if not isinstance(value, (int, float)))
        raise TypeError(f"image arrays must be numeric, not {type(bad).__name__}")
    return pixels, _shape_checked(shape), depth


def _buffer_values(view: memoryview) -> Tuple[Tuple[int, ...], List[Any], str]:
    """The shape, values (flat, C order) and struct type code of a buffer of numbers in this
    machine's byte order; TypeError for other formats."""
    fmt = view.format
    order, code = (fmt[0], fmt[1:]) if fmt[:1] in ("@", "=", "<", ">", "!") else ("", fmt)
    native = order in ("", "@", "=") or (order == "<") == (sys.byteorder == "little")
    if code not in ("b", "B", "h", "H", "i", "I", "l", "L", "q", "Q", "f", "d", "?") or not native \
            or view.itemsize != struct.calcsize(code):
        raise TypeError(f"image arrays must be numeric, not a buffer of format {fmt!r}")
    raw: Any = (view if view.c_contiguous else memoryview(view.tobytes())).cast("B")
    return tuple(view.shape or ()), raw.cast(code).tolist(), code


def preprocess_item(model: Any, item: Any) -> Tuple[Any, int]:
    """The model's input vector (input_size float32 values) for one image of any kind, and its
    flags. The vector is an ndarray, or without numpy an ``array.array('f')``."""
    from ._model import _address, _numpy, _path_bytes, _plain_data

    numpy = _numpy()
    size = model.input_size
    row: Any
    if numpy is None:
        row = array("f", bytes(4 * size))
        address = row.buffer_info()[0]
    else:
        row = numpy.empty(size, numpy.float32)
        address = _address(row)
    flags = c_uint32(0)
    handle = model._ptr()
    if _is_path(item):
        check(_capi.nnrt_model_preprocess_file(handle, _path_bytes(item), address, size, byref(flags)))
    elif isinstance(item, (bytes, bytearray, memoryview)):
        data = bytes(item)
        check(_capi.nnrt_model_preprocess_image(handle, data, len(data), address, size, byref(flags)))
    else:
        pixels: Any
        if numpy is None:
            values, shape, depth = _plain_pixels(item)
            pixels = _plain_data(values, memoryview(values))  # bytes, or a ctypes view of the array
        else:
            grid = _pixels(item, numpy)
            pixels, shape, depth = _address(grid), tuple(grid.shape), grid.dtype.itemsize
        height, width = shape[0], shape[1]
        channels = 1 if len(shape) == 2 else shape[2]
        check(_capi.nnrt_model_preprocess_pixels(
            handle, pixels, width, height, channels, depth, 0, address, size, byref(flags)))
    return row, flags.value


def _error(status: int, message: str) -> NNRTError:
    return NNRTError.from_status(status, message)


def classify_items(model: Any, session: Any, items: Iterable[Any], top: int) -> List[FileResult]:
    """classify_files for Model and Session: paths in one library call on the session's threads,
    other images preprocessed one by one and predicted as a batch."""
    from ._model import _numpy, _path_bytes

    if _is_path(items) or isinstance(items, (bytes, bytearray, memoryview)):
        raise TypeError(f"classify_files takes a list of images, not one {type(items).__name__}: "
                        "pass [image] for a single one")
    if isinstance(top, bool) or not hasattr(top, "__index__") or top.__index__() < 1:
        raise InvalidArgumentError(_capi.NNRT_ERR_INVALID_ARGUMENT,
                                   f"top must be an int of at least 1, not {top!r}")
    top = top.__index__()
    items = list(items)
    count = len(items)
    labels = model.labels
    classes = model.class_count
    top = min(top, classes)
    outputs: List[List[float]] = [[0.0] * classes] * count  # rows are replaced, never changed
    sources: List[str] = [""] * count
    indices = [-1] * count
    confidences = [0.0] * count
    flag_bits = [0] * count
    errors: List[Optional[NNRTError]] = [None] * count

    paths = []
    encoded = []
    for i, item in enumerate(items):
        if _is_path(item):
            try:
                encoded.append(_path_bytes(item))
                paths.append(i)
            except NNRTError as error:  # a path no file can have: this item's error
                sources[i] = os.fsdecode(item)
                errors[i] = error
    if paths:
        names = (c_char_p * len(paths))(*encoded)
        c_results = (_CFileResult * len(paths))()
        path_outputs = (c_float * (len(paths) * classes))()
        check(_capi.nnrt_session_classify_files(session._ptr(), names, len(paths), c_results, len(paths),
                                                path_outputs, len(path_outputs)))
        for k, i in enumerate(paths):
            r = c_results[k]
            item = items[i]
            outputs[i] = path_outputs[k * classes:(k + 1) * classes]
            sources[i] = item.decode("utf-8", "replace") if isinstance(item, bytes) else os.fspath(item)
            flag_bits[i] = r.flags
            if r.status != _capi.NNRT_OK:
                errors[i] = _error(r.status, r.message.decode("utf-8", "replace"))
            else:
                indices[i] = r.label
                confidences[i] = r.confidence

    rows = []
    good = []
    for i, item in enumerate(items):
        if _is_path(item):
            continue
        sources[i] = f"<item {i}>"
        try:
            row, flag_bits[i] = preprocess_item(model, item)
        except NNRTError as error:
            errors[i] = error
            continue
        rows.append(row)
        good.append(i)
    if good:
        numpy = _numpy()
        if numpy is not None:
            batch: Any = numpy.stack(rows)
        else:
            batch = array("f")
            for row in rows:
                batch.extend(row)  # N examples, flat
        predicted = session.predict_proba(batch)
        chosen = session.predict(batch)
        for j, i in enumerate(good):
            outputs[i] = [float(value) for value in predicted[j]]
            indices[i] = int(chosen[j])
            confidences[i] = outputs[i][indices[i]]

    # The top classes of each row (a stable sort: ties go to the smaller class index; NaN last).
    flag_sets: Dict[int, FrozenSet[str]] = {}
    results: List[FileResult] = []
    for i in range(count):
        bits = flag_bits[i]
        flags = flag_sets.get(bits)
        if flags is None:
            flags = flag_sets[bits] = _flag_set(bits)
        if errors[i] is not None:
            results.append(FileResult(sources[i], None, -1, 0.0, [], flags, errors[i]))
        else:
            index = indices[i]
            row_values = outputs[i]
            order = sorted(range(classes), key=lambda c: (row_values[c] != row_values[c], -row_values[c]))
            results.append(FileResult(sources[i], labels[index], index, confidences[i],
                                      [(labels[c], row_values[c]) for c in order[:top]], flags, None))
    return results
