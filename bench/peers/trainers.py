"""Mini-batch SGD for the peers: PyTorch and a plain numpy implementation (matrix form).

Both train from the benchmark's random weights (nets.py) with the hyper-parameters of
``TRAINING`` (the same as the nnrt CLI runs in run.py), over shuffled mini-batches of 10 taken
from arrays already in memory, and time only the SGD loop.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Dict

import numpy as np

TRAIN_IMAGES = 50000
MINI_BATCH = 10


@dataclass(frozen=True)
class Hyper:
    cost: str        # "quadratic", "cross-entropy" (sigmoid outputs) or "log-likelihood" (softmax)
    eta: float
    lam: float       # L2, network2's convention: each step scales weights by (1 - eta*lam/n)


TRAINING: Dict[str, Hyper] = {
    "mlp30": Hyper("quadratic", 3.0, 0.0),
    "mlp100": Hyper("cross-entropy", 0.5, 5.0),
    # network3's lmbda 0.1 over 5,000 mini-batches is network2's lambda 1.0 over 50,000 images.
    "conv": Hyper("log-likelihood", 0.03, 1.0),
}


def torch_trainer(key: str, params: Dict[str, np.ndarray], x: np.ndarray,
                  labels: np.ndarray) -> Callable[[int, int], float]:
    """A function ``epoch(images, seed) -> seconds`` that trains a PyTorch copy of the network on
    ``images`` shuffled training images in mini-batches of 10."""
    import torch
    from torch import nn

    hyper = TRAINING[key]
    model = build_torch(key, params, softmax=False)
    decay = [p for name, p in model.named_parameters() if name.endswith("weight")]
    plain = [p for name, p in model.named_parameters() if not name.endswith("weight")]
    optimizer = torch.optim.SGD([
        {"params": decay, "weight_decay": hyper.lam / TRAIN_IMAGES},
        {"params": plain, "weight_decay": 0.0},
    ], lr=hyper.eta)
    inputs = torch.from_numpy(x if key != "conv" else x.reshape(-1, 1, 28, 28))
    targets = torch.from_numpy(labels.astype(np.int64))
    onehot = nn.functional.one_hot(targets, 10).float()

    if hyper.cost == "quadratic":   # C = 1/2 |a - y|^2 per example, averaged over the batch
        def loss_of(out: "torch.Tensor", idx: "torch.Tensor") -> "torch.Tensor":
            return 0.5 * (out - onehot[idx]).pow(2).sum(dim=1).mean()
    elif hyper.cost == "cross-entropy":
        bce = nn.BCELoss(reduction="sum")

        def loss_of(out: "torch.Tensor", idx: "torch.Tensor") -> "torch.Tensor":
            return bce(out, onehot[idx]) / out.shape[0]
    else:   # softmax + log-likelihood, fused as log-softmax + NLL on the logits
        ce = nn.CrossEntropyLoss()

        def loss_of(out: "torch.Tensor", idx: "torch.Tensor") -> "torch.Tensor":
            return ce(out, targets[idx])

    def epoch(images: int, seed: int) -> float:
        generator = torch.Generator().manual_seed(seed)
        order = torch.randperm(len(inputs), generator=generator)[:images]
        start = time.perf_counter()
        for k in range(0, images, MINI_BATCH):
            idx = order[k:k + MINI_BATCH]
            optimizer.zero_grad(set_to_none=True)
            loss_of(model(inputs[idx]), idx).backward()
            optimizer.step()
        return time.perf_counter() - start

    return epoch


def build_torch(key: str, params: Dict[str, np.ndarray], softmax: bool = True) -> Any:
    """The network as a torch.nn.Sequential holding copies of ``params``. The conv net ends in
    Softmax when ``softmax`` (inference), in its logits otherwise (training's fused loss)."""
    import torch
    from torch import nn

    if key.startswith("mlp"):
        hidden = params["fc1.w"].shape[0]
        layers = [nn.Linear(784, hidden), nn.Sigmoid(), nn.Linear(hidden, 10), nn.Sigmoid()]
        linear: Dict[str, Any] = {"fc1": layers[0], "fc2": layers[2]}
        convs: Dict[str, Any] = {}
    else:
        layers = [nn.Conv2d(1, 20, 5), nn.MaxPool2d(2), nn.ReLU(),
                  nn.Conv2d(20, 40, 5), nn.MaxPool2d(2), nn.ReLU(),
                  nn.Flatten(), nn.Linear(640, 100), nn.ReLU(), nn.Linear(100, 10)]
        if softmax:
            layers.append(nn.Softmax(dim=1))
        linear = {"fc1": layers[7], "fc2": layers[9]}
        convs = {"conv1": layers[0], "conv2": layers[3]}
    with torch.no_grad():
        for name, module in {**linear, **convs}.items():
            module.weight.copy_(torch.from_numpy(params[f"{name}.w"]))
            module.bias.copy_(torch.from_numpy(params[f"{name}.b"]))
    return nn.Sequential(*layers)


def numpy_trainer(key: str, params: Dict[str, np.ndarray], x: np.ndarray,
                  labels: np.ndarray) -> Callable[[int, int], float]:
    """``epoch(images, seed) -> seconds`` for the two sigmoid MLPs: backpropagation in matrix
    form over each mini-batch (one matrix product per layer and direction), float32."""
    hyper = TRAINING[key]
    if not key.startswith("mlp"):
        raise ValueError("the numpy trainer covers the MLPs only")
    w1, b1 = params["fc1.w"].copy(), params["fc1.b"].copy()
    w2, b2 = params["fc2.w"].copy(), params["fc2.b"].copy()
    onehot = np.eye(10, dtype=np.float32)[labels]
    decay = np.float32(1.0 - hyper.eta * hyper.lam / TRAIN_IMAGES)

    def sigmoid(z: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            return 1.0 / (1.0 + np.exp(-z))

    def epoch(images: int, seed: int) -> float:
        nonlocal w1, b1, w2, b2   # updated in place
        order = np.random.default_rng(seed).permutation(len(x))[:images]
        start = time.perf_counter()
        for k in range(0, images, MINI_BATCH):
            idx = order[k:k + MINI_BATCH]
            xb, yb = x[idx], onehot[idx]                      # (m, 784), (m, 10)
            a1 = sigmoid(xb @ w1.T + b1)                      # (m, hidden)
            a2 = sigmoid(a1 @ w2.T + b2)                      # (m, 10)
            delta2 = a2 - yb                                  # cross-entropy: dC/dz2
            if hyper.cost == "quadratic":
                delta2 *= a2 * (1 - a2)
            delta1 = (delta2 @ w2) * (a1 * (1 - a1))          # (m, hidden)
            step = np.float32(hyper.eta / len(idx))
            if decay != 1:
                w2 *= decay
                w1 *= decay
            w2 -= step * (delta2.T @ a1)
            b2 -= step * delta2.sum(axis=0)
            w1 -= step * (delta1.T @ xb)
            b1 -= step * delta1.sum(axis=0)
        return time.perf_counter() - start

    return epoch
