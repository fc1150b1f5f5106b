"""The key that signs export manifests: Ed25519, from AUDIT_SIGNING_KEY.

Ed25519 rather than HMAC-SHA256 (docs/decisions.md): an auditor verifies with the public key
shipped in the export and can never forge a signature, whereas an HMAC verifier must hold the
very secret that signs. Ed25519 signatures are deterministic (RFC 8032), so the same manifest
always gets the same signature, which keeps exports byte-identical when re-made.
"""

from __future__ import annotations

import hashlib
import re

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALGORITHM = "Ed25519"
_HEX_SEED = re.compile(r"^[0-9a-fA-F]{64}$")


class SigningKeyError(ValueError):
    """AUDIT_SIGNING_KEY is missing or unusable (the message never contains the key)."""


def private_key(secret: str | None) -> Ed25519PrivateKey:
    """The signing key from AUDIT_SIGNING_KEY: an Ed25519 private key in PEM (PKCS#8), a
    32-byte seed as 64 hex digits, or any other secret text, whose SHA-256 is the seed."""
    if not secret:
        raise SigningKeyError("AUDIT_SIGNING_KEY is not set: exports are signed with it "
                              "(an Ed25519 PEM key, 64 hex digits, or a long random secret)")
    text = secret.strip()
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_private_key(text.encode(), password=None)
        except ValueError as exc:
            raise SigningKeyError("AUDIT_SIGNING_KEY looks like PEM but cannot be read") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise SigningKeyError("AUDIT_SIGNING_KEY is a PEM key but not Ed25519")
        return key
    seed = bytes.fromhex(text) if _HEX_SEED.match(text) else hashlib.sha256(text.encode()).digest()
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_pem(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def fingerprint(public_key: Ed25519PublicKey) -> str:
    """`sha256:` + hex SHA-256 of the raw 32-byte public key: what an auditor compares with
    the fingerprint the organisation published out of band."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def load_public_pem(data: bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def sign(key: Ed25519PrivateKey, message: bytes) -> bytes:
    return key.sign(message)


def signature_valid(public_key: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    try:
        public_key.verify(signature, message)
    except InvalidSignature:
        return False
    return True
