"""Examples/python/classify.py on synthetic IDX files, and on real MNIST when available."""

import gzip
import importlib.util
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from support import PACKAGE_DIR, REPO_ROOT, random_net, require_nnrt

nnrt = require_nnrt()

CLASSIFY = REPO_ROOT / "Examples" / "python" / "classify.py"
if not CLASSIFY.is_file():
    pytest.skip("Examples/python/classify.py is not here (not a source checkout)", allow_module_level=True)


def _load_classify():
    spec = importlib.util.spec_from_file_location("nnrt_classify_example", CLASSIFY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write_idx(path: Path, array: np.ndarray, compress: bool) -> None:
    raw = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    raw += array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)


@pytest.mark.parametrize("compress", [True, False])
def test_classify_script(tmp_path, compress):
    net = random_net((784, 10), seed=3)
    model_path = tmp_path / "m.nnrt"
    model_path.write_bytes(net.file())
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (250, 28, 28), dtype=np.uint8)
    predicted = net.forward(images.reshape(250, -1) / 255.0).argmax(axis=1)
    truth = predicted.copy()
    truth[:50] = (truth[:50] + 1) % 10  # 200 of 250 right
    suffix = ".gz" if compress else ""
    _write_idx(tmp_path / f"images{suffix}", images, compress)
    _write_idx(tmp_path / f"labels{suffix}", truth, compress)
    out = tmp_path / "predicted.txt"
    env = dict(os.environ, PYTHONPATH=str(PACKAGE_DIR) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    run = subprocess.run(
        [sys.executable, str(CLASSIFY), str(model_path), str(tmp_path / f"images{suffix}"),
         str(tmp_path / f"labels{suffix}"), "--labels-out", str(out), "--batch", "64"],
        capture_output=True, text=True, env=env, check=False)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.strip().splitlines()
    assert "images/second" in run.stdout
    assert lines[-1] == "accuracy: 80.00% (200/250)"
    assert out.read_text().split() == [str(p) for p in predicted]


def test_mnist_accuracy():
    model_path, mnist = os.environ.get("NNRT_TEST_MODEL"), os.environ.get("MNIST_DIR")
    if not model_path or not mnist:
        pytest.skip("set NNRT_TEST_MODEL (a trained MNIST model) and MNIST_DIR to run")
    classify = _load_classify()
    images = classify.read_idx(Path(mnist) / "t10k-images-idx3-ubyte.gz")
    labels = classify.read_idx(Path(mnist) / "t10k-labels-idx1-ubyte.gz")
    with nnrt.Model(model_path) as model:
        predicted = model.predict(images)
    accuracy = float(np.mean(predicted == labels))
    assert accuracy > 0.85, f"accuracy {accuracy:.4f}"
