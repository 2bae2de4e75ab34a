"""Device cookies: a lockout that a stranger cannot turn against a user (OWASP, "Slow Down Online
Guessing Attacks with Device Cookies").

A browser that logged in as a user gets a cookie naming that user, signed with the controller's key.
When that username is locked by failed logins (from anywhere), a browser that shows a valid cookie
for it is not shut out: its own failures are counted apart, against the cookie, and lock only that
browser. So anyone can still lock a username for browsers it has never logged in from, which is the
point, but not the user's own phone or office computer.

The cookie proves only an earlier login, never grants one: the password is still checked.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from datetime import datetime, timedelta

from cryptography.exceptions import InvalidSignature

from controller.keys import Signer
from controller.login_limits import username_key

LIFETIME = timedelta(days=180)


def cookie_name(secure: bool) -> str:
    return "__Host-loa_device" if secure else "loa_device"


def issue(signer: Signer, *, username: str, now: datetime) -> str:
    """A new cookie value for a browser that just logged in as ``username``."""
    payload = f"{username_key(username)}|{int(now.timestamp())}|{secrets.token_urlsafe(12)}".encode()
    signature = signer.private_key.sign(b"loa-device-cookie|" + payload)
    return f"{_b64(payload)}.{_b64(signature)}"


def throttle_key(signer: Signer, value: str | None, *, username: str, now: datetime) -> str | None:
    """The key this browser's failures count against (``dev:…``) if ``value`` is a valid, unexpired
    cookie of ``username``; None otherwise (a stranger's browser, a forged or old cookie)."""
    if not value or "." not in value or len(value) > 400:
        return None
    try:
        payload, signature = (base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)) for p in value.split(".", 1))
        signer.private_key.public_key().verify(signature, b"loa-device-cookie|" + payload)
        name, issued, nonce = payload.decode().split("|")
        issued_at = datetime.fromtimestamp(int(issued), tz=now.tzinfo)
    except (InvalidSignature, ValueError, binascii.Error, UnicodeDecodeError):
        return None
    if name != username_key(username) or not timedelta(0) <= now - issued_at <= LIFETIME:
        return None
    return f"dev:{nonce}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")
