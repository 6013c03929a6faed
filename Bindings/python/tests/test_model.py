"""Model: loading, introspection, predictions against a numpy reference, input forms, errors."""

import ctypes
import gc
import os
import pathlib

import numpy as np
import pytest

import modelwriter as mw
from support import Net, random_inputs, random_net, require_nnrt

nnrt = require_nnrt()


@pytest.fixture(scope="module")
def net() -> Net:
    return random_net((784, 30, 10), seed=42, name="mnist-test")


@pytest.fixture(scope="module")
def model_bytes(net: Net) -> bytes:
    return net.file(metadata=[("description", "test net"), ("author", "tests"),
                              ("description", "duplicate")])


@pytest.fixture()
def model(model_bytes):
    with nnrt.Model(model_bytes) as m:
        yield m


# --- Library-level ------------------------------------------------------------------------------

def test_versions():
    assert nnrt.version() == "0.3.0" == nnrt.__version__
    assert nnrt.abi_version() == nnrt.ABI_VERSION == 1
    assert nnrt.kernel_build() in ("generic", "avx2-fma")
    if os.environ.get("NNRT_KERNELS") == "generic":
        assert nnrt.kernel_build() == "generic"
    oldest, newest = nnrt.supported_format_versions()
    assert (oldest, newest) == (1, 2)


def test_every_header_function_is_mapped():
    import re
    from nnrt import _capi
    from support import REPO_ROOT

    header = REPO_ROOT / "Include" / "nnrt.h"
    if not header.is_file():
        pytest.skip("not running from a source checkout")
    declared = set(re.findall(r"\b(nnrt_\w+)\s*\(", header.read_text()))
    assert declared == set(_capi.FUNCTIONS)


def test_missing_library_lists_what_was_tried(monkeypatch, tmp_path):
    from nnrt import _loader

    missing = str(tmp_path / "libnnrt.so")
    monkeypatch.setenv("NNRT_LIBRARY", missing)
    with pytest.raises(nnrt.LibraryLoadError) as info:
        _loader.load_library()
    assert isinstance(info.value, ImportError)
    assert missing in str(info.value) and info.value.tried == [(missing, "no such file")]


# --- Loading and introspection ------------------------------------------------------------------

def test_introspection(model, net):
    assert model.input_size == 784
    assert model.input_shape == (1, 28, 28)
    assert model.class_count == 10
    assert model.labels == [str(d) for d in range(10)]
    assert model.member_count == 1
    assert model.voting == "mean-probability"
    assert model.format_version == 1
    assert model.producer == ("nnrt-tests", "0.1.0")
    assert model.producer.name == "nnrt-tests"
    assert model.name == "mnist-test"
    assert model.metadata == {"description": "test net", "author": "tests"}
    contract = model.input_contract
    assert contract.scale == pytest.approx(1 / 255)
    assert contract.offset == 0.0
    assert contract.polarity == "light-on-dark"
    assert "mnist-test" in repr(model) and "(1, 28, 28)" in repr(model)


@pytest.mark.parametrize("kind", ["bytes", "bytearray", "memoryview", "str", "path"])
def test_load_from_every_source(kind, model_bytes, tmp_path, net):
    path = tmp_path / "m.nnrt"
    path.write_bytes(model_bytes)
    source = {
        "bytes": model_bytes,
        "bytearray": bytearray(model_bytes),
        "memoryview": memoryview(model_bytes),
        "str": str(path),
        "path": path,
    }[kind]
    x = random_inputs(5)
    with nnrt.Model(source) as model:
        np.testing.assert_allclose(model.predict_proba(x), net.forward(x), atol=1e-5)


def test_load_rejects_other_types():
    with pytest.raises(TypeError):
        nnrt.Model(42)


# --- Predictions --------------------------------------------------------------------------------

def test_predict_proba_matches_reference(model, net):
    x = random_inputs(257)
    proba = model.predict_proba(x)
    assert proba.dtype == np.float32 and proba.shape == (257, 10)
    np.testing.assert_allclose(proba, net.forward(x), atol=1e-5)


def test_predict_matches_argmax(model, net):
    x = random_inputs(300, seed=3)
    labels = model.predict(x)
    assert labels.shape == (300,) and labels.dtype.kind == "i"
    np.testing.assert_array_equal(labels, net.forward(x).argmax(axis=1))


@pytest.mark.parametrize("activation", [mw.ACTIVATION_SIGMOID, mw.ACTIVATION_TANH, mw.ACTIVATION_RELU,
                                        mw.ACTIVATION_LINEAR, mw.ACTIVATION_SOFTMAX])
def test_every_activation(activation):
    net = random_net((784, 16, 10), seed=activation, activations=[activation, activation])
    x = random_inputs(20, seed=activation)
    with nnrt.Model(net.file()) as model:
        np.testing.assert_allclose(model.predict_proba(x), net.forward(x), atol=1e-5, rtol=1e-5)


