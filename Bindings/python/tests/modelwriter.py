"""A tiny pure-Python writer of nnrt model files (format versions 1 and 2), for the tests.

It encodes just the messages of Sources/CModelProto/nnrt.proto that a model needs, with the
protobuf wire format written by hand (varints and length-delimited fields), following the field
numbers of nnrt.proto exactly. It needs no protobuf library and no Swift trainer, and it is an
independent check that the format can be written from another language.

Field order follows the .proto (identifier first, so files start with 0x0A 0x0A "nnrt-model").
Proto3 defaults (0, "", empty) are omitted as a protobuf encoder would; repeated scalars are
packed.
"""

from __future__ import annotations

import struct
import sys
from array import array
from typing import Iterable, Optional, Sequence, Tuple

# Enum values from nnrt.proto.
LAYER_KIND_DENSE = 1
LAYER_KIND_CONV2D = 2       # format version 2
LAYER_KIND_MAX_POOL2D = 3   # format version 2
ACTIVATION_SIGMOID = 1
ACTIVATION_TANH = 2
ACTIVATION_RELU = 3
ACTIVATION_LINEAR = 4
ACTIVATION_SOFTMAX = 5
POLARITY_LIGHT_ON_DARK = 1
POLARITY_DARK_ON_LIGHT = 2
COST_QUADRATIC = 1
COST_CROSS_ENTROPY = 2
COST_LOG_LIKELIHOOD = 3
VOTING_RULE_MAJORITY = 1
VOTING_RULE_MEAN_PROBABILITY = 2

_VARINT, _FIXED64, _LEN, _FIXED32 = 0, 1, 2, 5


# --- Wire format ---------------------------------------------------------------------------------

def varint(value: int) -> bytes:
    """Base-128 varint; negative int32/enum values take ten bytes, as protobuf encodes them."""
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def key(field: int, wire_type: int) -> bytes:
    return varint((field << 3) | wire_type)


def uint_field(field: int, value: int) -> bytes:
    """uint32/uint64/enum/bool field; omitted when 0 (the proto3 default)."""
    return key(field, _VARINT) + varint(int(value)) if value else b""


def bytes_field(field: int, value: bytes, always: bool = False) -> bytes:
    """Length-delimited field (string, bytes, sub-message, packed repeated)."""
    if not value and not always:
        return b""
    return key(field, _LEN) + varint(len(value)) + value


def string_field(field: int, value: str) -> bytes:
    return bytes_field(field, value.encode("utf-8"))


def message_field(field: int, message: bytes) -> bytes:
    """A sub-message; written even when empty (its presence can matter)."""
    return bytes_field(field, message, always=True)


def float_field(field: int, value: float) -> bytes:
    return key(field, _FIXED32) + struct.pack("<f", value) if value else b""


def double_field(field: int, value: float) -> bytes:
    return key(field, _FIXED64) + struct.pack("<d", value) if value else b""


def packed_uint32(field: int, values: Iterable[int]) -> bytes:
    return bytes_field(field, b"".join(varint(int(v)) for v in values))


def packed_float(field: int, values: Iterable[float]) -> bytes:
    """Packed little-endian float32s. Accepts any iterable of numbers (or a numpy array)."""
    tolist = getattr(values, "ravel", None)
    data = array("f", tolist().tolist() if tolist else values)
    if sys.byteorder != "little":
        data.byteswap()
    return bytes_field(field, data.tobytes())


# --- nnrt.proto messages ------------------------------------------------------------------------

def tensor(shape: Sequence[int], data: Iterable[float]) -> bytes:
    """Tensor { shape = 1; data = 2 (packed) }."""
    return packed_uint32(1, shape) + packed_float(2, data)


def dense_layer(name: str, weights, bias, activation: int = ACTIVATION_SIGMOID,
                weight_shape: Optional[Sequence[int]] = None, dropout: float = 0.0,
                input_shape: Optional[Sequence[int]] = None) -> bytes:
    """Layer for activation(W ((1 - dropout) x) + b). ``weights`` is a numpy array [out, in] (or
    nested lists); ``input_shape`` defaults to [in] (a [C, H, W] input is flattened). A non-zero
    ``dropout`` (field 9) needs format version 2."""
    rows = [list(map(float, row)) for row in weights]
    out_size, in_size = len(rows), len(rows[0]) if rows else 0
    flat = [v for row in rows for v in row]
    return (
        string_field(1, name)
        + uint_field(2, LAYER_KIND_DENSE)
        + packed_uint32(3, input_shape or [in_size])
        + packed_uint32(4, [out_size])
        + uint_field(5, activation)
        + message_field(6, tensor(weight_shape or [out_size, in_size], flat))
        + message_field(7, tensor([out_size], list(map(float, bias))))
        + float_field(9, dropout)
    )


