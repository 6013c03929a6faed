"""Convolutional networks (format version 2) written with the pure-Python writer, against the
numpy reference: conv2d, max_pool2d, dense dropout scaling, every activation, layer descriptions."""

import numpy as np
import pytest

import modelwriter as mw
from support import random_conv_net, random_inputs, random_net, require_nnrt

nnrt = require_nnrt()


@pytest.fixture(scope="module")
def conv():
    net = random_conv_net(seed=3)
    with nnrt.Model(net.file()) as model:
        yield net, model


def test_conv_matches_reference_across_blocks(conv):
    net, model = conv
    assert model.format_version == 2
    assert model.input_shape == (1, 28, 28) and model.input_size == 784
    x = random_inputs(300, 784, seed=4)          # more than one block of 256
    got = model.predict_proba(x)
    want = net.forward(x)
    assert np.abs(got - want).max() <= 1e-5
    labels = model.predict(x)
    best = want.argmax(axis=1)
    near = np.abs(want[np.arange(300), labels] - want[np.arange(300), best]) < 1e-5
    assert ((labels == best) | near).all()
    # (N, 1, 28, 28) and uint8 pixels work as for dense networks.
    assert (model.predict(x.reshape(300, 1, 28, 28)) == labels).all()
    pixels = (x * 255).astype(np.uint8)
    assert np.abs(model.predict_proba(pixels) - net.forward(pixels.astype(np.float32) * np.float32(1 / 255))).max() <= 1e-5


@pytest.mark.parametrize("activation", [mw.ACTIVATION_SIGMOID, mw.ACTIVATION_TANH, mw.ACTIVATION_RELU,
                                        mw.ACTIVATION_LINEAR, mw.ACTIVATION_SOFTMAX])
def test_every_activation(activation):
    elementwise = mw.ACTIVATION_SIGMOID if activation == mw.ACTIVATION_SOFTMAX else activation
    net = random_conv_net((3, 9, 11), maps=2, kernel=(2, 3), pool=(3, 2), hidden=6, classes=4, dropout=0.25,
                          activations=(elementwise, elementwise, elementwise, activation), seed=activation)
    x = random_inputs(40, net.input_size, seed=activation)
    with nnrt.Model(net.file()) as model:
        assert np.abs(model.predict_proba(x) - net.forward(x)).max() <= 1e-5


def test_dropout_scaling_comes_from_the_file():
    # A dense network with dropout 0.75 computes what the same weights compute on x / 4.
    plain = random_net((12, 5, 3), seed=2, activations=[mw.ACTIVATION_RELU, mw.ACTIVATION_SOFTMAX],
                       contract=((1, 3, 4), 1 / 255, 0.0, mw.POLARITY_LIGHT_ON_DARK), labels=["a", "b", "c"])
    layers = [mw.dense_layer(f"fc{i + 1}", w, b, act, dropout=0.75 if i == 0 else 0.0)
              for i, (w, b, act) in enumerate(plain.layers)]
    body = mw.network("drop", layers, plain.labels, mw.input_contract((1, 3, 4)))
    x = random_inputs(20, 12, seed=5)
    with nnrt.Model(mw.model_file(network_body=body, format_version=2)) as dropped, nnrt.Model(plain.file()) as base:
        assert dropped.format_version == 2
        assert np.array_equal(dropped.predict_proba(x), base.predict_proba(x * np.float32(0.25)))
        # A version-1 file may not use dropout.
        with pytest.raises(nnrt.BadModelError, match="needs format version 2"):
            nnrt.Model(mw.model_file(network_body=body, format_version=1))


def test_layers(conv):
    net, model = conv
    layers = model.layers()
    assert [layer.kind for layer in layers] == ["conv2d", "max_pool2d", "dense", "dense"]
    assert [layer.activation for layer in layers] == ["linear", "relu", "relu", "softmax"]
    assert [layer.name for layer in layers] == ["conv1", "pool1", "fc1", "fc2"]
    assert layers[0].summary == "conv2d 'conv1' [1,28,28] -> [4,24,24], 5x5 kernels, linear"
    assert layers[1].summary == "max_pool2d 'pool1' [4,24,24] -> [4,12,12], 2x2 max-pooling, relu"
    assert layers[2].summary == "dense 'fc1' [4,12,12] -> [20], relu, dropout 0.5 (inputs scaled by 0.5)"
    assert isinstance(layers[0], nnrt.LayerInfo) and layers[0] == layers[0]._replace()
    with pytest.raises(nnrt.NotFoundError, match="member 1"):
        model.layers(1)
    with pytest.raises(nnrt.InvalidArgumentError):
        model.layers(-1)


def test_layers_of_ensembles_and_dense_models():
    a, b = random_conv_net(seed=1, name="a"), random_conv_net(seed=2, name="b", hidden=7)
    with nnrt.Model(a.file()) as ma, nnrt.Model(b.file()) as mb:
        with nnrt.Ensemble([ma, mb], voting="majority") as e:
            assert [len(e.layers(i)) for i in range(2)] == [4, 4]
            assert e.layers(1)[3].summary == "dense 'fc2' [7] -> [10], softmax, dropout 0.5 (inputs scaled by 0.5)"
            x = random_inputs(30, 784, seed=2)
            member_labels, member_outputs = e.predict_members(x)
            assert np.abs(member_outputs[:, 0] - a.forward(x)).max() <= 1e-5
            assert np.abs(member_outputs[:, 1] - b.forward(x)).max() <= 1e-5
    with nnrt.Model(random_net((784, 30, 10), seed=1).file()) as dense:
        assert dense.layers() == [
            nnrt.LayerInfo("dense", "sigmoid", "fc1", "dense 'fc1' [784] -> [30], sigmoid"),
            nnrt.LayerInfo("dense", "sigmoid", "fc2", "dense 'fc2' [30] -> [10], sigmoid"),
        ]


def test_bad_conv_files():
    net = random_conv_net((2, 6, 5), maps=3, kernel=(3, 2), pool=(2, 2), hidden=5, classes=3, seed=9)
    with pytest.raises(nnrt.BadModelError, match="layer 1 'conv1': a conv2d layer needs format version 2"):
        nnrt.Model(net.file(format_version=1))
    weights, bias, activation = net.conv
    body = mw.network("bad", [mw.conv_layer("conv1", (2, 6, 5), weights, bias, mw.ACTIVATION_SOFTMAX)],
                      ["0"] * 36, mw.input_contract((2, 6, 5)))
    with pytest.raises(nnrt.BadModelError, match="softmax is not allowed on a conv2d layer"):
        nnrt.Model(mw.model_file(network_body=body, format_version=2))
    body = mw.network("bad", [mw.pool_layer("p", (2, 6, 5), (7, 1))], ["0"] * 0, mw.input_contract((2, 6, 5)))
    with pytest.raises(nnrt.BadModelError, match="pool shape must be"):
        nnrt.Model(mw.model_file(network_body=body, format_version=2))
