#!/usr/bin/env python3
"""The Python baseline of bench/images.py: what a Python user would write without nnrt's image
input. Pillow decodes, numpy does the same MNIST-style preprocessing (alpha over white, grey,
polarity from the border, background removed, contrast stretched, cropped to the ink, scaled to
fit 20x20 with Pillow's area-averaging resize, centred by centre of mass in 28x28), and the nnrt
Python binding predicts the batch (so only the image side differs from nnrt classify).

    python images_baseline.py MODEL DIR THREADS [--nnrt]   (prints JSON: files, seconds, files_per_s)

--nnrt times nnrt's own image input instead, from the same Python: model.classify_files(paths,
threads=THREADS) (libnnrt reads, decodes and normalises the files), so the two differ only in
the image side.

THREADS > 1 preprocesses in a process pool (numpy and Pillow hold the GIL for much of this).
The time covers listing, reading, decoding, preprocessing and prediction, not interpreter start.
"""

from __future__ import annotations

import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

import nnrt


def preprocess(path: str) -> np.ndarray:
    img = Image.open(path)
    if img.mode in ("RGBA", "LA", "PA", "P"):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    grey = img.convert("L") if img.mode not in ("I;16", "I;16B", "I;16L", "I") else img
    a = np.asarray(grey, dtype=np.float32)
    a /= 65535.0 if a.max() > 255 else 255.0
    if a.shape == (28, 28):
        border = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])
        return (1.0 - a) if np.median(border) > 0.5 else a
    border = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])
    paper = float(np.median(border))
    ink = np.abs(a - paper)                                  # ink = distance from the paper level
    top = float(np.percentile(ink, 99.5))
    if top <= 0:
        return np.zeros((28, 28), np.float32)
    ink = np.clip(ink / top, 0.0, 1.0)
    ys, xs = np.nonzero(ink > 0.2)
    if len(ys) == 0:
        return np.zeros((28, 28), np.float32)
    crop = ink[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    h, w = crop.shape
    s = 20.0 / max(h, w)
    nh, nw = max(1, round(h * s)), max(1, round(w * s))
    small = np.asarray(Image.fromarray((crop * 255).astype(np.uint8)).resize((nw, nh), Image.BOX),
                       dtype=np.float32) / 255.0
    field = np.zeros((28, 28), np.float32)
    y0, x0 = (28 - nh) // 2, (28 - nw) // 2
    field[y0:y0 + nh, x0:x0 + nw] = small
    total = field.sum()
    if total > 0:
        cy = (field.sum(axis=1) * np.arange(28)).sum() / total
        cx = (field.sum(axis=0) * np.arange(28)).sum() / total
        field = np.roll(field, (int(round(13.5 - cy)), int(round(13.5 - cx))), axis=(0, 1))
    return field


def main() -> int:
    model_path, folder, threads = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    t0 = time.perf_counter()
    files = sorted(str(p) for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".pgm", ".ppm"))
    truth = [int(Path(f).stem.split("-")[1]) for f in files]
    if "--nnrt" in sys.argv[4:]:
        with nnrt.Model(model_path) as model:
            results = model.classify_files(files, threads=threads)
        elapsed = time.perf_counter() - t0
        correct = int(sum(r.index == t for r, t in zip(results, truth)))
        print(json.dumps({"files": len(files), "seconds": elapsed, "files_per_s": len(files) / elapsed, "correct": correct}))
        return 0
    if threads > 1:
        with ProcessPoolExecutor(threads) as pool:
            fields = list(pool.map(preprocess, files, chunksize=16))
    else:
        fields = [preprocess(f) for f in files]
    with nnrt.Model(model_path) as model:
        labels = model.predict(np.stack(fields).reshape(len(files), 784))
    elapsed = time.perf_counter() - t0
    correct = int(sum(int(l) == t for l, t in zip(labels, truth)))
    print(json.dumps({"files": len(files), "seconds": elapsed, "files_per_s": len(files) / elapsed, "correct": correct}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
