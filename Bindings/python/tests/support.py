"""Shared test helpers: importing nnrt, random networks and a numpy reference forward pass."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np
import pytest

import modelwriter as mw

PACKAGE_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = PACKAGE_DIR.parents[1]


def require_nnrt() -> Any:
    """Import nnrt: the installed package, else this checkout's copy. Skip the calling test module
    if libnnrt cannot be found, unless NNRT_LIBRARY names it explicitly (then it is an error)."""
    try:
        try:
            import nnrt
        except ModuleNotFoundError:
            sys.path.insert(0, str(PACKAGE_DIR))
            import nnrt
    except ImportError as error:
        if os.environ.get("NNRT_LIBRARY"):
            raise
        pytest.skip(f"libnnrt not available: {error}", allow_module_level=True)
    return nnrt


# --- Reference forward pass ---------------------------------------------------------------------

def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


ACTIVATIONS = {
    mw.ACTIVATION_SIGMOID: lambda z: 1.0 / (1.0 + np.exp(-z)),
    mw.ACTIVATION_TANH: np.tanh,
    mw.ACTIVATION_RELU: lambda z: np.maximum(z, 0.0),
    mw.ACTIVATION_LINEAR: lambda z: z,
    mw.ACTIVATION_SOFTMAX: _softmax,
}


@dataclass
class Net:
    """A dense network: layers of (W [out, in] float32, b [out] float32, activation)."""

    layers: List[Tuple[np.ndarray, np.ndarray, int]]
    labels: List[str] = field(default_factory=lambda: list(mw.DIGITS))
    contract: Tuple[Sequence[int], float, float, int] = ((1, 28, 28), 1.0 / 255.0, 0.0,
                                                       mw.POLARITY_LIGHT_ON_DARK)
    name: str = "net"

    @property
    def input_size(self) -> int:
        return self.layers[0][0].shape[1]

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Outputs for x (N, input_size), in float64: a = activation(W a + b) per layer."""
        a = np.asarray(x, dtype=np.float64).reshape(-1, self.input_size)
        for w, b, activation in self.layers:
            a = ACTIVATIONS[activation](a @ w.astype(np.float64).T + b.astype(np.float64))
        return a

    def message(self) -> bytes:
        """The Network message."""
        shape, scale, offset, polarity = self.contract
        return mw.network(
            self.name,
            [mw.dense_layer(f"fc{i + 1}", w, b, act) for i, (w, b, act) in enumerate(self.layers)],
            self.labels,
            mw.input_contract(shape, scale, offset, polarity),
        )

    def file(self, **kwargs: Any) -> bytes:
        """A whole model file holding this network."""
        return mw.model_file(network_body=self.message(), **kwargs)


def random_net(sizes: Sequence[int] = (784, 30, 10), seed: int = 0,
               activations: Optional[Sequence[int]] = None, name: str = "net", **kwargs: Any) -> Net:
    """Weights N(0, 1/n_in) and biases N(0, 1), as float32, like network2.py's default."""
    rng = np.random.default_rng(seed)
    activations = activations or [mw.ACTIVATION_SIGMOID] * (len(sizes) - 1)
    layers = []
    for n_in, n_out, activation in zip(sizes[:-1], sizes[1:], activations):
        w = (rng.standard_normal((n_out, n_in)) / np.sqrt(n_in)).astype(np.float32)
        b = rng.standard_normal(n_out).astype(np.float32)
        layers.append((w, b, activation))
    return Net(layers, name=name, **kwargs)


def constant_net(outputs: Sequence[float], input_size: int = 784, name: str = "const") -> Net:
    """A network whose output is ``outputs`` for every input (zero weights, linear activation)."""
    w = np.zeros((len(outputs), input_size), dtype=np.float32)
    b = np.asarray(outputs, dtype=np.float32)
    return Net([(w, b, mw.ACTIVATION_LINEAR)], labels=[str(i) for i in range(len(outputs))], name=name)


def random_inputs(count: int, size: int = 784, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).random((count, size), dtype=np.float32)


def vote(member_outputs: np.ndarray, rule: str) -> Tuple[np.ndarray, np.ndarray]:
    """Reference voting over (N, members, classes): (labels, combined outputs), per nnrt.proto."""
    n, members, classes = member_outputs.shape
    if rule == "mean-probability":
        mean = member_outputs.mean(axis=1)
        return mean.argmax(axis=1), mean
    votes = np.zeros((n, classes))
    member_labels = member_outputs.argmax(axis=2)
    for m in range(members):
        votes[np.arange(n), member_labels[:, m]] += 1
    sums = member_outputs.astype(np.float64).sum(axis=1)
    labels = np.empty(n, dtype=np.int64)
    for i in range(n):
        tied = np.flatnonzero(votes[i] == votes[i].max())
        labels[i] = tied[np.argmax(sums[i, tied])]  # argmax takes the first (smallest index)
    return labels, votes / members


# --- Convolutional networks (format version 2) --------------------------------------------------

