"""The benchmark's three networks, their random weights, MNIST, and their export to every engine.

One set of weights (numpy, fixed seed) per network is written as an nnrt model file (with the
project's pure-Python writer, Bindings/python/tests/modelwriter.py), as an ONNX model (opset 17)
and as a TFLite flatbuffer (built with the schema that ai-edge-litert ships), and loaded into
PyTorch modules by engines.py. Layouts:

- dense weights (out, in) row-major in nnrt, ONNX (Gemm transB=1), PyTorch and TFLite alike;
- conv weights (maps, channels, kh, kw) in nnrt, ONNX and PyTorch (cross-correlation, no flip);
  TFLite wants (maps, kh, kw, channels) and NHWC activations, so its first dense layer after the
  convolutions gets its 640 input columns permuted from (c, h, w) to (h, w, c) order.
"""

from __future__ import annotations

import gzip
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Dict, List, Tuple, Union

import numpy as np

REPO = Path(__file__).resolve().parents[2]
SEED = 20261129


@dataclass
class Net:
    """One benchmark network: ``params`` holds every weight as float32, keyed by layer name."""

    key: str                       # "mlp30", "mlp100", "conv"
    title: str                     # "MLP 784-30-10"
    kind: str                      # "mlp" or "conv"
    macs: int                      # multiply-accumulates per image
    params: Dict[str, np.ndarray] = field(default_factory=dict)

    def input_shape(self, batch: int) -> Tuple[int, ...]:
        """The input shape ONNX and PyTorch take: (N, 784) for MLPs, (N, 1, 28, 28) for conv."""
        return (batch, 784) if self.kind == "mlp" else (batch, 1, 28, 28)


def _scaled_normal(rng: np.random.Generator, shape: Tuple[int, ...], fan_in: int) -> np.ndarray:
    return (rng.standard_normal(shape) / np.sqrt(fan_in)).astype(np.float32)


def make_nets(seed: int = SEED) -> List[Net]:
    """The three networks with N(0, 1/fan_in) weights and N(0, 1) biases, from one seed."""
    rng = np.random.default_rng(seed)
    nets = []
    for hidden in (30, 100):
        net = Net(f"mlp{hidden}", f"MLP 784-{hidden}-10", "mlp", 784 * hidden + hidden * 10)
        for name, (n_out, n_in) in (("fc1", (hidden, 784)), ("fc2", (10, hidden))):
            net.params[f"{name}.w"] = _scaled_normal(rng, (n_out, n_in), n_in)
            net.params[f"{name}.b"] = rng.standard_normal(n_out).astype(np.float32)
        nets.append(net)
    conv_macs = 20 * 25 * 24 * 24 + 40 * 20 * 25 * 8 * 8 + 640 * 100 + 100 * 10
    conv = Net("conv", "conv net", "conv", conv_macs)
    for name, shape in (("conv1", (20, 1, 5, 5)), ("conv2", (40, 20, 5, 5))):
        conv.params[f"{name}.w"] = _scaled_normal(rng, shape, int(np.prod(shape[1:])))
        conv.params[f"{name}.b"] = (0.1 * rng.standard_normal(shape[0])).astype(np.float32)
    for name, (n_out, n_in) in (("fc1", (100, 640)), ("fc2", (10, 100))):
        conv.params[f"{name}.w"] = _scaled_normal(rng, (n_out, n_in), n_in)
        conv.params[f"{name}.b"] = (0.1 * rng.standard_normal(n_out)).astype(np.float32)
    nets.append(conv)
    return nets


# --- MNIST ---------------------------------------------------------------------------------------

def _idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:  # type: ignore[operator]
        data = f.read()
    dims = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def _find(directory: Path, stem: str) -> Path:
    for name in (f"{stem}.gz", stem):
        if (directory / name).exists():
            return directory / name
    raise FileNotFoundError(f"{stem}[.gz] not in {directory} (set MNIST_DIR or --mnist)")


def load_mnist(directory: Path, split: str) -> Tuple[np.ndarray, np.ndarray]:
    """``split`` "test" (10,000 images) or "train" (the book's first 50,000): float32 (N, 784)
    pixels scaled to 0..1 and uint8 labels."""
    stem = "t10k" if split == "test" else "train"
    images = _idx(_find(directory, f"{stem}-images-idx3-ubyte"))
    labels = _idx(_find(directory, f"{stem}-labels-idx1-ubyte"))
    if split == "train":
        images, labels = images[:50000], labels[:50000]
    x = images.reshape(len(images), 784).astype(np.float32) * np.float32(1 / 255)
    return np.ascontiguousarray(x), labels


