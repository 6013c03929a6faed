"""Finding and loading libnnrt.

The library is looked for, in order:

1. the file named by the ``NNRT_LIBRARY`` environment variable. When it is set, it is the only
   candidate: a misconfigured path fails loudly instead of silently loading another copy;
2. ``libnnrt.so`` next to this package (bundled in wheels);
3. ``build/lib/libnnrt.so`` of the nnrt source checkout this package sits in, when running from
   one (found by walking up from this file to a directory that holds ``Include/nnrt.h``);
4. the system loader (``ctypes.util.find_library("nnrt")``, then plain ``libnnrt.so``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from pathlib import Path
from typing import List, Optional, Tuple

__all__ = ["LibraryLoadError", "load_library", "library_filename"]


class LibraryLoadError(ImportError):
    """libnnrt could not be loaded, or it is not the ABI this binding was written for.

    ``tried`` lists ``(candidate, reason)`` for every place that was looked at.
    """

    def __init__(self, message: str, tried: Optional[List[Tuple[str, str]]] = None) -> None:
        """``message``, followed by one line per ``(candidate, reason)`` in ``tried``."""
        self.tried: List[Tuple[str, str]] = list(tried or [])
        if self.tried:
            lines = "\n".join(f"  - {candidate}: {reason}" for candidate, reason in self.tried)
            message = f"{message}\nTried:\n{lines}"
        super().__init__(message)


def library_filename() -> str:
    """The platform's file name for the library (``libnnrt.so`` on Linux)."""
    if sys.platform == "darwin":
        return "libnnrt.dylib"
    if sys.platform == "win32":
        return "nnrt.dll"
    return "libnnrt.so"


def _checkout_library(start: Path) -> Optional[Path]:
    """``build/lib/<libname>`` of the nnrt source checkout containing ``start``, if any."""
    for parent in start.parents:
        if (parent / "Include" / "nnrt.h").is_file():
            return parent / "build" / "lib" / library_filename()
    return None


def _candidates() -> List[Tuple[str, bool]]:
    """(candidate, is_path) in search order. A path must exist; a bare name goes to dlopen."""
    explicit = os.environ.get("NNRT_LIBRARY")
    if explicit:
        return [(explicit, True)]
    here = Path(__file__).resolve()
    found: List[Tuple[str, bool]] = [(str(here.parent / library_filename()), True)]
    checkout = _checkout_library(here)
    if checkout is not None:
        found.append((str(checkout), True))
    system = ctypes.util.find_library("nnrt")
    if system:
        found.append((system, False))
    found.append((library_filename(), False))
    return found


def load_library() -> Tuple[ctypes.CDLL, str]:
    """Load libnnrt from the first candidate that works; return it and where it came from.

    Raises LibraryLoadError listing every candidate and why it failed.
    """
    tried: List[Tuple[str, str]] = []
    for candidate, is_path in _candidates():
        if is_path and not os.path.exists(candidate):
            tried.append((candidate, "no such file"))
            continue
        try:
            return ctypes.CDLL(candidate), candidate
        except OSError as error:
            tried.append((candidate, str(error)))
    hint = (
        "Build it with scripts/build.sh --lib, or point NNRT_LIBRARY at libnnrt.so."
        if not os.environ.get("NNRT_LIBRARY")
        else "NNRT_LIBRARY is set, so no other place was searched."
    )
    raise LibraryLoadError(f"cannot load libnnrt. {hint}", tried)
