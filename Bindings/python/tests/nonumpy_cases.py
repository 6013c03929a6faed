"""The cases of test_without_numpy.py, in plain Python (no numpy): every input kind the binding
takes without numpy, and the errors, run once by the test itself (numpy installed) and once by
this file as a program with numpy hidden:

    python nonumpy_cases.py PACKAGE_PARENT DATA_DIR     (prints one JSON object)

``PACKAGE_PARENT`` is the directory holding the ``nnrt`` package under test. ``DATA_DIR`` holds
what the test wrote: models (``net.nnrt``, ``odd.nnrt``, ``conv.nnrt``, ``m1.nnrt``,
``m2.nnrt``) and the raw examples ``x.f32`` (float32) and ``x.u8`` (uint8), 5 of 784 values.

Each case gives a JSON-able record: ``{"kind": ..., "value": ...}`` for a result, where ``kind``
says what it was (``"ndarray float32 (5, 10)"``, ``"list float (5, 10)"``, ``"tuple(...)"``), or
``{"error": [class name, status, message]}``. The test compares the two runs.
"""

from __future__ import annotations

import array
import ctypes
import json
import os
import struct
import sys
import zlib
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

COUNT, SIZE = 5, 784


def png(width: int, height: int, grey: bytes) -> bytes:
    """A minimal 8-bit greyscale PNG."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    rows = b"".join(b"\0" + grey[y * width:(y + 1) * width] for y in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def digit(height: int, width: int) -> List[List[int]]:
    """A white-on-black '7'-ish stroke, ints 0..255, as nested lists (H, W)."""
    grid = [[0] * width for _ in range(height)]
    for x in range(width // 5, width - width // 5):
        grid[height // 5][x] = 250
    for y in range(height // 5, height - height // 6):
        x = width - width // 5 - 1 - (y - height // 5) // 2
        grid[y][x] = 200
        grid[y][max(x - 1, 0)] = 120
    return grid


def describe(value: Any) -> Tuple[str, Any]:
    """(kind, JSON-able value) of a result: an ndarray (by duck typing: numpy is not imported
    here), nested lists of one leaf type, a tuple of those, or anything JSON takes."""
    if type(value).__name__ == "ndarray":
        return f"ndarray {value.dtype} {tuple(value.shape)}", value.tolist()
    if isinstance(value, tuple):
        parts = [describe(item) for item in value]
        return "tuple(" + ", ".join(kind for kind, _ in parts) + ")", [v for _, v in parts]
    if isinstance(value, list):
        shape: List[int] = []
        level: List[Any] = [value]
        while level and all(type(item) is list for item in level):
            widths = {len(item) for item in level}
            if len(widths) != 1:
                return "ragged list", value
            shape.append(widths.pop())
            level = [leaf for item in level for leaf in item]
        leaf_types = sorted({type(leaf).__name__ for leaf in level})
        return f"list {'|'.join(leaf_types) or '-'} {tuple(shape)}", value
    return type(value).__name__, value


def file_result(result: Any) -> Dict[str, Any]:
    """A FileResult as JSON."""
    error = result.error
    return {
        "source": result.source, "label": result.label, "index": result.index,
        "confidence": result.confidence, "top": [list(pair) for pair in result.top],
        "flags": sorted(result.flags),
        "error": None if error is None else [type(error).__name__, error.status],  # messages may differ
    }


def cases(nnrt: Any, data: Path) -> Dict[str, Callable[[], Any]]:
    """Every case by name: a function of no arguments that returns a result or raises."""
    net = nnrt.Model(data / "net.nnrt")
    odd = nnrt.Model(data / "odd.nnrt")  # input contract (pixel / 255 - 0.1307) / 0.3081
    conv = nnrt.Model(data / "conv.nnrt")
    members = [net, nnrt.Model(data / "m1.nnrt"), nnrt.Model(data / "m2.nnrt")]
    majority = nnrt.Ensemble(members, voting="majority")
    mean = nnrt.Ensemble(members, voting="mean-probability")
    session = net.session()
    wide = net.session(threads=2)
    closed = nnrt.Model(data / "net.nnrt")
    closed.close()
    closed_session = net.session()
    closed_session.close()

    f32 = (data / "x.f32").read_bytes()
    u8 = (data / "x.u8").read_bytes()
    floats = array.array("f")
    floats.frombytes(f32)
    rows = [floats[i * SIZE:(i + 1) * SIZE].tolist() for i in range(COUNT)]
    images = [[row[y * 28:(y + 1) * 28] for y in range(28)] for row in rows]
    strided = array.array("f", [v for value in floats for v in (value, -1.0)])  # every other value
    big_endian = (ctypes.c_float.__ctype_be__ * SIZE)(*floats[:SIZE])
    seven = digit(28, 28)
    seven_png = png(28, 28, bytes(v for row in seven for v in row))
    (data / "seven.png").write_bytes(seven_png)
    odd_seven = digit(41, 23)
    grey16 = array.array("H", [v * 257 for row in odd_seven for v in row])

    table: Dict[str, Callable[[], Any]] = {
        # uint8 pixels: bytes-like buffers
        "u8 bytes, batch": lambda: net.predict_proba(u8),
        "u8 bytes, labels": lambda: net.predict(u8),
        "u8 bytes, one example": lambda: net.predict_proba(u8[:SIZE]),
        "u8 bytes, one label": lambda: net.predict(u8[:SIZE]),
        "u8 bytes, normalizing contract": lambda: odd.predict_proba(u8),
        "u8 bytearray": lambda: net.predict_proba(bytearray(u8)),
        "u8 memoryview of bytes": lambda: net.predict_proba(memoryview(u8)),
        "u8 memoryview slice (copied)": lambda: net.predict_proba(memoryview(u8)[SIZE:3 * SIZE]),
        "u8 array('B')": lambda: net.predict(array.array("B", u8)),
        "u8 memoryview (5, 28, 28)": lambda: net.predict_proba(memoryview(bytearray(u8)).cast("B", [COUNT, 28, 28])),
        "u8 memoryview (5, 1, 28, 28)": lambda: net.predict(memoryview(bytearray(u8)).cast("B", [COUNT, 1, 28, 28])),
        "u8 ctypes c_ubyte array": lambda: net.predict_proba((ctypes.c_ubyte * len(u8)).from_buffer_copy(u8)),
        "u8 ctypes c_char array": lambda: net.predict_proba((ctypes.c_char * len(u8)).from_buffer_copy(u8)),
        "u8 empty bytes": lambda: net.predict(b""),
        "u8 empty bytes, outputs": lambda: net.predict_proba(bytearray()),
        # float32 buffers
        "f32 array('f')": lambda: net.predict_proba(floats),
        "f32 array('f'), labels": lambda: net.predict(floats),
        "f32 memoryview 'f' of a bytearray": lambda: net.predict_proba(memoryview(bytearray(f32)).cast("f")),
        "f32 memoryview 'f' of bytes": lambda: net.predict_proba(memoryview(f32).cast("f")),
        "f32 memoryview strided (copied)": lambda: net.predict_proba(memoryview(strided)[::2]),
        "f32 memoryview (5, 1, 28, 28)": lambda: net.predict_proba(memoryview(bytearray(f32)).cast("f", [COUNT, 1, 28, 28])),
        "f32 ctypes c_float array": lambda: net.predict_proba((ctypes.c_float * len(floats))(*floats)),
        "f32 one example array('f')": lambda: net.predict(floats[:SIZE]),
        # nested sequences
        "list (5, 784)": lambda: net.predict_proba(rows),
        "list (5, 784), labels": lambda: net.predict(rows),
        "list (5, 28, 28)": lambda: net.predict_proba(images),
        "list (784,)": lambda: net.predict_proba(rows[0]),
        "list (28, 28)": lambda: net.predict(images[1]),
        "list (1, 28, 28)": lambda: net.predict_proba([images[2]]),
        "tuple (784,)": lambda: net.predict_proba(tuple(rows[3])),
        "tuple of lists": lambda: net.predict(tuple(rows)),
        "list of ints, read as floats": lambda: net.predict_proba([[i % 2 for i in range(SIZE)]]),
        "list of bools": lambda: net.predict_proba([bool(i % 3) for i in range(SIZE)]),
        "range": lambda: net.predict_proba(range(SIZE)),
        "u8 memoryview, empty": lambda: net.predict_proba(memoryview(b"")),
        # members, ensembles, convolutions, sessions
        "members, floats": lambda: net.predict_members(rows),
        "members, u8": lambda: net.predict_members(u8),
        "members, u8, normalizing contract": lambda: odd.predict_members(u8),
        "members, u8 bytearray, empty": lambda: net.predict_members(bytearray()),
        "ensemble majority, u8": lambda: majority.predict(u8),
        "ensemble majority, outputs": lambda: majority.predict_proba(rows),
        "ensemble majority, members u8": lambda: majority.predict_members(u8),
        "ensemble mean, outputs": lambda: mean.predict_proba(floats),
        "ensemble mean, members": lambda: mean.predict_members(images),
        "conv, u8 bytes": lambda: conv.predict_proba(u8),
        "conv, list (5, 1, 28, 28)": lambda: conv.predict_proba([[image] for image in images]),
        "session, u8": lambda: session.predict_proba(u8),
        "session, one list": lambda: session.predict(rows[4]),
        "session, one list, outputs": lambda: session.predict_proba(images[4]),
        "session, array('f')": lambda: session.predict(floats),
        "session 2 threads, u8": lambda: wide.predict_proba(u8),
        "session 2 threads, lists": lambda: wide.predict(rows),
        "session classify_files": lambda: [file_result(r) for r in session.classify_files([seven_png, seven])],
        # images
        "preprocess PNG bytes": lambda: net.preprocess(seven_png),
        "preprocess path": lambda: net.preprocess(str(data / "seven.png")),
        "preprocess pathlib": lambda: net.preprocess(data / "seven.png"),
        "preprocess list of ints": lambda: net.preprocess(seven),
        "preprocess list of ints, clipped": lambda: net.preprocess([[v * 3 - 200 for v in row] for row in odd_seven]),
        "preprocess list of floats": lambda: net.preprocess([[v / 255 for v in row] for row in odd_seven]),
        "preprocess list of bools": lambda: net.preprocess([[v > 100 for v in row] for row in odd_seven]),
        "preprocess list (H, W, 1)": lambda: net.preprocess([[[v] for v in row] for row in odd_seven]),
        "preprocess list (H, W, 2)": lambda: net.preprocess([[[v, 255] for v in row] for row in odd_seven]),
        "preprocess list (H, W, 3)": lambda: net.preprocess([[[v, v // 2, 255 - v] for v in row] for row in odd_seven]),
        "preprocess 16-bit ctypes array (H, W)": lambda: net.preprocess(((ctypes.c_uint16 * 23) * 41).from_buffer(grey16)),
        # Half-way levels: float32 arithmetic (numpy's, for float32 pixels) rounds half of them
        # differently from float64's.
        "preprocess float32 ctypes array (H, W)": lambda: net.preprocess(((ctypes.c_float * 23) * 41)(
            *[(ctypes.c_float * 23)(*[((y * 23 + x) * 7919 % 65535 + 0.5) / 65535.0 for x in range(23)])
              for y in range(41)])),
        "preprocess float64 ctypes array (H, W, 3)": lambda: net.preprocess(((ctypes.c_double * 3 * 23) * 41)(
            *[(ctypes.c_double * 3 * 23)(*[(ctypes.c_double * 3)(v / 255, 0.5, (x % 7) / 6.0) for x, v in enumerate(row)])
              for row in odd_seven])),
        "preprocess 8-bit ctypes array (H, W, 2)": lambda: net.preprocess(((ctypes.c_uint8 * 2 * 23) * 41).from_buffer_copy(
            bytes(v for row in odd_seven for value in row for v in (value, 255)))),
        "predict(preprocess(PNG))": lambda: net.predict(net.preprocess(seven_png)),
        "classify_files": lambda: [file_result(r) for r in net.classify_files(
            [str(data / "seven.png"), data / "seven.png", seven_png, seven, [[v / 255 for v in row] for row in odd_seven],
             b"not an image", data / "missing.png", [[1, 2], [3]]], top=4)],
        "classify_files, ensemble": lambda: [file_result(r) for r in majority.classify_files([seven_png, seven], top=10)],
        # errors
        "error: u8 bytes of 783": lambda: net.predict(u8[:783]),
        "error: u8 bytes of 6 examples and 1 value": lambda: net.predict_proba(u8 + u8[:SIZE + 1]),
        "error: memoryview (5, 28, 27)": lambda: net.predict(memoryview(bytearray(u8))[:COUNT * 28 * 27].cast("B", [COUNT, 28, 27])),
        "error: list (2, 28, 27)": lambda: net.predict([[row[:27] for row in image] for image in images[:2]]),
        "error: list of 783": lambda: net.predict(rows[0][:783]),
        "error: an empty list": lambda: net.predict([]),
        "error: ragged list": lambda: net.predict([rows[0], rows[1][:783]]),
        "error: numbers and lists": lambda: net.predict([rows[0], 0.5]),
        "error: strings": lambda: net.predict(["a"] * SIZE),
        "error: bytes rows in a list": lambda: net.predict([u8[:SIZE], u8[SIZE:2 * SIZE]]),
        "error: None": lambda: net.predict(None),
        "error: a scalar": lambda: net.predict_proba(3.0),
        "error: a complex": lambda: net.predict([1j] * SIZE),
        "error: closed model, bytes": lambda: closed.predict(u8),
        "error: closed model, members": lambda: closed.predict_members(rows),
        "error: closed session": lambda: closed_session.predict_proba(floats),
        "error: session, 785 values": lambda: session.predict(array.array("f", bytes(4 * 785))),
        "error: preprocess a ragged image": lambda: net.preprocess([[1, 2], [3]]),
        "error: preprocess strings": lambda: net.preprocess([["a", "b"], ["c", "d"]]),
        "error: preprocess no pixels": lambda: net.preprocess([[]]),
        "error: preprocess 5 channels": lambda: net.preprocess([[[0] * 5] * 3] * 3),
        "error: preprocess a 1-d list": lambda: net.preprocess([0, 1, 2]),
        "error: preprocess text bytes": lambda: net.preprocess(b"hello"),
    }
    # Without numpy these are refused; numpy converts them (the test checks both).
    table.update({
        "plain error: array('d')": lambda: net.predict(array.array("d", floats)),
        "plain error: array('i')": lambda: net.predict_proba(array.array("i", [0] * SIZE)),
        "plain error: array('b')": lambda: net.predict_proba(array.array("b", [0] * SIZE)),
        "plain error: big-endian float32": lambda: net.predict_proba(big_endian),
    })

    try:
        from PIL import Image
    except ImportError:
        return table

    def pillow(mode: str) -> Any:
        image = Image.new("L", (23, 41))
        image.putdata([v for row in odd_seven for v in row])
        if mode == "I;16":
            wide16 = Image.new("I;16", (23, 41))
            wide16.putdata([v * 257 for row in odd_seven for v in row])
            return wide16
        if mode == "I":
            return image.convert("I").point(lambda v: v * 300 - 1000)
        if mode == "P":
            return image.convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
        return image.convert(mode)

    for mode in ("L", "LA", "RGB", "RGBA", "1", "P", "I;16", "I", "F", "CMYK"):
        table[f"pillow {mode}"] = (lambda m: lambda: net.preprocess(pillow(m)))(mode)
    table["pillow classify_files"] = lambda: [file_result(r) for r in net.classify_files(
        [pillow("L"), pillow("RGBA"), pillow("I;16")])]
    return table


def run(nnrt: Any, data: Path) -> Dict[str, Any]:
    """Every case's record (see the module docstring)."""
    records: Dict[str, Any] = {}
    for name, case in cases(nnrt, data).items():
        try:
            kind, value = describe(case())
            records[name] = {"kind": kind, "value": value}
        except Exception as error:  # noqa: BLE001 - every error is a result here
            records[name] = {"error": [type(error).__name__, getattr(error, "status", None), str(error)]}
    return records


