#!/usr/bin/env python3
"""Classify MNIST-style IDX images with an nnrt model and report accuracy.

    python classify.py MODEL IMAGES_IDX[.gz] LABELS_IDX[.gz] [--labels-out FILE] [--batch N]

Reads the IDX files itself (gzip-compressed or not), classifies every image in batches of raw
uint8 pixels (scaled by the model's input contract inside libnnrt), prints the throughput and,
as its last line, ``accuracy: 95.42% (9542/10000)``. ``--labels-out FILE`` writes the predicted
class label of each image, one per line.

Runs from a source checkout without installing the package (it falls back to
../../Bindings/python); libnnrt is found as the nnrt package documents (NNRT_LIBRARY, ...).
"""

from __future__ import annotations

import argparse
import gzip
import struct
import sys
import time
from pathlib import Path
from typing import List, Optional

import numpy as np

try:
    import nnrt
except ModuleNotFoundError:  # running from a source checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "Bindings" / "python"))
    import nnrt

# IDX element type codes (the third byte of the magic number) and their big-endian dtypes.
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: "str | Path") -> np.ndarray:
    """Read an IDX file (gzip-compressed if it starts with the gzip magic) into an array.

    Images come back as (count, rows, columns), labels as (count,); uint8 data stays uint8.
    """
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(f"{path}: not an IDX file")
    rank = raw[3]
    header = 4 + 4 * rank
    if len(raw) < header:
        raise ValueError(f"{path}: truncated IDX header")
    shape = struct.unpack(f">{rank}I", raw[4:header])
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    count = int(np.prod(shape, dtype=np.int64))
    if len(raw) - header < count * dtype.itemsize:
        raise ValueError(f"{path}: holds fewer values than its header's shape {shape}")
    data = np.frombuffer(raw, dtype=dtype, count=count, offset=header).reshape(shape)
    return data if dtype.itemsize == 1 else data.astype(dtype.newbyteorder("="))


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Classify IDX images with an nnrt model.")
    parser.add_argument("model", help="nnrt model file")
    parser.add_argument("images", help="IDX images file (.gz or not), e.g. t10k-images-idx3-ubyte.gz")
    parser.add_argument("labels", help="IDX labels file (.gz or not), e.g. t10k-labels-idx1-ubyte.gz")
    parser.add_argument("--labels-out", metavar="FILE", help="write one predicted label per line")
    parser.add_argument("--batch", type=int, default=1000, help="images per call (default 1000)")
    args = parser.parse_args(argv)
    if args.batch < 1:
        parser.error("--batch must be at least 1")

    try:
        images = read_idx(args.images)
        truth = read_idx(args.labels)
        if images.ndim != 3 or truth.ndim != 1 or len(images) != len(truth):
            raise ValueError(f"{images.shape} images do not match {truth.shape} labels")
        model = nnrt.Model(args.model)
    except (OSError, ValueError, nnrt.NNRTError) as error:
        print(f"classify.py: {error}", file=sys.stderr)
        return 1

    with model:
        print(f"model: {model!r}")
        pixels = images.reshape(len(images), -1)
        predicted = np.empty(len(images), dtype=np.int32)
        start = time.perf_counter()
        for first in range(0, len(pixels), args.batch):
            predicted[first:first + args.batch] = model.predict(pixels[first:first + args.batch])
        seconds = time.perf_counter() - start
        class_labels = model.labels

    total = len(truth)
    correct = int(np.count_nonzero(predicted == truth))
    rate = total / seconds if seconds > 0 else float("inf")
    print(f"{total} images in {seconds:.3f} s: {rate:,.0f} images/second")
    if args.labels_out:
        with open(args.labels_out, "w", encoding="utf-8") as out:
            out.writelines(f"{class_labels[i]}\n" for i in predicted)
    accuracy = 100.0 * correct / total if total else 0.0
    print(f"accuracy: {accuracy:.2f}% ({correct}/{total})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
