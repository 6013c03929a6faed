#!/usr/bin/env python3
"""Classify image files (PNG, JPEG, PGM/PPM) with an nnrt model.

    python3 classify_files.py MODEL FILE_OR_DIR... [--top K] [--threads N]

libnnrt brings each image to the network's input itself (grey levels, polarity, crop to the ink,
MNIST's 20x20 box, centre of mass in 28x28), so scans, photos and drawings of digits need no
preparation. Prints one line per file; exit status 1 if any file could not be classified.
Neither numpy nor Pillow is required (Pillow images, numpy arrays and nested lists of pixels
may be passed to ``model.classify_files`` just like paths).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nnrt

EXTENSIONS = {".png", ".jpg", ".jpeg", ".pgm", ".ppm", ".pnm"}


def expand(paths):
    """Files as given; directories searched recursively for image files, in name order."""
    for p in map(Path, paths):
        if p.is_dir():
            yield from sorted(f for f in p.rglob("*") if f.suffix.lower() in EXTENSIONS and f.is_file())
        else:
            yield p


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("paths", nargs="+")
    ap.add_argument("--top", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="0: one per core")
    args = ap.parse_args(argv)
    files = list(expand(args.paths))
    failed = 0
    with nnrt.Model(args.model) as model:
        for r in model.classify_files(files, top=args.top, threads=args.threads):
            if r.ok:
                top = " ".join(f"{label}={p:.3f}" for label, p in r.top)
                notes = f"  [{', '.join(sorted(r.flags - {'resized'}))}]" if r.flags - {"resized"} else ""
                print(f"{r.source}: {r.label} ({r.confidence:.3f})  top: {top}{notes}")
            else:
                failed += 1
                print(f"{r.source}: error: {r.error}")
    if failed:
        print(f"{failed} of {len(files)} files could not be classified", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
