"""Decoding of the compress transform's packed arrays and deltas (Docs/COMPRESSION.md)."""

import base64
import struct

import pytest

from hyphae_client import Rebuilder, unpack, unpack_all


def packed(kind, offset, scale, quanta):
    fmt = "<%dB" if kind == "u8" else "<%dH"
    return {"packed": kind, "offset": offset, "scale": scale, "length": len(quanta),
            "data": base64.b64encode(struct.pack(fmt % len(quanta), *quanta)).decode()}


def test_unpack_u16_is_little_endian_and_offset_plus_quantum_times_scale():
    assert unpack(packed("u16", -1.0, 0.5, [0, 1, 2, 65535])) == [-1.0, -0.5, 0.0, -1.0 + 65535 * 0.5]
    raw = base64.b64encode(bytes([0x01, 0x02])).decode()
    assert unpack({"packed": "u16", "offset": 0, "scale": 1, "length": 1, "data": raw}) == [0x0201]


def test_unpack_u8_and_a_constant_array():
    assert unpack(packed("u8", 3.0, 0.0, [0, 0, 0])) == [3.0, 3.0, 3.0]
    assert unpack(packed("u8", 0.0, 2.0, [255])) == [510.0]


def test_a_packed_array_whose_data_does_not_match_its_length_is_refused():
    bad = packed("u16", 0.0, 1.0, [1, 2])
    bad["length"] = 3
    with pytest.raises(ValueError):
        unpack(bad)


def test_unpack_all_reaches_every_depth_and_leaves_lookalikes():
    value = {"rows": [packed("u8", 0.0, 1.0, [1, 2])], "not": {"packed": "u32", "data": "AA=="}}
    assert unpack_all(value) == {"rows": [[1.0, 2.0]], "not": {"packed": "u32", "data": "AA=="}}


def frame(sequence, keyframe=None, removed=None, **members):
    payload = {"sequence": sequence, **members}
    if keyframe is not None:
        payload["delta"] = {"keyframe": keyframe}
        if removed is not None:
            payload["delta"]["removed"] = removed
    return payload


def test_deltas_merge_on_the_keyframe_and_removed_paths_go():
    rebuilder = Rebuilder()
    assert rebuilder.receive("s", frame(0, True, a=1, nested={"x": 1, "y": 2}, gone={"k": 1})) == \
        {"sequence": 0, "a": 1, "nested": {"x": 1, "y": 2}, "gone": {"k": 1}}
    assert rebuilder.receive("s", frame(1, False, removed=[["gone", "k"]], nested={"y": 3})) == \
        {"sequence": 1, "a": 1, "nested": {"x": 1, "y": 3}, "gone": {}}


def test_after_a_gap_deltas_wait_for_the_next_keyframe():
    rebuilder = Rebuilder()
    rebuilder.receive("s", frame(0, True, a=1))
    assert rebuilder.receive("s", frame(2, False, a=2)) is None
    assert rebuilder.receive("s", frame(3, False, a=3)) is None
    assert rebuilder.receive("s", frame(4, True, a=4)) == {"sequence": 4, "a": 4}


def test_each_message_type_keeps_its_own_view():
    rebuilder = Rebuilder()
    rebuilder.receive("state", frame(0, True, a=1))
    assert rebuilder.receive("complete", frame(1, False, b=1)) is None
    assert rebuilder.receive("state", frame(2, False, a=2)) == {"sequence": 2, "a": 2}


def test_a_frame_without_a_delta_marker_is_complete():
    rebuilder = Rebuilder()
    assert rebuilder.receive("s", frame(5, None, field=packed("u8", 0.0, 1.0, [7]))) == {"sequence": 5, "field": [7.0]}
