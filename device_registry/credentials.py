"""Secrets given to boxes and users: made random, stored only as hashes."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

DEVICE_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def new_token() -> str:
    """A random bearer token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What the database keeps of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str, stored_hash: str) -> bool:
    return hmac.compare_digest(token_hash(token), stored_hash)


def valid_device_id(device_id: str) -> bool:
    """Device ids appear in MQTT topics: lowercase letters, digits and dashes only."""
    return bool(DEVICE_ID_RE.match(device_id))
