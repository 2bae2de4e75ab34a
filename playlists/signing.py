"""Ed25519 signatures over canonical JSON, in the envelope ``{"payload", "sig", "kid"}``."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ValidationError

from playlists.files import atomic_write_bytes

M = TypeVar("M", bound=BaseModel)
MAX_ENVELOPE_BYTES = 4 * 1024 * 1024


class WireError(ValueError):
    """A document that must not be trusted: malformed, unsigned, forged or of an unknown version."""


def canonical_json(obj: Any) -> bytes:
    """UTF-8 JSON with sorted keys and no insignificant whitespace: the bytes that get signed."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def key_id(public_key: Ed25519PublicKey) -> str:
    """A short stable id for a public key: the first 16 hex digits of sha256 of its raw bytes."""
    return hashlib.sha256(public_key_bytes(public_key)).hexdigest()[:16]


def public_key_bytes(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_b64(public_key: Ed25519PublicKey) -> str:
    return base64.b64encode(public_key_bytes(public_key)).decode()


def public_key_from_b64(text: str) -> Ed25519PublicKey:
    try:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError) as exc:
        raise WireError(f"not an Ed25519 public key: {exc}") from exc


def load_or_create_private_key(path: Path) -> Ed25519PrivateKey:
    """Load a PEM Ed25519 key, or make one and store it with mode 0600 (whole or absent)."""
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise WireError(f"{path} does not hold an Ed25519 private key")
        return key
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, pem, mode=0o600)
    os.chmod(path, 0o600)
    return key


def sign(document: BaseModel, private_key: Ed25519PrivateKey, kid: str) -> bytes:
    """Serialise a wire document into a signed envelope (bytes ready to publish)."""
    payload = document.model_dump(mode="json")
    sig = private_key.sign(canonical_json(payload))
    return canonical_json({"payload": payload, "sig": base64.b64encode(sig).decode(), "kid": kid})


def verify(
    raw: bytes,
    model: type[M],
    keys: Mapping[str, Ed25519PublicKey] | Callable[[str], Ed25519PublicKey | None],
) -> tuple[M, str]:
    """Check an envelope's signature with the key named by its kid and parse its payload.

    Returns the document and the kid that signed it. Raises WireError for anything untrustworthy.
    """
    if len(raw) > MAX_ENVELOPE_BYTES:
        raise WireError("envelope too large")
    try:
        envelope = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WireError(f"not JSON: {exc}") from exc
    if not isinstance(envelope, dict):
        raise WireError("envelope is not an object")
    payload, sig, kid = envelope.get("payload"), envelope.get("sig"), envelope.get("kid")
    if not isinstance(payload, dict) or not isinstance(sig, str) or not isinstance(kid, str):
        raise WireError("envelope needs payload (object), sig and kid (strings)")
    public_key = keys(kid) if callable(keys) else keys.get(kid)
    if public_key is None:
        raise WireError(f"unknown signing key {kid!r}")
    try:
        public_key.verify(base64.b64decode(sig, validate=True), canonical_json(payload))
    except (binascii.Error, ValueError, InvalidSignature) as exc:
        raise WireError("bad signature") from exc
    if payload.get("v") != 1:
        raise WireError(f"unknown document version {payload.get('v')!r}")
    try:
        return model.model_validate(payload), kid
    except ValidationError as exc:
        raise WireError(f"invalid {model.__name__}: {exc.error_count()} error(s)") from exc
