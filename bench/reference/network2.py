#!/usr/bin/env python3
"""An independent check of nnrt's chapter-1/3 figures: the book's network2.py training loop
(cross-entropy or quadratic cost, L2 weight decay, plain mini-batch SGD, sigmoid layers), written
again in numpy float64 as network2.py computes (or float32, as nnrt, with --float32), in matrix form over each mini-batch (the same sums
as its per-example loop). It trains on the book's 50,000 training images (or the first N) and
prints the test accuracy after every epoch and the peak, so a seed spread can be set beside
nnrt's rows in bench/ACCURACY.md.

    MNIST_DIR=../shared/data/mnist bench/reference/network2.py --seeds 1 2 3 4 \\
        --sizes 784 30 10 --epochs 30 --eta 0.5 --lmbda 5.0          # ch3-l2 (book: 96.49%)

Weights start as network2's large_weight_initializer (N(0, 1)) unless --scaled-init
(N(0, 1/n_in)). Needs numpy only; reads the IDX files like bench/peers (MNIST_DIR).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "peers"))
from nets import load_mnist  # noqa: E402  (the benchmark's IDX reader: /255, the book's split)


def sigmoid(z: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-z))


def train(seed: int, sizes: list[int], epochs: int, batch: int, eta: float, lmbda: float,
          cost: str, scaled_init: bool, x: np.ndarray, y: np.ndarray, xt: np.ndarray,
          yt: np.ndarray) -> list[float]:
    rng = np.random.default_rng(seed)
    dtype = x.dtype
    weights = [(rng.standard_normal((o, i)) / (np.sqrt(i) if scaled_init else 1.0)).astype(dtype)
               for i, o in zip(sizes[:-1], sizes[1:])]
    biases = [rng.standard_normal(o).astype(dtype) for o in sizes[1:]]
    onehot = np.eye(sizes[-1], dtype=dtype)[y]
    decay, step = dtype.type(1 - eta * lmbda / len(x)), dtype.type(eta / batch)
    n = len(x)
    accuracies = []
    for epoch in range(epochs):
        order = rng.permutation(n)
        for k in range(0, n, batch):
            idx = order[k:k + batch]
            activations = [x[idx]]
            for w, b in zip(weights, biases):
                activations.append(sigmoid(activations[-1] @ w.T + b))
            out = activations[-1]
            delta = out - onehot[idx]                         # cross-entropy: dC/dz
            if cost == "quadratic":
                delta = delta * out * (1 - out)
            grads = []
            for layer in range(len(weights) - 1, -1, -1):
                grads.append((delta.T @ activations[layer], delta.sum(axis=0)))
                if layer > 0:
                    a = activations[layer]
                    delta = (delta @ weights[layer]) * a * (1 - a)
            grads.reverse()
            if len(idx) != batch:
                step = dtype.type(eta / len(idx))
            for layer, (gw, gb) in enumerate(grads):
                weights[layer] = decay * weights[layer] - step * gw
                biases[layer] = biases[layer] - step * gb
        a = xt
        for w, b in zip(weights, biases):
            a = sigmoid(a @ w.T + b)
        accuracies.append(float((a.argmax(axis=1) == yt).mean() * 100))
        print(f"seed {seed} epoch {epoch + 1}: {accuracies[-1]:.2f}%", flush=True)
    return accuracies


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[1])
    p.add_argument("--sizes", type=int, nargs="+", default=[784, 30, 10])
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch", type=int, default=10)
    p.add_argument("--eta", type=float, default=0.5)
    p.add_argument("--lmbda", type=float, default=0.0)
    p.add_argument("--cost", choices=["cross-entropy", "quadratic"], default="cross-entropy")
    p.add_argument("--scaled-init", action="store_true")
    p.add_argument("--train-images", type=int, default=50000)
    p.add_argument("--float32", action="store_true", help="compute in float32 (as nnrt), not float64")
    args = p.parse_args()
    mnist = Path(os.environ.get("MNIST_DIR", ""))
    if not mnist.is_dir():
        print("set MNIST_DIR to the folder with the MNIST IDX files", file=sys.stderr)
        return 2
    x, y = load_mnist(mnist, "train")
    xt, yt = load_mnist(mnist, "test")
    dtype = np.float32 if args.float32 else np.float64
    x, y = x[:args.train_images].astype(dtype), y[:args.train_images]
    xt = xt.astype(dtype)
    peaks = []
    for seed in args.seeds:
        acc = train(seed, args.sizes, args.epochs, args.batch, args.eta, args.lmbda, args.cost,
                    args.scaled_init, x, y, xt, yt)
        best = int(np.argmax(acc))
        peaks.append(acc[best])
        print(f"seed {seed}: peak {acc[best]:.2f}% at epoch {best + 1}, final {acc[-1]:.2f}%", flush=True)
    print(f"peaks over {len(peaks)} seeds: {min(peaks):.2f}-{max(peaks):.2f}%, "
          f"mean {sum(peaks) / len(peaks):.2f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
