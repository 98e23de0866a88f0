"""The `auth` message's signature (Docs/PROTOCOL.md, auth), as the Swift client signs.

Lowercase hex of HMAC-SHA256 keyed by the API key (UTF-8), over the decimal digits of
the integer part of the timestamp exactly as it is sent.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from typing import Any, Dict, Optional, Union


def signature(api_key: str, timestamp: Union[int, float]) -> str:
    """The signature of `timestamp` (milliseconds, or seconds, as sent)."""
    if isinstance(timestamp, float):
        if not math.isfinite(timestamp):
            raise ValueError("a timestamp must be finite to be signed")
        timestamp = int(timestamp)  # truncates toward zero, as the host does
    return hmac.new(api_key.encode("utf-8"), str(timestamp).encode("ascii"), hashlib.sha256).hexdigest()


def now_milliseconds() -> int:
    return int(time.time() * 1000)


def auth_payload(api_key: str, timestamp: Optional[int] = None, signed: bool = True) -> Dict[str, Any]:
    """The payload of an `auth` message: the key, the timestamp in ms, and the signature when `signed`."""
    stamp = now_milliseconds() if timestamp is None else timestamp
    payload: Dict[str, Any] = {"api_key": api_key, "timestamp": stamp}
    if signed:
        payload["signature"] = signature(api_key, stamp)
    return payload
