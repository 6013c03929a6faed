"""Checks an installed nnrt wheel without numpy (run by scripts/test-packaging.sh in a fresh venv).

    python check-wheel.py --version 0.3.0 --labels-out FILE MODEL IMAGES_IDX.gz LABELS_IDX.gz

- nnrt loads the libnnrt bundled in the package, not a checkout's or the system's, and the
  libraries bundled with it (nnrt.libs/: libprotobuf-c, libpng16, libjpeg) are the ones mapped;
- the package, the library and the expected version agree;
- the MNIST test set is classified by nnrt.Model.predict without numpy, in batches of 1000 images
  passed as the bytes of the IDX file (uint8 pixels, as Examples/c/classify_idx.c passes them to
  nnrt_model_predict_u8); the labels come back as lists of ints; the predicted labels are written
  one per line and the last line is classify_idx's: "accuracy: 91.23% (9123/10000)";
- predict_proba, a Session and nested lists of floats (the pixels scaled by the model's input
  contract) agree with those labels;
- 200 test digits written as PNG files in memory are classified by Model.classify_files
  (decoded by the bundled libpng);
- numpy was never imported.
Exit status 0 when every check passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import os
import struct
import sys
from pathlib import Path
from typing import Callable, List, NoReturn, Tuple


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


def load_png_writer() -> Callable[[int, int, bytes], bytes]:
    """The tests' minimal greyscale PNG writer (Bindings/python/tests/nonumpy_cases.py, plain
    Python), loaded by path: this script runs in a fresh venv, outside the test package."""
    path = Path(__file__).resolve().parent.parent / "Bindings" / "python" / "tests" / "nonumpy_cases.py"
    spec = importlib.util.spec_from_file_location("nonumpy_cases", path)
    if spec is None or spec.loader is None:
        fail(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    writer: Callable[[int, int, bytes], bytes] = module.png
    return writer


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

    # The test set through the object layer, in batches of 1000 uint8 images, as classify_idx does.
    count, size, pixels = read_idx(args.images, 3)
    label_count, _, truth = read_idx(args.labels, 1)
    if count != label_count:
        fail(f"{count} images but {label_count} labels")
    try:
        model = nnrt.Model(args.model)
    except nnrt.NNRTError as error:
        fail(f"nnrt.Model({args.model!r}): {error}")
    print(f"object layer: {model!r}, labels {model.labels}")
    if model.input_size != size:
        fail(f"the model takes {model.input_size} values, the images have {size}")
    names = model.labels
    indices: List[int] = []
    for first in range(0, count, 1000):
        n = min(1000, count - first)
        batch = model.predict(pixels[first * size:(first + n) * size])
        if type(batch) is not list or len(batch) != n or not all(type(label) is int for label in batch):
            fail(f"predict without numpy returned {type(batch).__name__}, not a list of {n} ints")
        indices.extend(batch)
    predicted = [names[index] for index in indices]
    correct = sum(1 for i in range(count) if predicted[i] == str(truth[i]))
    Path(args.labels_out).write_text("".join(f"{label}\n" for label in predicted), encoding="utf-8")

    # The other ways in, on the first 100 images: the same labels.
    first = pixels[:100 * size]
    outputs = model.predict_proba(first)
    if [max(range(len(row)), key=row.__getitem__) for row in outputs] != indices[:100]:
        fail("predict_proba's largest outputs are not predict's labels")
    scale, offset, _ = model.input_contract
    rows = [[value * scale + offset for value in first[i * size:(i + 1) * size]] for i in range(100)]
    with model.session(threads=2) as session:
        if session.predict(first) != indices[:100]:
            fail("a Session's labels differ from the model's")
    floats = model.predict(rows)
    agree = sum(1 for a, b in zip(floats, indices) if a == b)
    print(f"nested lists of floats (pixel * {scale:.6g} + {offset:g}): {agree}/100 labels as from uint8 pixels")
    if agree < 98:
        fail("nested lists of floats disagree with uint8 pixels on more than 2 of 100 images")

    # PNG files, decoded by the bundled libpng.
    png = load_png_writer()
    results = model.classify_files([png(28, 28, pixels[i * size:(i + 1) * size]) for i in range(200)])
    for result in results:
        if not result.ok:
            fail(f"classify_files: {result.source}: {result.error}")
    png_correct = sum(1 for i, result in enumerate(results) if result.label == str(truth[i]))
    model.close()
    print(f"PNG: {png_correct}/200 test digits written as PNG classified correctly")
    if png_correct < 160:
        fail("fewer than 80% of the PNG digits classified correctly")
    if "numpy" in sys.modules:
        fail("numpy was imported")

    print(f"accuracy: {100.0 * correct / count if count else 0.0:.2f}% ({correct}/{count})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