def conv_layer(name: str, input_shape: Sequence[int], weights, bias,
               activation: int = ACTIVATION_LINEAR) -> bytes:
    """Layer { kind = CONV2D } (format version 2): valid convolution, stride 1.
    ``input_shape`` is [C, H, W]; ``weights`` a numpy array [M, C, KH, KW]; ``bias`` [M]."""
    maps, channels, kh, kw = (int(d) for d in weights.shape)
    _, height, width = (int(d) for d in input_shape)
    return (
        string_field(1, name)
        + uint_field(2, LAYER_KIND_CONV2D)
        + packed_uint32(3, input_shape)
        + packed_uint32(4, [maps, height - kh + 1, width - kw + 1])
        + uint_field(5, activation)
        + message_field(6, tensor([maps, channels, kh, kw], weights))
        + message_field(7, tensor([maps], list(map(float, bias))))
    )


def pool_layer(name: str, input_shape: Sequence[int], pool: Sequence[int],
               activation: int = ACTIVATION_LINEAR) -> bytes:
    """Layer { kind = MAX_POOL2D; pool_shape = 8 } (format version 2): no weights or bias.
    ``input_shape`` is [C, H, W], ``pool`` [PH, PW]; the output is [C, H/PH, W/PW]."""
    channels, height, width = (int(d) for d in input_shape)
    return (
        string_field(1, name)
        + uint_field(2, LAYER_KIND_MAX_POOL2D)
        + packed_uint32(3, input_shape)
        + packed_uint32(4, [channels, height // pool[0], width // pool[1]])
        + uint_field(5, activation)
        + packed_uint32(8, pool)
    )


def input_contract(shape: Sequence[int] = (1, 28, 28), scale: float = 1.0 / 255.0,
                   offset: float = 0.0, polarity: int = POLARITY_LIGHT_ON_DARK) -> bytes:
    """InputContract { shape = 1; scale = 2; offset = 3; polarity = 4 }."""
    return (packed_uint32(1, shape) + float_field(2, scale) + float_field(3, offset)
            + uint_field(4, polarity))


def network(name: str, layers: Sequence[bytes], class_labels: Sequence[str],
            contract: Optional[bytes] = None, cost: int = COST_CROSS_ENTROPY) -> bytes:
    """Network { name = 1; layers = 2; class_labels = 3; input = 4; cost = 5 }."""
    return (
        string_field(1, name)
        + b"".join(message_field(2, layer) for layer in layers)
        + b"".join(bytes_field(3, label.encode("utf-8"), always=True) for label in class_labels)
        + message_field(4, input_contract() if contract is None else contract)
        + uint_field(5, cost)
    )


def ensemble(name: str, members: Sequence[bytes], voting: int = VOTING_RULE_MAJORITY) -> bytes:
    """Ensemble { name = 1; members = 2; voting = 3 }."""
    return (string_field(1, name) + b"".join(message_field(2, m) for m in members)
            + uint_field(3, voting))


def model_file(*, network_body: Optional[bytes] = None, ensemble_body: Optional[bytes] = None,
               format_version: int = 1, producer: Tuple[str, str] = ("nnrt-tests", "0.1.0"),
               metadata: Sequence[Tuple[str, str]] = (), identifier: str = "nnrt-model") -> bytes:
    """ModelFile { identifier = 1; format_version = 2; producer = 3; metadata = 4;
    oneof body { network = 10; ensemble = 11 } }."""
    body = b""
    if network_body is not None:
        body += message_field(10, network_body)
    if ensemble_body is not None:
        body += message_field(11, ensemble_body)
    return (
        string_field(1, identifier)
        + uint_field(2, format_version)
        + message_field(3, string_field(1, producer[0]) + string_field(2, producer[1]))
        + b"".join(message_field(4, string_field(1, k) + string_field(2, v)) for k, v in metadata)
        + body
    )


DIGITS = [str(d) for d in range(10)]
