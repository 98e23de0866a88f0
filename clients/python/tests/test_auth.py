"""The signature is byte-identical to the Swift client's (Sources/HyphaeProtocol/AuthSignature.swift):
the vectors below are those of Tests/HyphaeProtocolTests/AuthSignatureTests.swift."""

import hashlib
import hmac

import pytest

from hyphae_client import auth_payload, signature

DOCUMENTED = "780e1302ab3e28fb5d0688ab93da81ff683f8b6d5359a12397ff52018d4526bf"


def test_documented_vector():
    assert signature("k1", 1764756000123) == DOCUMENTED


def test_a_sent_timestamp_signs_its_integer_part():
    seconds = signature("k1", 1764756000)
    assert signature("k1", 1764756000.9) == seconds
    assert signature("k1", 1764756000.0) == seconds
    assert seconds == hmac.new(b"k1", b"1764756000", hashlib.sha256).hexdigest()


def test_a_timestamp_no_client_could_sign_is_refused():
    with pytest.raises(ValueError):
        signature("k1", float("inf"))
    with pytest.raises(ValueError):
        signature("k1", float("nan"))


def test_the_key_is_utf8():
    assert signature("clé", 1) == hmac.new("clé".encode("utf-8"), b"1", hashlib.sha256).hexdigest()


def test_auth_payload_carries_the_signature_only_when_signed():
    assert auth_payload("k1", 1764756000123, signed=False) == {"api_key": "k1", "timestamp": 1764756000123}
    assert auth_payload("k1", 1764756000123)["signature"] == DOCUMENTED
