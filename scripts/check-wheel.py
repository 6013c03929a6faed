"""Checks an installed nnrt wheel without numpy (run by scripts/test-packaging.sh in a fresh venv).

    python check-wheel.py --version 0.3.0 --labels-out FILE MODEL IMAGES_IDX.gz LABELS_IDX.gz

- nnrt loads the libnnrt bundled in the package, not a checkout's or the system's, and the
  libraries bundled with it (nnrt.libs/: libprotobuf-c, libpng16, libjpeg) are the ones mapped;
- the package, the library and the expected version agree;
- the MNIST test set is classified through the raw ctypes layer (nnrt._capi, as
  Examples/c/classify_idx.c does through C), the predicted labels are written one per line and the
  last line is classify_idx's: "accuracy: 91.23% (9123/10000)";
- 200 test digits written as PNG files in memory are classified (decoded by the bundled libpng);
- the object layer loads and describes the model without numpy, and its predict says that it
  needs numpy.
Exit status 0 when every check passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import ctypes
import gzip
import importlib.util
import os
import struct
import sys
import zlib
from pathlib import Path
from typing import List, NoReturn, Tuple


def fail(message: str) -> NoReturn:
    print(f"check-wheel: FAIL: {message}")
    sys.exit(1)


def read_idx(path: str, rank: int) -> Tuple[int, int, bytes]:
    """(count, item size, data) of an IDX file of unsigned bytes (gzipped or not)."""
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if raw[:3] != b"\0\0\x08" or raw[3] != rank:
        fail(f"{path} is not an IDX file of rank {rank}")
    dims = struct.unpack(f">{rank}I", raw[4:4 + 4 * rank])
    size = 1
    for dim in dims[1:]:
        size *= dim
    return dims[0], size, raw[4 + 4 * rank:]


def png(width: int, height: int, grey: bytes) -> bytes:
    """A minimal 8-bit greyscale PNG."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    rows = b"".join(b"\0" + grey[y * width:(y + 1) * width] for y in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--version", required=True)
    parser.add_argument("--labels-out", required=True)
    parser.add_argument("model")
    parser.add_argument("images")
    parser.add_argument("labels")
    args = parser.parse_args()

    if importlib.util.find_spec("numpy") is not None:
        fail("numpy is importable: this check is meant to run without it")
    if os.environ.get("NNRT_LIBRARY"):
        fail("NNRT_LIBRARY is set: the bundled library would not be the one loaded")

    import nnrt
    from nnrt import _capi

    package = Path(nnrt.__file__).resolve().parent
    if Path(sys.prefix).resolve() not in package.parents:
        fail(f"nnrt was imported from {package}, not from this environment ({sys.prefix})")
    if Path(nnrt.library_path).resolve() != package / "libnnrt.so":
        fail(f"nnrt loaded {nnrt.library_path}, not the bundled {package / 'libnnrt.so'}")
    print(f"nnrt {nnrt.__version__} from {package}; library {nnrt.library_path}")
    if not (nnrt.__version__ == nnrt.version() == args.version):
        fail(f"versions differ: package {nnrt.__version__}, library {nnrt.version()}, expected {args.version}")

    bundled = package.parent / "nnrt.libs"
    mapped = {line.split()[-1] for line in Path("/proc/self/maps").read_text().splitlines()
              if len(line.split()) >= 6 and line.split()[-1].startswith("/")}
    for stem in ("libprotobuf-c", "libpng16", "libjpeg"):
        copies = sorted(path for path in mapped if Path(path).name.startswith(stem))
        if not copies:
            fail(f"no {stem} is mapped")
        for path in copies:
            if Path(path).resolve().parent != bundled.resolve():
                fail(f"{path} is mapped: not the copy bundled in {bundled}")
        print(f"mapped: {', '.join(copies)}")

    # The test set through the raw layer, in batches of 1000, as classify_idx does.
    count, size, pixels = read_idx(args.images, 3)
    label_count, _, truth = read_idx(args.labels, 1)
    if count != label_count:
        fail(f"{count} images but {label_count} labels")
    handle = ctypes.c_void_p()
    status = _capi.nnrt_model_load(os.fsencode(args.model), ctypes.byref(handle))
    if status != 0:
        fail(f"nnrt_model_load: {_capi.nnrt_last_error_message().decode()}")
    classes = ctypes.c_size_t()
    _capi.nnrt_model_class_count(handle, ctypes.byref(classes))
    names: List[str] = []
    for index in range(classes.value):
        name = ctypes.c_char_p()
        _capi.nnrt_model_class_label(handle, index, ctypes.byref(name))
        names.append((name.value or b"").decode())
    predicted: List[str] = []
    for first in range(0, count, 1000):
        n = min(1000, count - first)
        batch = (ctypes.c_uint8 * (n * size)).from_buffer_copy(pixels, first * size)
        out = (ctypes.c_int32 * n)()
        status = _capi.nnrt_model_predict_u8(handle, batch, n, n * size, out, n, None, 0)
        if status != 0:
            fail(f"nnrt_model_predict_u8: {_capi.nnrt_last_error_message().decode()}")
        predicted.extend(names[label] for label in out)
    correct = sum(1 for i in range(count) if predicted[i] == str(truth[i]))
    Path(args.labels_out).write_text("".join(f"{label}\n" for label in predicted), encoding="utf-8")

    # PNG files, decoded by the bundled libpng.
    png_correct = 0
    for i in range(200):
        data = png(28, 28, pixels[i * size:(i + 1) * size])
        label, flags = ctypes.c_int32(-1), ctypes.c_uint32()
        status = _capi.nnrt_model_classify_image(handle, data, len(data), ctypes.byref(label), None, 0,
                                                 ctypes.byref(flags))
        if status != 0:
            fail(f"nnrt_model_classify_image: {_capi.nnrt_last_error_message().decode()}")
        png_correct += names[label.value] == str(truth[i])
    _capi.nnrt_model_free(handle)
    print(f"PNG: {png_correct}/200 test digits written as PNG classified correctly")
    if png_correct < 160:
        fail("fewer than 80% of the PNG digits classified correctly")

    # The object layer without numpy.
    with nnrt.Model(args.model) as model:
        print(f"object layer: {model!r}, labels {model.labels}")
        try:
            model.predict([0.0] * model.input_size)
        except ImportError as error:
            if "numpy" not in str(error):
                fail(f"predict without numpy raised an unhelpful ImportError: {error}")
        else:
            fail("predict without numpy did not raise ImportError")

    print(f"accuracy: {100.0 * correct / count if count else 0.0:.2f}% ({correct}/{count})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