def test_deeper_network():
    net = random_net((784, 64, 32, 16, 10), seed=5,
                     activations=[mw.ACTIVATION_RELU, mw.ACTIVATION_TANH, mw.ACTIVATION_SIGMOID,
                                  mw.ACTIVATION_SOFTMAX])
    x = random_inputs(50)
    with nnrt.Model(net.file()) as model:
        np.testing.assert_allclose(model.predict_proba(x), net.forward(x), atol=1e-5)


def test_uint8_equals_float_over_255(model, net):
    pixels = np.random.default_rng(7).integers(0, 256, (100, 784), dtype=np.uint8)
    floats = pixels.astype(np.float32) / np.float32(255)
    np.testing.assert_allclose(model.predict_proba(pixels), model.predict_proba(floats), atol=1e-5)
    np.testing.assert_allclose(model.predict_proba(pixels), net.forward(floats), atol=1e-5)
    np.testing.assert_array_equal(model.predict(pixels), model.predict(floats))


def test_uint8_uses_the_input_contract():
    net = random_net((784, 10), seed=11, contract=((1, 28, 28), 1 / 128, -1.0, mw.POLARITY_DARK_ON_LIGHT))
    pixels = np.random.default_rng(8).integers(0, 256, (10, 784), dtype=np.uint8)
    with nnrt.Model(net.file()) as model:
        scale, offset, polarity = model.input_contract
        assert (scale, offset, polarity) == (pytest.approx(1 / 128), -1.0, "dark-on-light")
        expected = net.forward(pixels.astype(np.float64) / 128 - 1)
        np.testing.assert_allclose(model.predict_proba(pixels), expected, atol=1e-5)


def test_input_shapes(model, net):
    x = random_inputs(6, seed=9)
    expected = net.forward(x)
    images = x.reshape(6, 28, 28)
    np.testing.assert_allclose(model.predict_proba(images), expected, atol=1e-5)
    np.testing.assert_allclose(model.predict_proba(x.reshape(6, 1, 28, 28)), expected, atol=1e-5)
    # Single examples count as N = 1.
    for single in (x[0], images[0], x[0].reshape(1, 28, 28)):
        proba = model.predict_proba(single)
        assert proba.shape == (1, 10)
        np.testing.assert_allclose(proba[0], expected[0], atol=1e-5)
        assert model.predict(single).shape == (1,)


def test_sequences_and_other_dtypes(model, net):
    x = random_inputs(3, seed=10)
    expected = net.forward(x)
    np.testing.assert_allclose(model.predict_proba(x.tolist()), expected, atol=1e-5)
    np.testing.assert_allclose(model.predict_proba(x[0].tolist())[0], expected[0], atol=1e-5)
    np.testing.assert_allclose(model.predict_proba(x.astype(np.float64)), expected, atol=1e-5)
    np.testing.assert_allclose(model.predict_proba(tuple(map(tuple, x))), expected, atol=1e-5)


def test_empty_batch(model):
    assert model.predict(np.zeros((0, 784), np.float32)).shape == (0,)
    assert model.predict_proba(np.zeros((0, 784), np.uint8)).shape == (0, 10)


def test_wrong_input_shape(model):
    for bad in (np.zeros((2, 783), np.float32), np.zeros(10), np.zeros((3, 27, 28))):
        with pytest.raises(nnrt.ShapeMismatchError) as info:
            model.predict(bad)
        assert info.value.status == 5
    with pytest.raises(TypeError):
        model.predict(np.array(["a"] * 784))


def test_contiguous_float32_is_passed_without_copy(model, monkeypatch, net):
    from nnrt import _capi

    seen = []
    real = _capi.nnrt_model_predict

    def spy(handle, inputs, *rest):
        seen.append(ctypes.cast(inputs, ctypes.c_void_p).value)
        return real(handle, inputs, *rest)

    monkeypatch.setattr(_capi, "nnrt_model_predict", spy)
    x = random_inputs(8)
    model.predict(x)
    model.predict_proba(x.reshape(8, 28, 28))
    assert seen == [x.ctypes.data, x.ctypes.data]

    # A non-contiguous view is copied once, and still gives the right answer.
    wide = random_inputs(8, size=2 * 784, seed=4)
    strided = wide[:, ::2]
    assert not strided.flags.c_contiguous
    np.testing.assert_allclose(model.predict_proba(strided), net.forward(np.ascontiguousarray(strided)),
                               atol=1e-5)
    assert seen[-1] != wide.ctypes.data
    fortran = np.asfortranarray(random_inputs(8, seed=12))
    np.testing.assert_allclose(model.predict_proba(fortran), net.forward(fortran), atol=1e-5)