def zero_copy(nnrt: Any, data: Path) -> Dict[str, bool]:
    """Whether each buffer kind reaches the library at its own address (no copy)."""
    from nnrt import _capi

    seen: List[Any] = []
    real = _capi.nnrt_model_predict, _capi.nnrt_model_predict_u8

    def spy(function: Any) -> Any:
        def call(handle: Any, inputs: Any, *rest: Any) -> Any:
            seen.append(inputs)
            return function(handle, inputs, *rest)
        return call

    _capi.nnrt_model_predict, _capi.nnrt_model_predict_u8 = spy(real[0]), spy(real[1])
    try:
        model = nnrt.Model(data / "net.nnrt")
        u8 = (data / "x.u8").read_bytes()
        writable = bytearray(u8)
        floats = array.array("f", bytes(4 * SIZE * 2))
        pixels = array.array("B", u8)

        def address(value: Any) -> int:
            return ctypes.addressof(value) if isinstance(value, ctypes.Array) else -1

        def buffer_address(buffer: Any) -> int:
            return ctypes.addressof((ctypes.c_char * 1).from_buffer(buffer))

        result = {}
        model.predict(u8)
        result["bytes"] = seen[-1] is u8
        model.predict(writable)
        result["bytearray"] = address(seen[-1]) == buffer_address(writable)
        model.predict(floats)
        result["array('f')"] = address(seen[-1]) == floats.buffer_info()[0]
        model.predict(pixels)
        result["array('B')"] = address(seen[-1]) == pixels.buffer_info()[0]
        model.predict(memoryview(writable).cast("B", [COUNT, 28, 28]))
        result["memoryview (5, 28, 28) of a bytearray"] = address(seen[-1]) == buffer_address(writable)
        model.predict(memoryview(u8).cast("B", [COUNT, 28, 28]))
        result["memoryview (5, 28, 28) of bytes"] = seen[-1] is u8
        return result
    finally:
        _capi.nnrt_model_predict, _capi.nnrt_model_predict_u8 = real


class _HideNumpy:
    """A meta path finder that makes ``import numpy`` fail, as if it were not installed."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "numpy" or name.startswith("numpy."):
            raise ModuleNotFoundError(f"No module named {name!r} (hidden by nonumpy_cases.py)", name=name)
        return None


def main() -> int:
    sys.meta_path.insert(0, _HideNumpy())
    try:
        import numpy  # noqa: F401
    except ImportError:
        pass
    else:
        print("nonumpy_cases.py: numpy could still be imported", file=sys.stderr)
        return 1
    sys.path.insert(0, sys.argv[1])
    import nnrt

    data = Path(sys.argv[2])
    records = run(nnrt, data)
    output = {
        "package": os.path.dirname(nnrt.__file__),
        "cases": records,
        "zero_copy": zero_copy(nnrt, data),
        "numpy_imported": "numpy" in sys.modules,
    }
    print(json.dumps(output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