@dataclass
class ConvNet:
    """conv2d -> max_pool2d -> dense layers, as nnrt.proto defines them:

    - ``conv``: (W [M, C, KH, KW], b [M], activation), valid convolution with stride 1;
    - ``pool``: ((PH, PW), activation), max over non-overlapping windows (remainders ignored);
    - ``dense``: (W [out, in], b [out], activation, dropout), z = W ((1 - dropout) x) + b.
    """

    input_shape: Tuple[int, int, int]
    conv: Tuple[np.ndarray, np.ndarray, int]
    pool: Tuple[Tuple[int, int], int]
    dense: List[Tuple[np.ndarray, np.ndarray, int, float]]
    labels: List[str] = field(default_factory=lambda: list(mw.DIGITS))
    name: str = "convnet"

    @property
    def input_size(self) -> int:
        return int(np.prod(self.input_shape))

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Outputs for x (N, C*H*W), in float64, by direct loops over the kernel offsets."""
        c, h, w = self.input_shape
        a = np.asarray(x, dtype=np.float64).reshape(-1, c, h, w)
        weights, bias, activation = self.conv
        maps, _, kh, kw = weights.shape
        oh, ow = h - kh + 1, w - kw + 1
        z = np.zeros((a.shape[0], maps, oh, ow)) + bias.astype(np.float64)[None, :, None, None]
        w64 = weights.astype(np.float64)
        for i in range(kh):
            for j in range(kw):
                # z[n, m, y, x] += sum_c W[m, c, i, j] * a[n, c, y + i, x + j]
                z += np.einsum("mc,ncyx->nmyx", w64[:, :, i, j], a[:, :, i:i + oh, j:j + ow])
        a = ACTIVATIONS[activation](z)
        (ph, pw), activation = self.pool
        qh, qw = oh // ph, ow // pw
        windows = a[:, :, :qh * ph, :qw * pw].reshape(a.shape[0], maps, qh, ph, qw, pw)
        a = ACTIVATIONS[activation](windows.max(axis=(3, 5))).reshape(a.shape[0], -1)
        for weights, bias, activation, dropout in self.dense:
            z = (1.0 - dropout) * (a @ weights.astype(np.float64).T) + bias.astype(np.float64)
            a = ACTIVATIONS[activation](z)
        return a

    def message(self) -> bytes:
        """The Network message (conv, pool, then dense layers)."""
        c, h, w = self.input_shape
        weights, bias, activation = self.conv
        maps, _, kh, kw = weights.shape
        conv_out = (maps, h - kh + 1, w - kw + 1)
        (ph, pw), pool_activation = self.pool
        pooled = [maps, conv_out[1] // ph, conv_out[2] // pw]
        layers = [
            mw.conv_layer("conv1", self.input_shape, weights, bias, activation),
            mw.pool_layer("pool1", conv_out, (ph, pw), pool_activation),
        ]
        for i, (dw, db, dact, dropout) in enumerate(self.dense):
            layers.append(mw.dense_layer(f"fc{i + 1}", dw, db, dact, dropout=dropout,
                                         input_shape=pooled if i == 0 else None))
        return mw.network(self.name, layers, self.labels,
                          mw.input_contract(self.input_shape, 1.0 / 255.0, 0.0, mw.POLARITY_LIGHT_ON_DARK),
                          cost=mw.COST_LOG_LIKELIHOOD)

    def file(self, **kwargs: Any) -> bytes:
        """A whole model file (format version 2 unless ``format_version`` says otherwise)."""
        kwargs.setdefault("format_version", 2)
        return mw.model_file(network_body=self.message(), **kwargs)


def random_conv_net(input_shape: Tuple[int, int, int] = (1, 28, 28), maps: int = 4,
                    kernel: Tuple[int, int] = (5, 5), pool: Tuple[int, int] = (2, 2),
                    hidden: int = 20, classes: int = 10, dropout: float = 0.5,
                    activations: Sequence[int] = (mw.ACTIVATION_LINEAR, mw.ACTIVATION_RELU,
                                                  mw.ACTIVATION_RELU, mw.ACTIVATION_SOFTMAX),
                    seed: int = 0, name: str = "convnet") -> ConvNet:
    """network3's ConvPoolLayer + FullyConnectedLayer (with dropout) + SoftmaxLayer, random."""
    rng = np.random.default_rng(seed)
    c, h, w = input_shape
    conv_w = (rng.standard_normal((maps, c, *kernel)) / np.sqrt(c * kernel[0] * kernel[1])).astype(np.float32)
    conv_b = rng.standard_normal(maps).astype(np.float32)
    flat = maps * ((h - kernel[0] + 1) // pool[0]) * ((w - kernel[1] + 1) // pool[1])
    fc1 = ((rng.standard_normal((hidden, flat)) / np.sqrt(flat)).astype(np.float32),
           rng.standard_normal(hidden).astype(np.float32), activations[2], dropout)
    out = ((rng.standard_normal((classes, hidden)) / np.sqrt(hidden)).astype(np.float32),
           rng.standard_normal(classes).astype(np.float32), activations[3], dropout)
    return ConvNet(input_shape, (conv_w, conv_b, activations[0]), (pool, activations[1]), [fc1, out],
                   labels=[str(i) for i in range(classes)], name=name)