def test_contiguous_uint8_is_passed_without_copy(model, monkeypatch):
    from nnrt import _capi

    seen = []
    real = _capi.nnrt_model_predict_u8

    def spy(handle, inputs, *rest):
        seen.append(ctypes.cast(inputs, ctypes.c_void_p).value)
        return real(handle, inputs, *rest)

    monkeypatch.setattr(_capi, "nnrt_model_predict_u8", spy)
    pixels = np.zeros((4, 28, 28), np.uint8)
    model.predict(pixels)
    assert seen == [pixels.ctypes.data]


def test_predict_members_of_a_single_network(model, net):
    x = random_inputs(5)
    labels, outputs = model.predict_members(x)
    assert labels.shape == (5, 1) and outputs.shape == (5, 1, 10)
    np.testing.assert_allclose(outputs[:, 0], net.forward(x), atol=1e-5)
    np.testing.assert_array_equal(labels[:, 0], model.predict(x))
    # uint8 input is scaled by the contract.
    pixels = (x * 255).astype(np.uint8)
    _, u8_outputs = model.predict_members(pixels)
    np.testing.assert_allclose(u8_outputs[:, 0], model.predict_proba(pixels), atol=1e-6)


# --- Lifetime -----------------------------------------------------------------------------------

def test_close_is_idempotent_and_use_after_close_raises(model_bytes):
    model = nnrt.Model(model_bytes)
    assert not model.closed
    model.close()
    model.close()
    assert model.closed
    assert "closed" in repr(model)
    for use in (lambda: model.predict(random_inputs(1)), lambda: model.predict_proba(random_inputs(1)),
                lambda: model.predict_members(random_inputs(1)), lambda: model.labels,
                lambda: model.name, lambda: model.input_size, lambda: model.metadata):
        with pytest.raises(nnrt.ClosedModelError) as info:
            use()
        assert isinstance(info.value, nnrt.NNRTError) and info.value.status == 1
        assert "closed" in str(info.value)
    with pytest.raises(nnrt.ClosedModelError):
        with model:
            pass


def test_context_manager_closes(model_bytes):
    with nnrt.Model(model_bytes) as model:
        assert model.class_count == 10
    assert model.closed


def test_garbage_collection_frees(model_bytes):
    for _ in range(50):
        nnrt.Model(model_bytes)
    gc.collect()


# --- Errors from the library --------------------------------------------------------------------

def _status_of(source):
    with pytest.raises(nnrt.NNRTError) as info:
        nnrt.Model(source)
    error = info.value
    assert error.status_name and error.status_name != "unknown status"
    assert error.status_name in str(error)
    return error


def test_missing_file(tmp_path):
    error = _status_of(tmp_path / "nope.nnrt")
    assert error.status == 2 and isinstance(error, nnrt.NNRTIOError)


def test_corrupt_bytes():
    garbage = np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes()
    error = _status_of(garbage)
    assert error.status == 3 and isinstance(error, nnrt.BadModelError)


@pytest.mark.parametrize("fraction", [0.01, 0.25, 0.5, 0.9, 0.999])
def test_truncated(model_bytes, fraction, tmp_path):
    cut = model_bytes[: int(len(model_bytes) * fraction)]
    assert isinstance(_status_of(cut), nnrt.BadModelError)
    path = tmp_path / "cut.nnrt"
    path.write_bytes(cut)
    assert _status_of(path).status == 3


def test_empty(tmp_path):
    path = tmp_path / "empty.nnrt"
    path.write_bytes(b"")
    assert _status_of(path).status == 3
    assert _status_of(b"").status in (1, 3)


def test_wrong_version(net):
    error = _status_of(net.file(format_version=3))
    assert error.status == 4 and isinstance(error, nnrt.UnsupportedVersionError)
    assert error.message


def test_wrong_identifier(net):
    assert _status_of(net.file(identifier="not-a-model")).status == 3


# Include/nnrt.h: an inconsistent file is NNRT_ERR_BAD_MODEL ("not an nnrt model, corrupt, truncated,
# inconsistent"); SHAPE_MISMATCH is for input lengths and ensemble members, and is not among
# nnrt_model_load's errors.
def test_inconsistent_weights():
    w = np.zeros((10, 784), np.float32)
    layer = mw.dense_layer("fc1", w, np.zeros(10), weight_shape=[10, 783])
    data = mw.model_file(network_body=mw.network("bad", [layer], mw.DIGITS))
    error = _status_of(data)
    assert error.status == 3 and error.message  # the C message says what is wrong


def test_labels_must_match_outputs(net):
    data = mw.model_file(network_body=mw.network(
        "bad", [mw.dense_layer(f"fc{i}", w, b) for i, (w, b, _) in enumerate(net.layers)], ["0", "1"]))
    assert _status_of(data).status == 3


def test_error_mapping():
    error = nnrt.NNRTError.from_status(5, "x")
    assert type(error) is nnrt.ShapeMismatchError and error.message == "x" and error.status == 5
    unknown = nnrt.NNRTError.from_status(999, "")
    assert type(unknown) is nnrt.NNRTError and unknown.status_name == "unknown status"
