"""A client for Hyphae stream hosts (the MFN stream protocol v1)."""

from .auth import auth_payload, signature
from .client import (
    AuthFailed,
    Client,
    ConnectionFailed,
    Frame,
    HyphaeError,
    Notice,
    Resume,
    StreamError,
    SubscribeFailed,
    Subscription,
)
from .decoding import Rebuilder, is_packed, unpack, unpack_all

__all__ = [
    "AuthFailed",
    "Client",
    "ConnectionFailed",
    "Frame",
    "HyphaeError",
    "Notice",
    "Rebuilder",
    "Resume",
    "StreamError",
    "SubscribeFailed",
    "Subscription",
    "auth_payload",
    "is_packed",
    "signature",
    "unpack",
    "unpack_all",
]
__version__ = "0.1.0"
