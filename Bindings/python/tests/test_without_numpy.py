"""Without numpy: every input kind prediction, preprocess and classify_files take, and their
errors, run in a child Python where ``import numpy`` fails (nonumpy_cases.py), compared with the
same cases run here with numpy: the same values (bit for bit), plain lists shaped as the arrays
are (what ``.tolist()`` gives), the same exception classes and statuses; buffers passed without
a copy; and the numpy results anchored to predictions on ndarrays."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict

import numpy as np
import pytest

import modelwriter as mw
import nonumpy_cases
from support import random_conv_net, random_inputs, random_net, require_nnrt

nnrt = require_nnrt()

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The models and examples nonumpy_cases.py reads."""
    directory = tmp_path_factory.mktemp("nonumpy")
    (directory / "net.nnrt").write_bytes(random_net((784, 30, 10), seed=71).file())
    (directory / "odd.nnrt").write_bytes(random_net(
        # MNIST's usual normalization: float32 rounding of pixel * scale + offset matters
        (784, 10), seed=72, contract=((1, 28, 28), 1 / (255 * 0.3081), -0.1307 / 0.3081,
                                      mw.POLARITY_DARK_ON_LIGHT)).file())
    (directory / "conv.nnrt").write_bytes(random_conv_net(seed=73).file())
    (directory / "m1.nnrt").write_bytes(random_net((784, 20, 10), seed=74).file())
    (directory / "m2.nnrt").write_bytes(random_net((784, 20, 10), seed=75).file())
    x = random_inputs(nonumpy_cases.COUNT, seed=76)
    (directory / "x.f32").write_bytes(x.tobytes())
    (directory / "x.u8").write_bytes(np.random.default_rng(77).integers(0, 256, x.shape, dtype=np.uint8).tobytes())
    return directory


@pytest.fixture(scope="module")
def with_numpy(data: Path) -> Dict[str, Any]:
    return nonumpy_cases.run(nnrt, data)


