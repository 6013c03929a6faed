"""The raw layer against the header's contract: statuses, NULLs, buffer sizes."""

import ctypes
from ctypes import POINTER, byref, c_char_p, c_float, c_int32, c_size_t, c_void_p

import numpy as np
import pytest

from support import random_inputs, random_net, require_nnrt

nnrt = require_nnrt()
from nnrt import _capi as C  # noqa: E402


@pytest.fixture(scope="module")
def handle():
    data = random_net((784, 30, 10), seed=1).file(metadata=[("k", "v")])
    h = c_void_p()
    assert C.nnrt_model_load_from_memory(data, len(data), byref(h)) == C.NNRT_OK
    yield h.value
    C.nnrt_model_free(h.value)


def _message() -> str:
    return C.nnrt_last_error_message().decode()


def test_status_strings():
    for code in range(14):
        assert C.nnrt_status_string(code)
    assert C.nnrt_status_string(12345) == b"unknown status"
    assert C.nnrt_status_string(C.NNRT_OK)


def test_free_null_is_a_no_op():
    C.nnrt_model_free(None)


def test_load_failures_null_the_handle(tmp_path):
    h = c_void_p(12345)
    assert C.nnrt_model_load(str(tmp_path / "missing").encode(), byref(h)) == C.NNRT_ERR_IO
    assert h.value is None
    assert _message()
    assert C.nnrt_model_load(None, byref(h)) == C.NNRT_ERR_INVALID_ARGUMENT
    assert C.nnrt_model_load(b"x", None) == C.NNRT_ERR_INVALID_ARGUMENT
    assert C.nnrt_model_load_from_memory(None, 10, byref(h)) == C.NNRT_ERR_INVALID_ARGUMENT


def test_null_model_is_an_invalid_argument():
    size = c_size_t()
    assert C.nnrt_model_input_size(None, byref(size)) == C.NNRT_ERR_INVALID_ARGUMENT
    assert C.nnrt_model_class_count(None, byref(size)) == C.NNRT_ERR_INVALID_ARGUMENT


def test_input_shape_buffer_too_small(handle):
    dims = (c_size_t * 1)()
    rank = c_size_t()
    assert C.nnrt_model_input_shape(handle, dims, 1, byref(rank)) == C.NNRT_ERR_BUFFER_TOO_SMALL
    assert rank.value == 3


def test_not_found(handle):
    label = c_char_p()
    assert C.nnrt_model_class_label(handle, 10, byref(label)) == C.NNRT_ERR_NOT_FOUND
    assert C.nnrt_model_class_label(handle, 9, byref(label)) == C.NNRT_OK and label.value == b"9"
    value = c_char_p()
    assert C.nnrt_model_metadata_get(handle, b"k", byref(value)) == C.NNRT_OK and value.value == b"v"
    assert C.nnrt_model_metadata_get(handle, b"nope", byref(value)) == C.NNRT_ERR_NOT_FOUND


def test_contract_pointers_may_be_null(handle):
    assert C.nnrt_model_input_contract(handle, None, None, None) == C.NNRT_OK
    assert C.nnrt_model_producer(handle, None, None) == C.NNRT_OK


def _predict(handle, x, count, inputs_len, labels_len, outputs_len):
    labels = np.full(max(labels_len, 1), -7, np.int32)
    outputs = np.full(max(outputs_len, 1), -7.0, np.float32)
    status = C.nnrt_model_predict(
        handle, x.ctypes.data_as(POINTER(c_float)), count, inputs_len,
        labels.ctypes.data_as(POINTER(c_int32)) if labels_len else None, labels_len,
        outputs.ctypes.data_as(POINTER(c_float)) if outputs_len else None, outputs_len)
    return status, labels, outputs


def test_predict_statuses(handle):
    x = random_inputs(4)
    assert _predict(handle, x, 4, x.size, 4, 40)[0] == C.NNRT_OK
    assert _predict(handle, x, 4, x.size - 1, 4, 0)[0] == C.NNRT_ERR_SHAPE_MISMATCH
    assert _predict(handle, x, 0, x.size, 4, 0)[0] == C.NNRT_ERR_INVALID_ARGUMENT
    assert _predict(handle, x, 4, x.size, 0, 0)[0] == C.NNRT_ERR_INVALID_ARGUMENT
    status, labels, outputs = _predict(handle, x, 4, x.size, 3, 40)
    assert status == C.NNRT_ERR_BUFFER_TOO_SMALL and "4" in _message()
    assert (labels == -7).all() and (outputs == -7).all()  # nothing written
    status, labels, outputs = _predict(handle, x, 4, x.size, 4, 39)
    assert status == C.NNRT_ERR_BUFFER_TOO_SMALL and "40" in _message()
    assert (labels == -7).all()


def test_ensemble_create_arguments(handle):
    out = c_void_p()
    members = (c_void_p * 1)(handle)
    assert C.nnrt_ensemble_create(members, 0, 1, byref(out)) == C.NNRT_ERR_INVALID_ARGUMENT
    assert C.nnrt_ensemble_create(None, 1, 1, byref(out)) == C.NNRT_ERR_INVALID_ARGUMENT
    assert C.nnrt_ensemble_create(members, 1, 0, byref(out)) == C.NNRT_ERR_INVALID_ARGUMENT
    assert out.value is None
    assert C.nnrt_ensemble_create((c_void_p * 1)(None), 1, 1, byref(out)) == C.NNRT_ERR_INVALID_ARGUMENT
    assert C.nnrt_ensemble_create(members, 1, 1, byref(out)) == C.NNRT_OK
    C.nnrt_model_free(out.value)


def test_pointer_restypes_are_not_truncated():
    assert C.nnrt_version_string.restype is c_char_p
    assert C.nnrt_last_error_message.restype is c_char_p
    assert C.nnrt_status_string.restype is c_char_p
    assert all(f.argtypes is not None for f in C.FUNCTIONS.values())  # every one declared
