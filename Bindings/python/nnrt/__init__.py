"""nnrt: run nnrt model files (networks from *Neural Networks and Deep Learning*) from Python.

A ctypes binding of libnnrt (Include/nnrt.h)::

    import nnrt
    with nnrt.Model("mnist.nnrt") as model:
        labels = model.predict(images)          # (N, 784) float32 in 0..1, or uint8 pixels
        probabilities = model.predict_proba(images)
        with model.session(threads=1) as session:   # reusable memory; threads opt-in
            probabilities = session.predict_proba(images[0])   # the lean batch-1 path
        for result in model.classify_files(["scan.jpg", "drawing.png"]):   # image files
            print(result.source, result.label if result.ok else result.error)

numpy is optional: without it, prediction takes ``bytes`` of uint8 pixels, ``array.array('f')``
or nested lists and returns lists (what the arrays' ``.tolist()`` would be); see :class:`Model`.

See :class:`Model`, :class:`Ensemble`, :class:`Session` and :class:`NNRTError`. Importing this
package loads libnnrt (``NNRT_LIBRARY``, a bundled copy, a source checkout's ``build/lib``, then
the system loader) and raises :class:`LibraryLoadError` (an ImportError) if it cannot, or if the
library's ABI version is not the one this binding was written for.
"""

from __future__ import annotations

from ctypes import byref, c_uint32
from typing import Tuple

from . import _capi, _errors
from ._errors import (
    BadModelError,
    BufferTooSmallError,
    ClosedModelError,
    ClosedSessionError,
    ImageDecodeError,
    ImageFormatError,
    ImageTooLargeError,
    InternalError,
    InvalidArgumentError,
    NNRTError,
    NNRTIOError,
    NotFoundError,
    OutOfMemoryError,
    ShapeMismatchError,
    UnsupportedError,
    UnsupportedVersionError,
)
from ._loader import LibraryLoadError
from ._images import FileResult
from ._model import Ensemble, InputContract, LayerInfo, Model, Producer
from ._session import Session


#: The ABI version this binding was written for (NNRT_ABI_VERSION).
ABI_VERSION = _capi.ABI_VERSION

#: Where the loaded libnnrt came from.
library_path = _capi.library_path


def version() -> str:
    """The loaded library's version, e.g. ``"0.3.0"``."""
    return (_capi.nnrt_version_string() or b"").decode("utf-8", errors="replace")


def kernel_build() -> str:
    """Which build of the numeric kernels the library runs on this CPU: ``"avx2-fma"`` or
    ``"generic"`` (forced by the environment variable ``NNRT_KERNELS=generic``)."""
    return (_capi.nnrt_kernel_build() or b"").decode("utf-8", errors="replace")


def abi_version() -> int:
    """The loaded library's ABI version (checked against :data:`ABI_VERSION` at import)."""
    return int(_capi.nnrt_abi_version())


def supported_format_versions() -> Tuple[int, int]:
    """The (oldest, newest) model format versions the loaded library reads, inclusive."""
    oldest, newest = c_uint32(), c_uint32()
    _capi.nnrt_supported_format_versions(byref(oldest), byref(newest))
    return oldest.value, newest.value


def _package_version() -> str:
    """This package's version: written into built packages by setup.py (from Include/nnrt.h);
    when running from a source checkout, read from its Include/nnrt.h; else the library's."""
    import importlib
    import re
    from pathlib import Path

    try:
        return str(importlib.import_module("._version", __name__).__version__)
    except ImportError:
        pass

    for parent in Path(__file__).resolve().parents:
        header = parent / "Include" / "nnrt.h"
        if header.is_file():
            text = header.read_text(encoding="utf-8", errors="replace")
            fields = [re.search(rf"^#define NNRT_VERSION_{name} (\d+)$", text, re.MULTILINE)
                      for name in ("MAJOR", "MINOR", "PATCH")]
            if all(fields):
                return ".".join(match.group(1) for match in fields if match)
            break
    return version()


#: This package's version (equal to :func:`version` of the library it ships with).
__version__ = _package_version()


__all__ = [
    "Model",
    "Ensemble",
    "Session",
    "InputContract",
    "LayerInfo",
    "Producer",
    "FileResult",
    *_errors.__all__,
    "LibraryLoadError",
    "ABI_VERSION",
    "library_path",
    "version",
    "abi_version",
    "kernel_build",
    "supported_format_versions",
]
