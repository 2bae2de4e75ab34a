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
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from playlists.files import atomic_write_bytes
from playlists.wire import WireDocument, WireError, decode, to_dict

__all__ = [
    "MAX_ENVELOPE_BYTES",
    "WireError",
    "canonical_json",
    "key_id",
    "load_or_create_private_key",
    "private_key_from_pem",
    "private_key_pem",
    "public_key_b64",
    "public_key_bytes",
    "public_key_from_b64",
    "sign",
    "verify",
]

D = TypeVar("D", bound=WireDocument)
MAX_ENVELOPE_BYTES = 4 * 1024 * 1024
# RFC 8410: the PKCS#8 DER of an Ed25519 private key is this prefix and the 32-byte seed. Reading and
# writing that one form here spares the box cryptography's serialization package (~2 MB resident).
_PKCS8_ED25519 = bytes.fromhex("302e020100300506032b657004220420")
_PEM_BEGIN = b"-----BEGIN PRIVATE KEY-----"
_PEM_END = b"-----END PRIVATE KEY-----"


def canonical_json(obj: Any) -> bytes:
    """UTF-8 JSON with sorted keys and no insignificant whitespace: the bytes that get signed."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def key_id(public_key: Ed25519PublicKey) -> str:
    """A short stable id for a public key: the first 16 hex digits of sha256 of its raw bytes."""
    return hashlib.sha256(public_key_bytes(public_key)).hexdigest()[:16]


def public_key_bytes(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes_raw()


def public_key_b64(public_key: Ed25519PublicKey) -> str:
    return base64.b64encode(public_key_bytes(public_key)).decode()


def public_key_from_b64(text: str) -> Ed25519PublicKey:
    try:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError) as exc:
        raise WireError(f"not an Ed25519 public key: {exc}") from exc


def private_key_pem(key: Ed25519PrivateKey) -> bytes:
    """The key as unencrypted PKCS#8 PEM, byte for byte what ``cryptography`` writes."""
    return b"\n".join((_PEM_BEGIN, base64.b64encode(_PKCS8_ED25519 + key.private_bytes_raw()), _PEM_END, b""))


def private_key_from_pem(pem: bytes) -> Ed25519PrivateKey:
    """An Ed25519 key from PEM; raises WireError for anything else."""
    lines = pem.strip().splitlines()
    if len(lines) == 3 and lines[0] == _PEM_BEGIN and lines[2] == _PEM_END:
        der = _b64_or_empty(lines[1])
        if len(der) == len(_PKCS8_ED25519) + 32 and der.startswith(_PKCS8_ED25519):
            return Ed25519PrivateKey.from_private_bytes(der[len(_PKCS8_ED25519) :])
    # Any other layout (written by another tool): rare, so the full parser is loaded only then.
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise WireError(f"not a readable PEM private key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise WireError("not an Ed25519 private key")
    return key


def _b64_or_empty(text: bytes) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        return b""


def load_or_create_private_key(path: Path) -> Ed25519PrivateKey:
    """Load a PEM Ed25519 key, or make one and store it with mode 0600 (whole or absent)."""
    if path.exists():
        try:
            return private_key_from_pem(path.read_bytes())
        except WireError as exc:
            raise WireError(f"{path}: {exc}") from exc
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, private_key_pem(key), mode=0o600)
    os.chmod(path, 0o600)
    return key


def sign(document: WireDocument, private_key: Ed25519PrivateKey, kid: str) -> bytes:
    """Serialise a wire document into a signed envelope (bytes ready to publish).

    Raises WireError for a document that breaks its own constraints: a box would refuse it anyway.
    """
    payload = to_dict(document)
    sig = private_key.sign(canonical_json(payload))
    return canonical_json({"payload": payload, "sig": base64.b64encode(sig).decode(), "kid": kid})


def verify(
    raw: bytes,
    doc_type: type[D],
    keys: Mapping[str, Ed25519PublicKey] | Callable[[str], Ed25519PublicKey | None],
) -> tuple[D, str]:
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
    return decode(doc_type, payload), kid
