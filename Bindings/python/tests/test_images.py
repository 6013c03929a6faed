"""Image input: Model.classify_files and Model.preprocess with paths, bytes, numpy arrays and
Pillow images, against the files scripts/test-images.sh writes (NNRT_TEST_IMAGES) and MNIST."""

from __future__ import annotations

import csv
import gzip
import os
from pathlib import Path

import numpy as np
import pytest

from support import random_net, require_nnrt

nnrt = require_nnrt()

IMAGES = os.environ.get("NNRT_TEST_IMAGES")
MODEL = os.environ.get("NNRT_TEST_MODEL")
MNIST = os.environ.get("MNIST_DIR")


def _mnist_digits(count: int) -> np.ndarray:
    if not MNIST:
        pytest.skip("set MNIST_DIR to run")
    with gzip.open(Path(MNIST) / "t10k-images-idx3-ubyte.gz") as f:
        f.read(16)
        return np.frombuffer(f.read(784 * count), dtype=np.uint8).reshape(count, 28, 28)


@pytest.fixture(scope="module")
def model():
    if not MODEL:
        pytest.skip("set NNRT_TEST_MODEL (a trained MNIST model) to run")
    with nnrt.Model(MODEL) as m:
        yield m


@pytest.fixture(scope="module")
def images() -> Path:
    if not IMAGES:
        pytest.skip("set NNRT_TEST_IMAGES (a directory written by nnrt-testimages) to run")
    return Path(IMAGES)


def _truth(images: Path, count: int):
    rows = list(csv.DictReader(open(images / "scanned" / "labels.csv")))[:count]
    return [images / "scanned" / r["file"] for r in rows], [r["label"] for r in rows]


def test_files_pathlib_and_str(model, images):
    paths, labels = _truth(images, 200)
    results = model.classify_files(paths, top=2)
    assert [r.source for r in results] == [str(p) for p in paths]
    assert all(r.ok and r.error is None for r in results)
    correct = sum(r.label == t for r, t in zip(results, labels))
    assert correct >= 170, f"{correct}/200 scanned digits correct"
    for r in results:
        assert len(r.top) == 2 and r.top[0] == (r.label, r.confidence)
        assert model.labels[r.index] == r.label
        assert r.flags <= {"inverted", "blank", "resized"}
    # str paths, two threads: the same answers.
    again = model.classify_files([str(p) for p in paths], top=2, threads=2)
    assert [(r.label, r.confidence, r.flags) for r in again] == [(r.label, r.confidence, r.flags) for r in results]


def test_broken_files_do_not_stop_the_batch(model, images):
    expected = {r["file"]: r["status"] for r in csv.DictReader(open(images / "broken" / "expected.csv"))}
    errors = {
        "NNRT_ERR_IO": nnrt.NNRTIOError,
        "NNRT_ERR_IMAGE_DECODE": nnrt.ImageDecodeError,
        "NNRT_ERR_IMAGE_FORMAT": nnrt.ImageFormatError,
        "NNRT_ERR_IMAGE_TOO_LARGE": nnrt.ImageTooLargeError,
    }
    good, _ = _truth(images, 3)
    names = sorted(expected)
    items = [good[0]] + [images / "broken" / n for n in names] + good[1:]
    results = model.classify_files(items)
    assert results[0].ok and results[-1].ok and results[-2].ok
    for name, r in zip(names, results[1:-2]):
        assert not r.ok and r.label is None and r.index == -1
        assert isinstance(r.error, errors[expected[name]]), (name, r.error)
        assert str(r.error), name


def test_bytes_and_preprocess_match_paths(model, images):
    paths, _ = _truth(images, 20)
    by_path = model.classify_files(paths)
    by_bytes = model.classify_files([p.read_bytes() for p in paths])
    assert [r.label for r in by_bytes] == [r.label for r in by_path]
    assert [r.source for r in by_bytes] == [f"<item {i}>" for i in range(20)]
    for p, r in zip(paths, by_path):
        x = model.preprocess(p)
        assert x.shape == model.input_shape and x.dtype == np.float32
        assert np.array_equal(x, model.preprocess(p.read_bytes()))
        assert int(model.predict(x)[0]) == r.index


def test_mnist_arrays_pass_through_unchanged(model):
    digits = _mnist_digits(30)
    contract = model.input_contract
    for digit in digits:
        x = model.preprocess(digit)
        expected = digit.astype(np.float32) * np.float32(contract.scale) + np.float32(contract.offset)
        assert np.array_equal(x.reshape(28, 28), expected)
        # Inverted: restored exactly, and said so.
        assert np.array_equal(model.preprocess(255 - digit), x)
        # 16-bit, RGB and RGBA copies: the same input to float rounding.
        assert np.allclose(model.preprocess(digit.astype(np.uint16) * 257), x, atol=1e-6)
        assert np.allclose(model.preprocess(np.repeat(digit[:, :, None], 3, axis=2)), x, atol=1e-6)
        rgba = np.dstack([digit, digit, digit, np.full_like(digit, 255)])
        assert np.allclose(model.preprocess(rgba), x, atol=1e-6)
    results = model.classify_files(list(digits))
    assert [r.index for r in results] == list(model.predict(digits.reshape(30, 784)))
    assert all(r.flags == frozenset() for r in results)
    inverted = model.classify_files([255 - d for d in digits])
    assert [r.index for r in inverted] == [r.index for r in results]
    assert all(r.flags == {"inverted"} for r in inverted)


