"""The raw layer: every function of Include/nnrt.h, 1:1, with explicit argtypes and restype.

Nothing here is friendly; the object layer (``nnrt._model``, ``nnrt._session``) wraps it.
Handles are ``ctypes.c_void_p`` values (an ``nnrt_model *`` or ``nnrt_session *``);
out-parameters are passed with ``ctypes.byref``. Strings come back as ``bytes`` (``c_char_p``)
owned by the library.

The data buffers of the inference functions (inputs, labels, outputs) are declared ``c_void_p``
rather than typed pointers: they take a plain address (``int``), a ctypes pointer or array, or
``None`` for NULL. The object layer passes ndarray addresses as ints, which ctypes converts with
no per-call pointer object (``ndarray.ctypes.data_as`` costs more than the batch-1 prediction
itself), and at batch 1 calls the unchecked twins at the end of this module. The element types are those of the header: ``const float *`` inputs (``const uint8_t *``
for the ``_u8`` functions), ``int32_t *`` labels, ``float *`` outputs.

Every pointer and size_t return type is declared: ctypes' default ``int`` restype would
truncate a 64-bit pointer.
"""

from __future__ import annotations

import ctypes
from ctypes import POINTER, c_char_p, c_float, c_int32, c_size_t, c_uint32, c_void_p

from ._loader import LibraryLoadError, load_library

#: The NNRT_ABI_VERSION of the header this binding was written against.
ABI_VERSION = 1

# Status codes (NNRT_OK, NNRT_ERR_*). Codes never change meaning; new ones may be added.
NNRT_OK = 0
NNRT_ERR_INVALID_ARGUMENT = 1
NNRT_ERR_IO = 2
NNRT_ERR_BAD_MODEL = 3
NNRT_ERR_UNSUPPORTED_VERSION = 4
NNRT_ERR_SHAPE_MISMATCH = 5
NNRT_ERR_BUFFER_TOO_SMALL = 6
NNRT_ERR_OUT_OF_MEMORY = 7
NNRT_ERR_IMAGE_DECODE = 8
NNRT_ERR_INTERNAL = 9
NNRT_ERR_UNSUPPORTED = 10
NNRT_ERR_NOT_FOUND = 11
NNRT_ERR_IMAGE_FORMAT = 12
NNRT_ERR_IMAGE_TOO_LARGE = 13

# What image preprocessing found (NNRT_IMAGE_*).
NNRT_IMAGE_INVERTED = 0x1
NNRT_IMAGE_BLANK = 0x2
NNRT_IMAGE_RESIZED = 0x4

# Voting rules (NNRT_VOTING_*).
NNRT_VOTING_MAJORITY = 1
NNRT_VOTING_MEAN_PROBABILITY = 2

# Layer kinds and activations (nnrt_model_layer_info: NNRT_LAYER_*, NNRT_ACTIVATION_*).
NNRT_LAYER_DENSE = 1
NNRT_LAYER_CONV2D = 2
NNRT_LAYER_MAX_POOL2D = 3
NNRT_ACTIVATION_SIGMOID = 1
NNRT_ACTIVATION_TANH = 2
NNRT_ACTIVATION_RELU = 3
NNRT_ACTIVATION_LINEAR = 4
NNRT_ACTIVATION_SOFTMAX = 5

# Input polarity (nnrt_model_input_contract).
NNRT_POLARITY_LIGHT_ON_DARK = 1
NNRT_POLARITY_DARK_ON_LIGHT = 2

nnrt_status = c_int32
nnrt_voting = c_int32
#: An ``nnrt_model *`` (opaque).
nnrt_model_p = c_void_p
#: An ``nnrt_session *`` (opaque).
nnrt_session_p = c_void_p
#: A data buffer of the inference functions: an address, a ctypes pointer or array, or None.
buffer_p = c_void_p

lib, library_path = load_library()


def _bind(name: str, restype, argtypes):  # type: ignore[no-untyped-def]
    try:
        function = getattr(lib, name)
    except AttributeError:
        raise LibraryLoadError(
            f"{library_path} does not export {name}: it is not a libnnrt for ABI {ABI_VERSION}"
        ) from None
    function.restype = restype
    function.argtypes = argtypes
    return function


