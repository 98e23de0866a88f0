"""Decoding of the `compress` transform's frames (Docs/COMPRESSION.md): packed arrays
and deltas. Precision needs no decoding."""

from __future__ import annotations

import base64
import struct
from typing import Any, Dict, List, Optional


def is_packed(value: Any) -> bool:
    """A packed array: an object whose `packed` is "u8" or "u16" and whose `data` is a string."""
    return isinstance(value, dict) and value.get("packed") in ("u8", "u16") and isinstance(value.get("data"), str)


def unpack(packed: Dict[str, Any]) -> List[float]:
    """value[i] = offset + q[i] * scale, q unsigned (u16 little-endian)."""
    length = packed["length"]
    if not isinstance(length, int) or length < 0:
        raise ValueError(f"a packed array's length must be a non-negative integer, found {length!r}")
    width = 1 if packed["packed"] == "u8" else 2
    raw = base64.b64decode(packed["data"], validate=True)
    if len(raw) != length * width:
        raise ValueError(f"a packed {packed['packed']} array of {length} values needs {length * width} bytes, found {len(raw)}")
    quanta = struct.unpack(("<%dB" if width == 1 else "<%dH") % length, raw)
    offset, scale = packed["offset"], packed["scale"]
    return [offset + q * scale for q in quanta]


def unpack_all(value: Any) -> Any:
    """`value` with every packed array, at any depth, unpacked."""
    if is_packed(value):
        return unpack(value)
    if isinstance(value, dict):
        return {key: unpack_all(item) for key, item in value.items()}
    if isinstance(value, list):
        return [unpack_all(item) for item in value]
    return value


def _merge(target: Dict[str, Any], changes: Dict[str, Any]) -> None:
    for key, value in changes.items():
        current = target.get(key)
        if isinstance(value, dict) and isinstance(current, dict) and not is_packed(value):
            _merge(current, value)
        else:
            target[key] = value


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


class Rebuilder:
    """Rebuilds complete payloads from one subscription's data frames.

    Keeps, per message type, the payload rebuilt so far (arrays still packed) and the
    sequence of the last data frame. A gap in `sequence` forgets every view; a delta
    without a view is skipped (`receive` returns None) until the next keyframe.
    """

    def __init__(self) -> None:
        self._views: Dict[str, Dict[str, Any]] = {}
        self.last_sequence: Optional[int] = None

    def reset(self) -> None:
        """Forget every view: after `stream_reloaded`, or a reconnect that did not resume."""
        self._views.clear()
        self.last_sequence = None

    def receive(self, message_type: str, payload: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        """The complete payload (packed arrays unpacked, no `delta`), or None while waiting for a keyframe."""
        payload = dict(payload)
        sequence = payload.get("sequence")
        if isinstance(sequence, int):
            if self.last_sequence is not None and sequence != self.last_sequence + 1:
                self._views.clear()  # frames were lost: any view may miss a change
            self.last_sequence = sequence
        marker = payload.pop("delta", None)
        if marker is None:  # delta is off: the frame is complete
            self._views.pop(message_type, None)
            return unpack_all(payload)
        if not isinstance(marker, dict):
            raise ValueError(f"a frame's 'delta' must be an object, found {marker!r}")
        if marker.get("keyframe"):
            self._views[message_type] = _copy(payload)
        elif message_type in self._views:
            view = self._views[message_type]
            for path in marker.get("removed", []):
                parent: Any = view
                for key in path[:-1]:
                    parent = parent.get(key) if isinstance(parent, dict) else None
                if isinstance(parent, dict) and path:
                    parent.pop(path[-1], None)
            _merge(view, _copy(payload))
        else:
            return None
        return unpack_all(self._views[message_type])