def test_large_off_centre_arrays(model):
    """MNIST digits scaled up 5x, off-centre on a light 300x400 page: mostly the same label."""
    digits = _mnist_digits(50)
    same = 0
    for digit in digits:
        big = np.kron(255 - digit, np.ones((5, 5), dtype=np.uint8))   # dark ink on white
        page = np.full((300, 400), 255, dtype=np.uint8)
        page[20:160, 230:370] = big
        r = model.classify_files([page])[0]
        assert r.ok and "inverted" in r.flags and "resized" in r.flags
        same += r.index == int(model.predict(digit.reshape(1, 784))[0])
    assert same >= 45, f"{same}/50"
    # Floats in 0..1 (1 = white) are read as intensities.
    page = np.ones((100, 80), dtype=np.float64)
    page[30:70, 38:42] = 0.0   # a dark vertical stroke: a "1"
    assert model.classify_files([page])[0].ok


def test_blank_and_bad_arrays(model):
    blank = model.classify_files([np.zeros((40, 40), np.uint8)])[0]
    assert blank.ok and "blank" in blank.flags
    with pytest.raises(nnrt.InvalidArgumentError):
        model.preprocess(np.zeros((10, 10, 5), np.uint8))
    with pytest.raises(nnrt.InvalidArgumentError):
        model.preprocess(np.zeros((10,), np.uint8))
    bad = model.classify_files([np.zeros((10, 10, 5), np.uint8)])[0]
    assert not bad.ok and isinstance(bad.error, nnrt.InvalidArgumentError)
    with pytest.raises(nnrt.ImageFormatError):
        model.preprocess(b"not an image at all")
    with pytest.raises(nnrt.NNRTIOError):
        model.preprocess(Path("/nonexistent/digit.png"))


def test_models_without_images_refuse():
    net = random_net((20, 5, 10), seed=4)
    net.contract = ((20,), 1.0, 0.0, 1)
    with nnrt.Model(net.file()) as m:
        with pytest.raises(nnrt.UnsupportedError):
            m.preprocess(np.zeros((28, 28), np.uint8))
        with pytest.raises(nnrt.UnsupportedError):
            m.classify_files(["/nonexistent.png"])


def test_pillow_images(model, images):
    Image = pytest.importorskip("PIL.Image")
    paths, _ = _truth(images, 20)
    by_path = model.classify_files(paths)
    opened = [Image.open(p) for p in paths]
    by_pillow = model.classify_files(opened)
    # Pillow's JPEG decoder is libjpeg-turbo too, but its colour conversion may differ by a
    # level; labels agree.
    assert [r.label for r in by_pillow] == [r.label for r in by_path]
    digit = _mnist_digits(1)[0]
    grey = Image.fromarray(digit, mode="L")
    x = model.preprocess(grey)
    assert np.array_equal(x, model.preprocess(digit))
    # EXIF orientation is applied to Pillow images as libnnrt applies it to JPEG files.
    rotated = Image.fromarray(np.ascontiguousarray(np.rot90(digit, 1)), mode="L")   # stored turned left
    exif = rotated.getexif()
    exif[0x0112] = 6                                                              # display: 90 degrees clockwise
    import io
    buffer = io.BytesIO()
    rotated.save(buffer, format="JPEG", quality=100, exif=exif.tobytes())
    from_pillow = model.preprocess(Image.open(io.BytesIO(buffer.getvalue())))
    from_bytes = model.preprocess(buffer.getvalue())
    assert np.abs(from_pillow - from_bytes).max() < 0.05, "Pillow and libnnrt disagree on orientation"
    assert np.abs(from_bytes - x).mean() < 0.02, "the JPEG did not come upright"
    # Palette and 1-bit images are converted.
    assert np.allclose(model.preprocess(grey.convert("P")), x, atol=1e-6)
    assert model.classify_files([grey.convert("1")])[0].ok


def test_example_classify_files(images):
    """Examples/python/classify_files.py: one line per file, exit status 1 when a file fails."""
    import subprocess
    import sys

    if not MODEL:
        pytest.skip("set NNRT_TEST_MODEL to run")
    example = Path(__file__).resolve().parents[3] / "Examples" / "python" / "classify_files.py"
    paths, _ = _truth(images, 5)
    run = subprocess.run([sys.executable, str(example), MODEL, *map(str, paths), str(images / "broken" / "text.png")],
                         capture_output=True, text=True)
    assert run.returncode == 1, run.stderr
    lines = run.stdout.splitlines()
    assert len(lines) == 6 and all(" top: " in line for line in lines[:5])
    assert lines[5].endswith("not a PNG, JPEG or PGM/PPM image (starts with 'This')")
    assert "1 of 6 files could not be classified" in run.stderr
    run = subprocess.run([sys.executable, str(example), MODEL, str(images / "scanned")], capture_output=True, text=True)
    assert run.returncode == 0 and len(run.stdout.splitlines()) == len(list((images / "scanned").glob("*.*"))) - 1
