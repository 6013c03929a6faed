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
