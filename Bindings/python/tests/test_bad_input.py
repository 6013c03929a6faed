"""Malformed input to every part of the binding, one table row per case: what is given, the
exception it must raise and a fragment its message must contain. Rows about one item of
``classify_files`` check that item's error (the call itself succeeds: one bad image never stops
the others)."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, List, Optional, Tuple, Type

import numpy as np
import pytest

import modelwriter as mw
from support import random_net, require_nnrt

nnrt = require_nnrt()


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A model, its bytes, a session, closed objects and files of every kind of wrong."""
    tmp = tmp_path_factory.mktemp("bad-input")
    data = random_net((784, 16, 10), seed=3).file()
    (tmp / "dir").mkdir()
    (tmp / "model.nnrt").write_bytes(data)
    (tmp / "empty.nnrt").write_bytes(b"")
    (tmp / "text.nnrt").write_bytes(b"hello, I am not a model")
    (tmp / "truncated.nnrt").write_bytes(data[: len(data) // 2])
    latin1 = os.fsdecode(bytes(tmp / "model") + b"-\xe9t\xe9.nnrt")  # not UTF-8: a surrogate-escaped str
    Path(latin1).write_bytes(data)
    model = nnrt.Model(data)
    closed_model = nnrt.Model(data)
    closed_model.close()
    closed_session = model.session()
    closed_session.close()
    return SimpleNamespace(
        tmp=tmp, data=data, model=model, session=model.session(), latin1=latin1,
        closed_model=closed_model, closed_session=closed_session,
        other_size=nnrt.Model(random_net((100, 10), seed=4, contract=((1, 10, 10), 1.0 / 255.0, 0.0,
                                                                     mw.POLARITY_LIGHT_ON_DARK)).file()),
    )


def item_error(results: List[Any]) -> None:
    """Raise the error of the only item of a classify_files result (fail if it has none)."""
    assert len(results) == 1
    if results[0].error is not None:
        raise results[0].error


def version_9(data: bytes) -> bytes:
    """The model file with format_version 9 (the varint after the 12-byte identifier field)."""
    assert data[12] == 0x10
    return data[:13] + bytes([9]) + data[14:]


Case = Tuple[str, Callable[[Any], Any], Optional[Type[BaseException]], str]

CASES: List[Case] = [
    # Model files and paths
    ("path: a directory", lambda c: nnrt.Model(c.tmp / "dir"), nnrt.NNRTIOError, "is a directory"),
    ("path: empty", lambda c: nnrt.Model(""), nnrt.NNRTIOError, "the path is empty"),
    ("path: missing", lambda c: nnrt.Model(c.tmp / "missing.nnrt"), nnrt.NNRTIOError, "No such file"),
    ("path: a device", lambda c: nnrt.Model("/dev/null"), nnrt.NNRTIOError, "not a regular file"),
    ("path: a NUL inside", lambda c: nnrt.Model(str(c.tmp / "model.nnrt") + "\0.txt"),
     nnrt.InvalidArgumentError, "contains a NUL character"),
    ("path: not UTF-8, valid model loads", lambda c: nnrt.Model(c.latin1).close(), None, ""),
    ("path: not UTF-8, missing", lambda c: nnrt.Model(os.fsdecode(b"/nonexistent-\xff.nnrt")),
     nnrt.NNRTIOError, "No such file"),
    ("file: empty", lambda c: nnrt.Model(c.tmp / "empty.nnrt"), nnrt.BadModelError, "the data is empty"),
    ("file: text", lambda c: nnrt.Model(c.tmp / "text.nnrt"), nnrt.BadModelError, "not an nnrt model file"),
    ("file: truncated", lambda c: nnrt.Model(c.tmp / "truncated.nnrt"), nnrt.BadModelError, "truncated.nnrt"),
    ("bytes: empty", lambda c: nnrt.Model(b""), nnrt.InvalidArgumentError, "size is 0"),
    ("bytes: truncated", lambda c: nnrt.Model(c.data[:-9]), nnrt.BadModelError, "not an nnrt model file"),
    ("bytes: format version 9", lambda c: nnrt.Model(version_9(c.data)), nnrt.UnsupportedVersionError, "version 9"),
    ("source: an int", lambda c: nnrt.Model(3), TypeError, "takes a path"),
    ("source: None", lambda c: nnrt.Model(None), TypeError, "not NoneType"),
    # Prediction input
    ("x: 783 values", lambda c: c.model.predict(np.zeros(783, np.float32)), nnrt.ShapeMismatchError, "(783,)"),
    ("x: 28x27 images", lambda c: c.model.predict(np.zeros((2, 28, 27), np.float32)),
     nnrt.ShapeMismatchError, "(2, 28, 27)"),
    ("x: a scalar", lambda c: c.model.predict_proba(3.0), nnrt.ShapeMismatchError, "shape ()"),
    ("x: strings", lambda c: c.model.predict(["a"] * 784), TypeError, "must be numeric"),
    ("x: complex", lambda c: c.model.predict(np.zeros(784, np.complex64)), TypeError, "complex64"),
    ("x: None", lambda c: c.model.predict(None), TypeError, "must be numeric"),
    ("x: members of 5 values", lambda c: c.model.predict_members(np.zeros(5, np.float32)),
     nnrt.ShapeMismatchError, "(5,)"),
    ("x: session, 785 values", lambda c: c.session.predict(np.zeros(785, np.float32)),
     nnrt.ShapeMismatchError, "(785,)"),
    # Sessions
    ("threads: -1", lambda c: nnrt.Session(c.model, -1), nnrt.InvalidArgumentError, "non-negative int"),
    ("threads: 257", lambda c: nnrt.Session(c.model, 257), nnrt.InvalidArgumentError, "and 256"),
    ("threads: 2**70", lambda c: nnrt.Session(c.model, 2 ** 70), nnrt.InvalidArgumentError, "threads is too large"),
    ("threads: 1.5", lambda c: nnrt.Session(c.model, 1.5), nnrt.InvalidArgumentError, "not 1.5"),
    ("threads: True", lambda c: nnrt.Session(c.model, True), nnrt.InvalidArgumentError, "not True"),
    ("session of a str", lambda c: nnrt.Session("model.nnrt"), TypeError, "takes an nnrt.Model"),
    # Ensembles
    ("ensemble: no members", lambda c: nnrt.Ensemble([]), nnrt.InvalidArgumentError, "at least one member"),
    ("ensemble: a str member", lambda c: nnrt.Ensemble([c.model, "x"]), TypeError, "not str"),
    ("ensemble: voting 'plurality'", lambda c: nnrt.Ensemble([c.model], voting="plurality"),
     nnrt.InvalidArgumentError, "unknown voting rule 'plurality'"),
    ("ensemble: voting 7", lambda c: nnrt.Ensemble([c.model], voting=7), nnrt.InvalidArgumentError,
     "unknown voting rule 7"),
    ("ensemble: voting 2**40", lambda c: nnrt.Ensemble([c.model], voting=2 ** 40), nnrt.InvalidArgumentError,
     "unknown voting rule 1099511627776"),
    ("ensemble: voting None", lambda c: nnrt.Ensemble([c.model], voting=None), TypeError, "not NoneType"),
    ("ensemble: 784 and 100 inputs", lambda c: nnrt.Ensemble([c.model, c.other_size]),
     nnrt.ShapeMismatchError, "takes 100 inputs"),
    # Introspection
    ("layers: member -1", lambda c: c.model.layers(-1), nnrt.InvalidArgumentError, "non-negative int"),
    ("layers: member 1 of 1", lambda c: c.model.layers(1), nnrt.NotFoundError, "member 1 is not below"),
    ("layers: member 2**70", lambda c: c.model.layers(2 ** 70), nnrt.NotFoundError, "not below the member count 1"),
    # Images
    ("images: one path, not a list", lambda c: c.model.classify_files(str(c.tmp / "text.nnrt")), TypeError,
     "pass [image]"),
    ("images: top 0", lambda c: c.model.classify_files([b"x"], top=0), nnrt.InvalidArgumentError, "top must be"),
    ("images: top -1", lambda c: c.session.classify_files([b"x"], top=-1), nnrt.InvalidArgumentError, "top must be"),
    ("images: threads -1", lambda c: c.model.classify_files([b"x"], threads=-1), nnrt.InvalidArgumentError,
     "non-negative int"),
    ("image: a directory", lambda c: item_error(c.model.classify_files([c.tmp / "dir"])), nnrt.NNRTIOError,
     "is a directory"),
    ("image: not UTF-8, missing", lambda c: item_error(c.model.classify_files([os.fsdecode(b"/no-\xff.png")])),
     nnrt.NNRTIOError, "No such file"),
    ("image: a NUL in the path", lambda c: item_error(c.model.classify_files(["a\0b.png"])),
     nnrt.InvalidArgumentError, "contains a NUL character"),
    ("image: text bytes", lambda c: item_error(c.model.classify_files([b"hello"])), nnrt.ImageFormatError,
     "not a PNG, JPEG or PGM/PPM image"),
    ("image: no bytes", lambda c: item_error(c.model.classify_files([b""])), nnrt.ImageDecodeError, "empty"),
    ("image: truncated PGM", lambda c: item_error(c.model.classify_files([b"P5\n3 3\n255\n\x01"])),
     nnrt.ImageDecodeError, "truncated"),
    ("image: 0x0 array", lambda c: item_error(c.model.classify_files([np.zeros((0, 0), np.uint8)])),
     nnrt.InvalidArgumentError, "must hold pixels"),
    ("image: 4-d array", lambda c: item_error(c.model.classify_files([np.zeros((2, 2, 2, 2), np.uint8)])),
     nnrt.InvalidArgumentError, "(height, width)"),
    ("image: 5 channels", lambda c: item_error(c.model.classify_files([np.zeros((4, 4, 5), np.uint8)])),
     nnrt.InvalidArgumentError, "1 to 4 channels"),
    ("image: 70000 x 1 array", lambda c: item_error(c.model.classify_files([np.zeros((70000, 1), np.uint8)])),
     nnrt.ImageTooLargeError, "over the limit"),
    ("image: strings", lambda c: c.model.classify_files([np.array([["a"]])]), TypeError, "must be numeric"),
    ("preprocess: a directory", lambda c: c.model.preprocess(c.tmp / "dir"), nnrt.NNRTIOError, "is a directory"),
    # Closed objects
    ("closed model: predict", lambda c: c.closed_model.predict(np.zeros(784, np.float32)),
     nnrt.ClosedModelError, "the model is closed"),
    ("closed model: name", lambda c: c.closed_model.name, nnrt.ClosedModelError, "closed"),
    ("closed model: new session", lambda c: c.closed_model.session(), nnrt.ClosedModelError, "closed"),
    ("closed model: in an ensemble", lambda c: nnrt.Ensemble([c.model, c.closed_model]),
     nnrt.ClosedModelError, "closed"),
    ("closed session: predict", lambda c: c.closed_session.predict(np.zeros(784, np.float32)),
     nnrt.ClosedSessionError, "the session is closed"),
    ("closed session: classify", lambda c: c.closed_session.classify_files([b"x"]), nnrt.ClosedSessionError,
     "closed"),
]


def test_the_table_is_large_and_distinct() -> None:
    names = [case[0] for case in CASES]
    assert len(names) >= 40 and len(set(names)) == len(names)


@pytest.mark.parametrize("what, call, error, fragment", CASES, ids=[case[0] for case in CASES])
def test_bad_input(ctx: Any, what: str, call: Callable[[Any], Any], error: Optional[Type[BaseException]],
                   fragment: str) -> None:
    if error is None:
        call(ctx)
        return
    with pytest.raises(error) as raised:
        call(ctx)
    assert fragment in str(raised.value), f"{what}: {raised.value}"
    if isinstance(raised.value, nnrt.NNRTError):
        # The status matches the exception class, and the library's message is not lost.
        assert raised.value.status == (type(raised.value).code or raised.value.status)
        assert raised.value.message