# --- nnrt ----------------------------------------------------------------------------------------

def _modelwriter() -> ModuleType:
    path = REPO / "Bindings" / "python" / "tests" / "modelwriter.py"
    spec = importlib.util.spec_from_file_location("nnrt_bench_modelwriter", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_nnrt(net: Net, path: Path) -> None:
    mw = _modelwriter()
    p = net.params
    if net.kind == "mlp":
        layers = [
            mw.dense_layer("fc1", p["fc1.w"], p["fc1.b"], mw.ACTIVATION_SIGMOID),
            mw.dense_layer("fc2", p["fc2.w"], p["fc2.b"], mw.ACTIVATION_SIGMOID),
        ]
        version = 1
    else:   # network3's ConvPoolLayer as nnrt stores it: linear conv, then pool with the ReLU
        layers = [
            mw.conv_layer("conv1", (1, 28, 28), p["conv1.w"], p["conv1.b"], mw.ACTIVATION_LINEAR),
            mw.pool_layer("pool1", (20, 24, 24), (2, 2), mw.ACTIVATION_RELU),
            mw.conv_layer("conv2", (20, 12, 12), p["conv2.w"], p["conv2.b"], mw.ACTIVATION_LINEAR),
            mw.pool_layer("pool2", (40, 8, 8), (2, 2), mw.ACTIVATION_RELU),
            mw.dense_layer("fc1", p["fc1.w"], p["fc1.b"], mw.ACTIVATION_RELU, input_shape=(40, 4, 4)),
            mw.dense_layer("fc2", p["fc2.w"], p["fc2.b"], mw.ACTIVATION_SOFTMAX),
        ]
        version = 2
    body = mw.network(net.key, layers, mw.DIGITS)
    path.write_bytes(mw.model_file(network_body=body, format_version=version,
                                   producer=("nnrt-bench-peers", "1")))


# --- ONNX ----------------------------------------------------------------------------------------

ONNX_OPSET = 17


def write_onnx(net: Net, path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    p = net.params
    inits = [numpy_helper.from_array(v, name) for name, v in p.items()]
    nodes = []

    def gemm(x: str, layer: str, out: str) -> None:
        nodes.append(helper.make_node("Gemm", [x, f"{layer}.w", f"{layer}.b"], [out], transB=1))

    if net.kind == "mlp":
        gemm("x", "fc1", "z1")
        nodes.append(helper.make_node("Sigmoid", ["z1"], ["a1"]))
        gemm("a1", "fc2", "z2")
        nodes.append(helper.make_node("Sigmoid", ["z2"], ["y"]))
    else:
        x = "x"
        for layer in ("conv1", "conv2"):
            nodes += [
                helper.make_node("Conv", [x, f"{layer}.w", f"{layer}.b"], [f"{layer}.c"]),
                helper.make_node("MaxPool", [f"{layer}.c"], [f"{layer}.p"], kernel_shape=[2, 2],
                                 strides=[2, 2]),
                helper.make_node("Relu", [f"{layer}.p"], [f"{layer}.a"]),
            ]
            x = f"{layer}.a"
        nodes.append(helper.make_node("Flatten", [x], ["flat"], axis=1))
        gemm("flat", "fc1", "z3")
        nodes.append(helper.make_node("Relu", ["z3"], ["a3"]))
        gemm("a3", "fc2", "z4")
        nodes.append(helper.make_node("Softmax", ["z4"], ["y"], axis=1))
    in_shape: List[Union[str, int]] = ["N", *net.input_shape(1)[1:]]
    graph = helper.make_graph(
        nodes, net.key,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", ONNX_OPSET)],
                              producer_name="nnrt-bench-peers")
    model.ir_version = 8   # readable by any onnxruntime from 1.10 on
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


# --- TFLite --------------------------------------------------------------------------------------

def write_tflite(net: Net, path: Path) -> None:
    """A float32 TFLite model built op by op with the flatbuffer schema (see README: no converter
    from ONNX or PyTorch to TFLite works offline here). The batch dimension is dynamic (-1 in the
    shape signature); the interpreter is resized to the batch before use."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as fb

    buffers = [fb.BufferT()]          # buffer 0: the empty sentinel
    tensors: List["fb.TensorT"] = []
    operators: List["fb.OperatorT"] = []
    opcodes: List[int] = []

    def tensor(name: str, shape: Tuple[int, ...], data: "np.ndarray | None" = None) -> int:
        t = fb.TensorT()
        t.name, t.type = name, fb.TensorType.FLOAT32
        t.shape = list(shape)
        if data is None:
            t.shapeSignature = [-1, *shape[1:]]
        else:
            buffer = fb.BufferT()
            buffer.data = np.ascontiguousarray(data, dtype=np.float32).view(np.uint8).ravel()
            buffers.append(buffer)
            t.buffer = len(buffers) - 1
        tensors.append(t)
        return len(tensors) - 1

    def op(code: int, inputs: List[int], outputs: List[int], options_type: int = 0,
           options: object = None) -> None:
        if code not in opcodes:
            opcodes.append(code)
        o = fb.OperatorT()
        o.opcodeIndex, o.inputs, o.outputs = opcodes.index(code), inputs, outputs
        o.builtinOptionsType, o.builtinOptions = options_type, options
        operators.append(o)

    def dense(x: int, w: np.ndarray, b: np.ndarray, name: str, relu: bool = False) -> int:
        out = tensor(name, (1, w.shape[0]))
        options = fb.FullyConnectedOptionsT()
        options.fusedActivationFunction = (fb.ActivationFunctionType.RELU if relu
                                           else fb.ActivationFunctionType.NONE)
        op(fb.BuiltinOperator.FULLY_CONNECTED,
           [x, tensor(f"{name}.w", w.shape, w), tensor(f"{name}.b", b.shape, b)], [out],
           fb.BuiltinOptions.FullyConnectedOptions, options)
        return out

    p = net.params
    if net.kind == "mlp":
        x = tensor("x", (1, 784))
        h = dense(x, p["fc1.w"], p["fc1.b"], "fc1")
        a = tensor("a1", (1, p["fc1.w"].shape[0]))
        op(fb.BuiltinOperator.LOGISTIC, [h], [a])
        z = dense(a, p["fc2.w"], p["fc2.b"], "fc2")
        y = tensor("y", (1, 10))
        op(fb.BuiltinOperator.LOGISTIC, [z], [y])
    else:
        x = tensor("x", (1, 28, 28, 1))
        a, side, channels = x, 28, 1
        for layer, maps in (("conv1", 20), ("conv2", 40)):
            side -= 4
            c = tensor(f"{layer}.c", (1, side, side, maps))
            conv = fb.Conv2DOptionsT()
            conv.padding, conv.strideW, conv.strideH = fb.Padding.VALID, 1, 1
            conv.dilationWFactor, conv.dilationHFactor = 1, 1
            w = p[f"{layer}.w"].transpose(0, 2, 3, 1)          # OIHW -> OHWI
            op(fb.BuiltinOperator.CONV_2D,
               [a, tensor(f"{layer}.w", w.shape, w), tensor(f"{layer}.b", (maps,), p[f"{layer}.b"])],
               [c], fb.BuiltinOptions.Conv2DOptions, conv)
            side //= 2
            a = tensor(f"{layer}.a", (1, side, side, maps))
            pool = fb.Pool2DOptionsT()
            pool.padding, pool.strideW, pool.strideH = fb.Padding.VALID, 2, 2
            pool.filterWidth, pool.filterHeight = 2, 2
            pool.fusedActivationFunction = fb.ActivationFunctionType.RELU
            op(fb.BuiltinOperator.MAX_POOL_2D, [c], [a], fb.BuiltinOptions.Pool2DOptions, pool)
            channels = maps
        # nnrt flattens (c, h, w); the NHWC tensor flattens (h, w, c): permute fc1's columns.
        w1 = p["fc1.w"].reshape(100, channels, side, side).transpose(0, 2, 3, 1).reshape(100, -1)
        h = dense(a, w1, p["fc1.b"], "fc1", relu=True)
        z = dense(h, p["fc2.w"], p["fc2.b"], "fc2")
        y = tensor("y", (1, 10))
        softmax = fb.SoftmaxOptionsT()
        softmax.beta = 1.0
        op(fb.BuiltinOperator.SOFTMAX, [z], [y], fb.BuiltinOptions.SoftmaxOptions, softmax)

    subgraph = fb.SubGraphT()
    subgraph.tensors, subgraph.operators = tensors, operators
    subgraph.inputs, subgraph.outputs, subgraph.name = [x], [y], "main"
    model = fb.ModelT()
    model.version, model.description = 3, "nnrt-bench-peers"
    model.buffers, model.subgraphs = buffers, [subgraph]
    model.operatorCodes = []
    for code in opcodes:
        oc = fb.OperatorCodeT()
        oc.builtinCode, oc.deprecatedBuiltinCode, oc.version = code, min(code, 127), 1
        model.operatorCodes.append(oc)
    builder = flatbuffers.Builder(1 << 20)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    path.write_bytes(bytes(builder.Output()))