# --- Versions ---------------------------------------------------------------------------------
nnrt_version_string = _bind("nnrt_version_string", c_char_p, [])
nnrt_kernel_build = _bind("nnrt_kernel_build", c_char_p, [])
nnrt_abi_version = _bind("nnrt_abi_version", c_uint32, [])
nnrt_supported_format_versions = _bind(
    "nnrt_supported_format_versions", None, [POINTER(c_uint32), POINTER(c_uint32)]
)

# --- Status codes and errors ------------------------------------------------------------------
nnrt_status_string = _bind("nnrt_status_string", c_char_p, [nnrt_status])
nnrt_last_error_message = _bind("nnrt_last_error_message", c_char_p, [])

# --- Models -----------------------------------------------------------------------------------
nnrt_model_load = _bind("nnrt_model_load", nnrt_status, [c_char_p, POINTER(nnrt_model_p)])
nnrt_model_load_from_memory = _bind(
    "nnrt_model_load_from_memory", nnrt_status, [c_void_p, c_size_t, POINTER(nnrt_model_p)]
)
nnrt_model_free = _bind("nnrt_model_free", None, [nnrt_model_p])
nnrt_ensemble_create = _bind(
    "nnrt_ensemble_create",
    nnrt_status,
    [POINTER(nnrt_model_p), c_size_t, nnrt_voting, POINTER(nnrt_model_p)],
)

# --- Introspection ----------------------------------------------------------------------------
nnrt_model_input_size = _bind("nnrt_model_input_size", nnrt_status, [nnrt_model_p, POINTER(c_size_t)])
nnrt_model_input_shape = _bind(
    "nnrt_model_input_shape",
    nnrt_status,
    [nnrt_model_p, POINTER(c_size_t), c_size_t, POINTER(c_size_t)],
)
nnrt_model_input_contract = _bind(
    "nnrt_model_input_contract",
    nnrt_status,
    [nnrt_model_p, POINTER(c_float), POINTER(c_float), POINTER(c_int32)],
)
nnrt_model_class_count = _bind("nnrt_model_class_count", nnrt_status, [nnrt_model_p, POINTER(c_size_t)])
nnrt_model_class_label = _bind(
    "nnrt_model_class_label", nnrt_status, [nnrt_model_p, c_size_t, POINTER(c_char_p)]
)
nnrt_model_member_count = _bind("nnrt_model_member_count", nnrt_status, [nnrt_model_p, POINTER(c_size_t)])
nnrt_model_voting = _bind("nnrt_model_voting", nnrt_status, [nnrt_model_p, POINTER(nnrt_voting)])
nnrt_model_format_version = _bind(
    "nnrt_model_format_version", nnrt_status, [nnrt_model_p, POINTER(c_uint32)]
)
nnrt_model_producer = _bind(
    "nnrt_model_producer", nnrt_status, [nnrt_model_p, POINTER(c_char_p), POINTER(c_char_p)]
)
nnrt_model_name = _bind("nnrt_model_name", nnrt_status, [nnrt_model_p, POINTER(c_char_p)])
nnrt_model_metadata_count = _bind(
    "nnrt_model_metadata_count", nnrt_status, [nnrt_model_p, POINTER(c_size_t)]
)
nnrt_model_metadata_entry = _bind(
    "nnrt_model_metadata_entry",
    nnrt_status,
    [nnrt_model_p, c_size_t, POINTER(c_char_p), POINTER(c_char_p)],
)
nnrt_model_metadata_get = _bind(
    "nnrt_model_metadata_get", nnrt_status, [nnrt_model_p, c_char_p, POINTER(c_char_p)]
)

# --- Layers -----------------------------------------------------------------------------------
nnrt_model_layer_count = _bind(
    "nnrt_model_layer_count", nnrt_status, [nnrt_model_p, c_size_t, POINTER(c_size_t)]
)
nnrt_model_layer_info = _bind(
    "nnrt_model_layer_info",
    nnrt_status,
    [nnrt_model_p, c_size_t, c_size_t, POINTER(c_int32), POINTER(c_int32),
     POINTER(c_char_p), POINTER(c_char_p)],
)

# --- Inference --------------------------------------------------------------------------------
# (model, inputs, count, inputs_len, labels, labels_len, outputs, outputs_len)
_PREDICT_ARGS = [nnrt_model_p, buffer_p, c_size_t, c_size_t, buffer_p, c_size_t, buffer_p, c_size_t]
nnrt_model_predict = _bind("nnrt_model_predict", nnrt_status, _PREDICT_ARGS)
nnrt_model_predict_u8 = _bind("nnrt_model_predict_u8", nnrt_status, _PREDICT_ARGS)
nnrt_model_predict_members = _bind("nnrt_model_predict_members", nnrt_status, _PREDICT_ARGS)

