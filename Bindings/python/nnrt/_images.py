"""Image input: classify image files, encoded images, Pillow images and numpy arrays.

libnnrt does every step itself (decoding PNG, JPEG and PGM/PPM; grey levels; polarity; crop to
the ink; MNIST's 20x20 box; centre of mass in 28x28), so Python, C and the ``nnrt`` command give
the same answer for the same image.
"""

from __future__ import annotations

import os
from ctypes import Structure, byref, c_char, c_char_p, c_float, c_int32, c_uint32
from typing import TYPE_CHECKING, Any, Dict, FrozenSet, Iterable, List, NamedTuple, Optional, Tuple

from . import _capi
from ._errors import InvalidArgumentError, NNRTError, check

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


def _pixels(item: Any) -> np.ndarray:
    """A Pillow image or an array as a C-contiguous uint8 or uint16 array (H, W) or (H, W, C),
    C in 1..4 (grey, grey + alpha, RGB, RGBA)."""
    from ._model import _numpy

    numpy = _numpy()
    if _is_pillow(item):
        # Upright, as libnnrt decodes JPEG files: apply the EXIF Orientation tag Pillow keeps.
        try:
            if item.getexif().get(0x0112, 1) != 1:
                from PIL import ImageOps

                item = ImageOps.exif_transpose(item)
        except (AttributeError, ImportError):  # not a full Pillow image
            pass
        mode = item.mode
        if mode in ("I;16", "I;16L", "I;16B", "I"):
            array = numpy.asarray(item)
            if array.dtype != numpy.uint16:
                array = numpy.clip(array, 0, 65535).astype(numpy.uint16)
        elif mode in ("L", "LA", "RGB", "RGBA"):
            array = numpy.asarray(item)
        elif mode == "1":
            array = numpy.asarray(item.convert("L"))
        else:  # P, PA, CMYK, YCbCr, F, ...: as RGBA (palette transparency kept)
            array = numpy.asarray(item.convert("RGBA"))
    else:
        array = numpy.asarray(item)
        if array.dtype.kind == "f":
            # Floats are read as 0..1 intensities (1 = white), kept at 16-bit precision.
            array = (numpy.clip(array, 0.0, 1.0) * 65535.0 + 0.5).astype(numpy.uint16)
        elif array.dtype == numpy.bool_:
            array = array.astype(numpy.uint8) * 255
        elif array.dtype not in (numpy.uint8, numpy.uint16):
            if array.dtype.kind not in "iu":
                raise TypeError(f"image arrays must be numeric, not {array.dtype}")
            array = numpy.clip(array, 0, 255).astype(numpy.uint8)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.size == 0:
        raise InvalidArgumentError(
            _capi.NNRT_ERR_INVALID_ARGUMENT, f"an image array must hold pixels, not shape {tuple(array.shape)}"
        )
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (2, 3, 4)):
        raise InvalidArgumentError(
            _capi.NNRT_ERR_INVALID_ARGUMENT,
            f"an image array must be (height, width) or (height, width, channels) with 1 to 4 "
            f"channels, not {tuple(array.shape)}",
        )
    contiguous: np.ndarray = numpy.ascontiguousarray(array)
    return contiguous


def preprocess_item(model: Any, item: Any) -> Tuple[np.ndarray, int]:
    """The model's input vector (float32, input_size) for one image of any kind, and its flags."""
    from ._model import _address, _numpy, _path_bytes

    numpy = _numpy()
    row = numpy.empty(model.input_size, numpy.float32)
    flags = c_uint32(0)
    handle = model._ptr()
    if _is_path(item):
        check(_capi.nnrt_model_preprocess_file(handle, _path_bytes(item), _address(row), row.size, byref(flags)))
    elif isinstance(item, (bytes, bytearray, memoryview)):
        data = bytes(item)
        check(_capi.nnrt_model_preprocess_image(handle, data, len(data), _address(row), row.size, byref(flags)))
    else:
        pixels = _pixels(item)
        height, width = pixels.shape[0], pixels.shape[1]
        channels = 1 if pixels.ndim == 2 else pixels.shape[2]
        check(_capi.nnrt_model_preprocess_pixels(
            handle, _address(pixels), width, height, channels, pixels.dtype.itemsize, 0,
            _address(row), row.size, byref(flags)))
    return row, flags.value


def _error(status: int, message: str) -> NNRTError:
    return NNRTError.from_status(status, message)


def classify_items(model: Any, session: Any, items: Iterable[Any], top: int) -> List[FileResult]:
    """classify_files for Model and Session: paths in one library call on the session's threads,
    other images preprocessed one by one and predicted as a batch."""
    from ._model import _address, _numpy, _path_bytes

    numpy = _numpy()
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
    outputs = numpy.zeros((count, classes), numpy.float32)
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
        array = (c_char_p * len(paths))(*encoded)
        c_results = (_CFileResult * len(paths))()
        path_outputs = numpy.zeros((len(paths), classes), numpy.float32)
        check(_capi.nnrt_session_classify_files(session._ptr(), array, len(paths), c_results, len(paths),
                                                _address(path_outputs), path_outputs.size))
        outputs[paths] = path_outputs
        for k, i in enumerate(paths):
            r = c_results[k]
            item = items[i]
            sources[i] = item.decode("utf-8", "replace") if isinstance(item, bytes) else os.fspath(item)
            flag_bits[i] = r.flags
            if r.status != _capi.NNRT_OK:
                errors[i] = _error(r.status, r.message.decode("utf-8", "replace"))
            else:
                indices[i] = r.label
                confidences[i] = r.confidence

    others = [i for i, item in enumerate(items) if not _is_path(item)]
    if others:
        rows = numpy.zeros((len(others), model.input_size), numpy.float32)
        good = []
        for k, i in enumerate(others):
            sources[i] = f"<item {i}>"
            try:
                rows[k], flag_bits[i] = preprocess_item(model, items[i])
                good.append(k)
            except NNRTError as error:
                errors[i] = error
        if good:
            predicted = session.predict_proba(rows[good])
            chosen = session.predict(rows[good])
            for j, k in enumerate(good):
                i = others[k]
                outputs[i] = predicted[j]
                indices[i] = int(chosen[j])
                confidences[i] = float(predicted[j][indices[i]])

    # The top classes of every row at once (stable: ties go to the smaller class index).
    order = numpy.argsort(-outputs, axis=1, kind="stable")[:, :top]
    values = numpy.take_along_axis(outputs, order, axis=1).tolist()
    order = order.tolist()
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
            results.append(FileResult(sources[i], labels[index], index, confidences[i],
                                      [(labels[c], v) for c, v in zip(order[i], values[i])], flags, None))
    return results
