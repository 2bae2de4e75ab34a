"""One-time enrolment codes: what a technician types on a box to join it to the controller.

A code is 10 characters from an alphabet without look-alikes (no 0/O, 1/I/L), shown grouped as
``ABCD-EFGH-JK`` (31^10, about 50 bits: plenty for a code that is used once, expires within days
and is checked by a rate-limited endpoint). The controller keeps only its sha256 and its expiry.
Typing is forgiving: case, spaces and dashes do not matter.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from device_registry.credentials import token_hash, token_matches

__all__ = [
    "CODE_ALPHABET",
    "CODE_LENGTH",
    "DEFAULT_CODE_TTL",
    "EnrolmentCode",
    "code_expired",
    "code_hash",
    "code_matches",
    "format_code",
    "new_enrolment_code",
    "normalise_code",
]

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10
DEFAULT_CODE_TTL = timedelta(hours=72)
_IGNORED = str.maketrans("", "", " -_\t")


@dataclass(frozen=True, kw_only=True)
class EnrolmentCode:
    """A new code: ``code`` is shown once to the technician, the rest is what the database keeps."""

    code: str
    code_hash: str
    expires_at: datetime


def new_enrolment_code(*, now: datetime, ttl: timedelta = DEFAULT_CODE_TTL) -> EnrolmentCode:
    """A random one-time code valid from ``now`` (aware) for ``ttl``."""
    _require_aware(now)
    if ttl <= timedelta(0):
        raise ValueError("ttl must be positive")
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return EnrolmentCode(code=format_code(raw), code_hash=token_hash(raw), expires_at=now + ttl)


def normalise_code(text: str) -> str | None:
    """The code as stored (upper case, no separators), or None if ``text`` cannot be a code."""
    raw = text.translate(_IGNORED).upper()
    if len(raw) != CODE_LENGTH or any(char not in CODE_ALPHABET for char in raw):
        return None
    return raw


def format_code(raw: str) -> str:
    """``ABCDEFGHJK`` → ``ABCD-EFGH-JK``, the way codes are shown and printed."""
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def code_hash(text: str) -> str:
    """What the database keeps of a code (sha256 hex of its normal form)."""
    raw = normalise_code(text)
    if raw is None:
        raise ValueError("not an enrolment code")
    return token_hash(raw)


def code_matches(text: str, stored_hash: str) -> bool:
    """Whether a typed code is the one behind ``stored_hash`` (constant-time comparison)."""
    raw = normalise_code(text)
    return raw is not None and token_matches(raw, stored_hash)


def code_expired(expires_at: datetime, *, now: datetime) -> bool:
    """Whether a code that expires at ``expires_at`` can no longer be used at ``now``."""
    _require_aware(expires_at)
    _require_aware(now)
    return now >= expires_at


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("datetimes must be timezone-aware")