@pytest.fixture(scope="module")
def without_numpy(data: Path) -> Dict[str, Any]:
    package_parent = Path(nnrt.__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, str(HERE / "nonumpy_cases.py"), str(package_parent), str(data)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"nonumpy_cases.py failed (status {done.returncode}):\n{done.stderr}"
    result: Dict[str, Any] = json.loads(done.stdout)
    assert Path(result["package"]).resolve() == Path(nnrt.__file__).resolve().parent
    assert result["numpy_imported"] is False
    return result


def plain_kind(kind: str) -> str:
    """The kind of the list ``.tolist()`` makes of an array of ``kind``: "ndarray int32 (5,)" ->
    "list int (5,)"; an empty array is an empty list ("list - (0,)")."""
    def one(match: "re.Match[str]") -> str:
        dtype, shape_text = match.group(1), match.group(2)
        shape = tuple(int(d) for d in re.findall(r"\d+", shape_text))
        if 0 in shape:
            return f"list - {shape[:shape.index(0) + 1]}"
        leaf = {"int32": "int", "float32": "float"}[dtype]
        return f"list {leaf} {shape}"
    return re.sub(r"ndarray (\w+) (\([\d, ]*\))", one, kind)


def test_the_child_has_no_numpy_and_the_same_cases(with_numpy, without_numpy):
    assert set(without_numpy["cases"]) == set(with_numpy)
    assert len(with_numpy) >= 90


def test_results_equal_the_numpy_path(with_numpy, without_numpy):
    failures = []
    for name, expected in with_numpy.items():
        got = without_numpy["cases"][name]
        if name.startswith("plain error:"):
            continue  # test_plain_only_errors
        if "error" in expected:
            if "error" not in got or got["error"][:2] != expected["error"][:2]:
                failures.append(f"{name}: numpy raised {expected['error']}, without numpy {got}")
            continue
        if not (expected["kind"].startswith("ndarray") or expected["kind"].startswith("tuple(ndarray")
                or "classify_files" in name):
            failures.append(f"{name}: with numpy the result is {expected['kind']}, not arrays")
        if "error" in got:
            failures.append(f"{name}: without numpy raised {got['error']}")
        elif got["kind"] != plain_kind(expected["kind"]):
            failures.append(f"{name}: without numpy {got['kind']}, expected {plain_kind(expected['kind'])}")
        elif got["value"] != expected["value"]:
            failures.append(f"{name}: the values differ")
    assert not failures, "\n".join(failures)


# Messages without numpy: (case, exception class, fragment).
PLAIN_ERRORS = [
    ("error: u8 bytes of 783", "ShapeMismatchError", "a flat buffer of 783 values does not hold whole examples"),
    ("error: u8 bytes of 6 examples and 1 value", "ShapeMismatchError", "expected N * 784 values"),
    ("error: memoryview (5, 28, 27)", "ShapeMismatchError", "input of shape (5, 28, 27)"),
    ("error: list (2, 28, 27)", "ShapeMismatchError", "input of shape (2, 28, 27)"),
    ("error: list of 783", "ShapeMismatchError", "input of shape (783,)"),
    ("error: an empty list", "ShapeMismatchError", "input of shape (0,)"),
    ("error: ragged list", "ShapeMismatchError", "not a regular array of numbers"),
    ("error: numbers and lists", "ShapeMismatchError", "not a regular array of numbers"),
    ("error: strings", "TypeError", "model input must be numeric, not str"),
    ("error: bytes rows in a list", "TypeError", "model input must be numeric, not bytes"),
    ("error: None", "TypeError", "model input must be numeric, not NoneType"),
    ("error: a scalar", "ShapeMismatchError", "input of shape ()"),
    ("error: a complex", "TypeError", "model input must be numeric, not complex"),
    ("error: closed model, bytes", "ClosedModelError", "the model is closed"),
    ("error: closed model, members", "ClosedModelError", "the model is closed"),
    ("error: closed session", "ClosedSessionError", "the session is closed"),
    ("error: session, 785 values", "ShapeMismatchError", "a flat buffer of 785 values"),
    ("error: preprocess a ragged image", "InvalidArgumentError",
     "an image array is not a regular array of numbers: sequences of different lengths"),
    ("error: preprocess strings", "TypeError", "image arrays must be numeric, not str"),
    ("error: preprocess no pixels", "InvalidArgumentError", "must hold pixels, not shape (1, 0)"),
    ("error: preprocess 5 channels", "InvalidArgumentError", "1 to 4 channels, not (3, 3, 5)"),
    ("error: preprocess a 1-d list", "InvalidArgumentError", "(height, width)"),
    ("error: preprocess text bytes", "ImageFormatError", "not a PNG, JPEG or PGM/PPM image"),
    ("plain error: array('d')", "TypeError", "not format 'd': pass float32"),
    ("plain error: array('i')", "TypeError", "not format 'i'"),
    ("plain error: array('b')", "TypeError", "uint8 pixels (format 'B') or float32 values (format 'f')"),
    ("plain error: big-endian float32", "TypeError", "float32 must be in this machine's byte order, not format '>f'"),
]


@pytest.mark.parametrize("name, error, fragment", PLAIN_ERRORS, ids=[case[0] for case in PLAIN_ERRORS])
def test_errors_without_numpy(without_numpy, name, error, fragment):
    got = without_numpy["cases"][name]
    assert "error" in got, f"{name}: no error, {got['kind']}"
    assert got["error"][0] == error and fragment in got["error"][2], got["error"]


def test_plain_only_errors_are_converted_by_numpy(with_numpy):
    # What numpy converts (other dtypes, byte orders) it predicts as the float32 values would.
    reference = with_numpy["f32 array('f'), labels"]["value"]
    assert with_numpy["plain error: array('d')"] == {"kind": "ndarray int32 (5,)", "value": reference}
    for name in ("plain error: array('i')", "plain error: array('b')", "plain error: big-endian float32"):
        assert with_numpy[name]["kind"] == "ndarray float32 (1, 10)", with_numpy[name]


def test_every_error_case_is_checked(with_numpy):
    assert {name for name in with_numpy if "error" in name} <= {case[0] for case in PLAIN_ERRORS}


def test_buffers_are_passed_without_a_copy(without_numpy):
    assert without_numpy["zero_copy"] and all(without_numpy["zero_copy"].values()), without_numpy["zero_copy"]


def test_the_numpy_results_are_the_ndarray_predictions(data, with_numpy):
    """The cases' numpy-path results equal predictions on ndarrays, so that both runs agreeing
    also means both are right."""
    x = np.frombuffer((data / "x.f32").read_bytes(), np.float32).reshape(-1, 784)
    pixels = np.frombuffer((data / "x.u8").read_bytes(), np.uint8).reshape(-1, 784)
    with nnrt.Model(data / "net.nnrt") as net, nnrt.Model(data / "odd.nnrt") as odd:
        expected = {
            "u8 bytes, batch": net.predict_proba(pixels),
            "u8 bytes, one label": net.predict(pixels[:1]),
            "u8 bytes, normalizing contract": odd.predict_proba(pixels),
            "u8 memoryview slice (copied)": net.predict_proba(pixels[1:3]),
            "f32 array('f')": net.predict_proba(x),
            "f32 memoryview strided (copied)": net.predict_proba(x),
            "list (5, 28, 28)": net.predict_proba(x.reshape(-1, 28, 28)),
            "list (784,)": net.predict_proba(x[0]),
            "members, u8, normalizing contract": odd.predict_members(pixels),
            "members, floats": net.predict_members(x),
        }
        for name, value in expected.items():
            if isinstance(value, tuple):
                assert with_numpy[name]["value"] == [part.tolist() for part in value], name
            else:
                assert with_numpy[name]["value"] == value.tolist(), name
        # The members' uint8 scaling equals the library's own (predict_proba_u8) up to rounding.
        _, outputs = odd.predict_members(pixels)
        np.testing.assert_allclose(outputs[:, 0], odd.predict_proba(pixels), atol=1e-6)


def test_bytes_with_numpy_are_pixels(data):
    """With numpy, buffers take the same rules as without it, and give arrays."""
    pixels = np.random.default_rng(3).integers(0, 256, (3, 784), dtype=np.uint8)
    with nnrt.Model(data / "net.nnrt") as model:
        for buffer in (pixels.tobytes(), bytearray(pixels.tobytes()), memoryview(pixels.tobytes())):
            labels = model.predict(buffer)
            assert isinstance(labels, np.ndarray) and labels.dtype == np.int32
            np.testing.assert_array_equal(labels, model.predict(pixels))
        np.testing.assert_array_equal(model.predict_proba(b""), np.zeros((0, 10), np.float32))
        with pytest.raises(nnrt.ShapeMismatchError, match="flat buffer of 785 values"):
            model.predict(pixels.tobytes()[:785])
        with pytest.raises(nnrt.ShapeMismatchError, match="not a regular array of numbers"):
            model.predict([[0.0] * 784, [0.0] * 3])


def _pixel_items():
    """Images whose pixels Python converts itself without numpy, by name."""
    import ctypes

    rng = np.random.default_rng(5)
    halfway = ((np.arange(41 * 23) * 7919 % 65535 + 0.5) / 65535.0).reshape(41, 23)
    items = {
        # float32 arithmetic (numpy's, for float32 pixels) rounds about half of these differently
        # from float64's
        "float32 buffer, half-way levels": np.ctypeslib.as_ctypes(halfway.astype(np.float32)),
        "float64 lists, half-way levels": halfway.tolist(),
        "float lists outside 0..1, NaN": [[-0.5, 0.25, 1.5], [float("nan"), 1.0, 0.0]],
        "int lists, clipped": rng.integers(-300, 600, (9, 7)).tolist(),
        "int and bool lists": [[True, 3, 300], [False, -1, 255]],
        "bool lists": (rng.random((5, 6)) > 0.5).tolist(),
        "RGB int lists": rng.integers(0, 256, (6, 5, 3)).tolist(),
        "uint16 buffer (H, W)": np.ctypeslib.as_ctypes(rng.integers(0, 65536, (7, 9), dtype=np.uint16)),
        "int16 buffer (H, W, 2)": np.ctypeslib.as_ctypes(rng.integers(-500, 500, (4, 4, 2), dtype=np.int16)),
        "uint8 buffer (H, W, 1)": (ctypes.c_uint8 * 1 * 3 * 2)(),
    }
    try:
        from PIL import Image
    except ImportError:
        return items
    grey = Image.fromarray(rng.integers(0, 256, (13, 11), dtype=np.uint8))
    items.update({f"Pillow {mode}": grey.convert(mode) for mode in ("L", "LA", "RGB", "RGBA", "1", "P", "CMYK", "F")})
    items["Pillow I"] = grey.convert("I").point(lambda v: v * 300 - 1000)
    items["Pillow I;16"] = Image.fromarray(rng.integers(0, 65536, (13, 11), dtype=np.uint16))
    items["Pillow I;16B"] = Image.frombytes("I;16B", (11, 13), rng.integers(0, 65536, 143, dtype=np.uint16).astype(">u2").tobytes())
    return items


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning")  # numpy, NaN
@pytest.mark.parametrize("name", sorted(_pixel_items()))
def test_pixels_without_numpy_equal_numpys(name):
    """The pixels Python makes of an image without numpy are the ones numpy makes, exactly."""
    from nnrt import _images

    item = _pixel_items()[name]
    expected = _images._pixels(item, np)
    data, shape, depth = _images._plain_pixels(item)
    assert shape == expected.shape and depth == expected.dtype.itemsize
    got = np.frombuffer(bytes(data), dtype=np.uint8 if depth == 1 else np.uint16).reshape(shape)
    np.testing.assert_array_equal(got, expected)