# --- Sessions ---------------------------------------------------------------------------------
nnrt_session_create = _bind(
    "nnrt_session_create", nnrt_status, [nnrt_model_p, c_size_t, POINTER(nnrt_session_p)]
)
nnrt_session_free = _bind("nnrt_session_free", None, [nnrt_session_p])
nnrt_session_threads = _bind(
    "nnrt_session_threads", nnrt_status, [nnrt_session_p, POINTER(c_size_t)]
)
_SESSION_PREDICT_ARGS = [nnrt_session_p, buffer_p, c_size_t, c_size_t, buffer_p, c_size_t,
                         buffer_p, c_size_t]
nnrt_session_predict = _bind("nnrt_session_predict", nnrt_status, _SESSION_PREDICT_ARGS)
nnrt_session_predict_u8 = _bind("nnrt_session_predict_u8", nnrt_status, _SESSION_PREDICT_ARGS)

# --- Images -----------------------------------------------------------------------------------
# results: an array of nnrt_file_result (see nnrt._images._CFileResult), passed as its address.
nnrt_session_classify_files = _bind(
    "nnrt_session_classify_files", nnrt_status,
    [nnrt_session_p, POINTER(c_char_p), c_size_t, buffer_p, c_size_t, buffer_p, c_size_t],
)
nnrt_model_classify_image = _bind(
    "nnrt_model_classify_image", nnrt_status,
    [nnrt_model_p, c_char_p, c_size_t, POINTER(c_int32), buffer_p, c_size_t, POINTER(c_uint32)],
)
nnrt_model_preprocess_file = _bind(
    "nnrt_model_preprocess_file", nnrt_status,
    [nnrt_model_p, c_char_p, buffer_p, c_size_t, POINTER(c_uint32)],
)
nnrt_model_preprocess_image = _bind(
    "nnrt_model_preprocess_image", nnrt_status,
    [nnrt_model_p, c_char_p, c_size_t, buffer_p, c_size_t, POINTER(c_uint32)],
)
nnrt_model_preprocess_pixels = _bind(
    "nnrt_model_preprocess_pixels", nnrt_status,
    [nnrt_model_p, buffer_p, c_size_t, c_size_t, c_size_t, c_size_t, c_size_t, buffer_p, c_size_t,
     POINTER(c_uint32)],
)

# --- Unchecked twins for the per-call path -----------------------------------------------------
# The same four prediction functions through separate function pointers with no argtypes. ctypes
# converts an argtypes-declared argument by calling its type's from_param, one Python-level call
# per argument: for the eight arguments of a prediction that costs about as much as a batch-1
# prediction of a small network. Without argtypes, ctypes objects pass straight through. The
# object layer uses these at batch 1 only, and always passes ctypes objects: c_void_p (or a
# byref) for the handle and the buffers, c_size_t for the counts, None for NULL. A bare Python
# int would be passed as a C int, so never pass one. Not part of FUNCTIONS (private).


def _unchecked(name: str):  # type: ignore[no-untyped-def]
    function = lib[name]  # item access makes a new function pointer; lib.<name> is the checked one
    function.restype = nnrt_status
    return function


_model_predict_unchecked = _unchecked("nnrt_model_predict")
_model_predict_u8_unchecked = _unchecked("nnrt_model_predict_u8")
_session_predict_unchecked = _unchecked("nnrt_session_predict")
_session_predict_u8_unchecked = _unchecked("nnrt_session_predict_u8")

_loaded_abi = nnrt_abi_version()
if _loaded_abi != ABI_VERSION:
    raise LibraryLoadError(
        f"{library_path} has ABI version {_loaded_abi}, but this binding was written for "
        f"ABI version {ABI_VERSION}: install the matching nnrt Python package or library"
    )

#: Every C function of the header, by name (used by the tests to check the mapping is complete).
FUNCTIONS = {
    name: value
    for name, value in list(globals().items())
    if name.startswith("nnrt_") and isinstance(value, ctypes._CFuncPtr)  # type: ignore[attr-defined]
}
