"""Exceptions: one base class carrying the C status and message, one subclass per status code."""

from __future__ import annotations

from typing import Dict, Optional, Type

from . import _capi

__all__ = [
    "NNRTError",
    "InvalidArgumentError",
    "NNRTIOError",
    "BadModelError",
    "UnsupportedVersionError",
    "ShapeMismatchError",
    "BufferTooSmallError",
    "OutOfMemoryError",
    "ImageDecodeError",
    "ImageFormatError",
    "ImageTooLargeError",
    "InternalError",
    "UnsupportedError",
    "NotFoundError",
    "ClosedModelError",
    "ClosedSessionError",
]


def _text(raw: Optional[bytes]) -> str:
    return raw.decode("utf-8", errors="replace") if raw else ""


class NNRTError(Exception):
    """A libnnrt call failed.

    Attributes:
        status: the ``nnrt_status`` code (``NNRT_ERR_*``), e.g. 3.
        status_name: its description from ``nnrt_status_string``, e.g. ``"bad model"``.
        message: the detail (``nnrt_last_error_message`` for failures reported by the library),
            possibly empty.

    ``NNRTError.from_status(code)`` returns the subclass for the code (``BadModelError`` for
    ``NNRT_ERR_BAD_MODEL``, ...); unknown codes give a plain ``NNRTError``.
    """

    #: The status code a subclass stands for (None on the base class).
    code: Optional[int] = None

    def __init__(self, status: int, message: str = "") -> None:
        """The error for C status ``status`` with the library's ``message``."""
        self.status = int(status)
        self.status_name = _text(_capi.nnrt_status_string(self.status))
        self.message = message
        super().__init__(f"{self.status_name}: {message}" if message else self.status_name)

    @classmethod
    def from_status(cls, status: int, message: Optional[str] = None) -> NNRTError:
        """The exception for ``status``; ``message`` defaults to this thread's C error message."""
        if message is None:
            message = _text(_capi.nnrt_last_error_message())
        return _BY_STATUS.get(int(status), NNRTError)(status, message)


class InvalidArgumentError(NNRTError):
    """NNRT_ERR_INVALID_ARGUMENT: a NULL pointer, zero count, bad enum value, ..."""

    code = _capi.NNRT_ERR_INVALID_ARGUMENT


class NNRTIOError(NNRTError):
    """NNRT_ERR_IO: the file cannot be opened or read."""

    code = _capi.NNRT_ERR_IO


class BadModelError(NNRTError):
    """NNRT_ERR_BAD_MODEL: not an nnrt model, corrupt, truncated or inconsistent."""

    code = _capi.NNRT_ERR_BAD_MODEL


class UnsupportedVersionError(NNRTError):
    """NNRT_ERR_UNSUPPORTED_VERSION: the model's format version is outside the supported range."""

    code = _capi.NNRT_ERR_UNSUPPORTED_VERSION


class ShapeMismatchError(NNRTError):
    """NNRT_ERR_SHAPE_MISMATCH: input of the wrong size, or ensemble members that disagree."""

    code = _capi.NNRT_ERR_SHAPE_MISMATCH


class BufferTooSmallError(NNRTError):
    """NNRT_ERR_BUFFER_TOO_SMALL (the binding sizes its buffers, so this means a bug)."""

    code = _capi.NNRT_ERR_BUFFER_TOO_SMALL


class OutOfMemoryError(NNRTError):
    """NNRT_ERR_OUT_OF_MEMORY."""

    code = _capi.NNRT_ERR_OUT_OF_MEMORY


class ImageDecodeError(NNRTError):
    """NNRT_ERR_IMAGE_DECODE: an image file is empty, truncated or corrupt."""

    code = _capi.NNRT_ERR_IMAGE_DECODE


class ImageFormatError(NNRTError):
    """NNRT_ERR_IMAGE_FORMAT: not a PNG, JPEG or PGM/PPM image (judged by its contents)."""

    code = _capi.NNRT_ERR_IMAGE_FORMAT


class ImageTooLargeError(NNRTError):
    """NNRT_ERR_IMAGE_TOO_LARGE: an image or image file over libnnrt's size limits."""

    code = _capi.NNRT_ERR_IMAGE_TOO_LARGE


class InternalError(NNRTError):
    """NNRT_ERR_INTERNAL: a bug in libnnrt."""

    code = _capi.NNRT_ERR_INTERNAL


class UnsupportedError(NNRTError):
    """NNRT_ERR_UNSUPPORTED: a valid file using a feature this library lacks."""

    code = _capi.NNRT_ERR_UNSUPPORTED


class NotFoundError(NNRTError):
    """NNRT_ERR_NOT_FOUND: e.g. no metadata entry with that key."""

    code = _capi.NNRT_ERR_NOT_FOUND


class ClosedModelError(InvalidArgumentError):
    """A Model or Ensemble was used after ``close()`` (status NNRT_ERR_INVALID_ARGUMENT)."""

    def __init__(self, status: int = _capi.NNRT_ERR_INVALID_ARGUMENT,
                 message: str = "the model is closed") -> None:
        """The error raised when a closed model is used."""
        super().__init__(status, message)


class ClosedSessionError(InvalidArgumentError):
    """A Session was used after ``close()`` (status NNRT_ERR_INVALID_ARGUMENT)."""

    def __init__(self, status: int = _capi.NNRT_ERR_INVALID_ARGUMENT,
                 message: str = "the session is closed") -> None:
        """The error raised when a closed session is used."""
        super().__init__(status, message)


_BY_STATUS: Dict[int, Type[NNRTError]] = {
    c.code: c
    for c in (
        InvalidArgumentError, NNRTIOError, BadModelError, UnsupportedVersionError,
        ShapeMismatchError, BufferTooSmallError, OutOfMemoryError, ImageDecodeError,
        InternalError, UnsupportedError, NotFoundError, ImageFormatError, ImageTooLargeError,
    )
    if c.code is not None
}


def check(status: int) -> None:
    """Raise the matching NNRTError unless ``status`` is NNRT_OK."""
    if status != _capi.NNRT_OK:
        raise NNRTError.from_status(status)
