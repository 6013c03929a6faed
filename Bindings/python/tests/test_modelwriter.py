"""The pure-Python writer itself (no libnnrt needed)."""

import modelwriter as mw
from support import random_net


def test_varint_encoding():
    assert mw.varint(0) == b"\x00"
    assert mw.varint(1) == b"\x01"
    assert mw.varint(127) == b"\x7f"
    assert mw.varint(128) == b"\x80\x01"
    assert mw.varint(300) == b"\xac\x02"
    assert mw.varint(-1) == b"\xff" * 9 + b"\x01"


def test_fields():
    assert mw.uint_field(2, 1) == b"\x10\x01"
    assert mw.uint_field(2, 0) == b""
    assert mw.string_field(1, "ab") == b"\x0a\x02ab"
    assert mw.packed_uint32(1, [1, 28, 28]) == b"\x0a\x03\x01\x1c\x1c"
    assert mw.packed_float(2, [1.0]) == b"\x12\x04\x00\x00\x80\x3f"
    assert mw.message_field(3, b"") == b"\x1a\x00"


def test_file_starts_with_the_magic():
    data = random_net((4, 3), contract=((1, 2, 2), 1 / 255, 0.0, 1)).file()
    assert data.startswith(b"\x0a\x0annrt-model\x10\x01")


def test_version_two_fields():
    # pool_shape is field 8 (packed: 0x42), dropout field 9 (fixed32: 0x4d).
    pool = mw.pool_layer("p", (3, 4, 4), (2, 2), mw.ACTIVATION_RELU)
    assert b"\x10\x03" in pool and b"\x42\x02\x02\x02" in pool and b"\x32" not in pool
    dense = mw.dense_layer("d", [[1.0, 2.0]], [0.0], dropout=0.5)
    assert dense.endswith(b"\x4d\x00\x00\x00\x3f")
    assert not mw.dense_layer("d", [[1.0, 2.0]], [0.0]).endswith(b"\x3f")
