"""Passwords, logins (rate-limited), server-side sessions, and who may do what where.

A login is a server-side ``AuthSession`` row found by the sha256 of its token: a panel cookie
(``web``) or a bearer token from ``/api/v1/auth/token`` (``api``). Both end after the idle limit
and the absolute limit (``LOA_SESSION_IDLE_MINUTES``, ``LOA_SESSION_MAX_HOURS``), when the user
logs out, or at once when an admin disables the user or resets their password. Per-user API tokens
for automation live in controller/api_tokens.py.
"""

from __future__ import annotations

import math
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, col, delete, select

from controller import audit_log, login_limits
from controller.errors import Forbidden, TooManyRequests, Unauthenticated
from controller.i18n import N_
from controller.login_limits import LoginLimits
from controller.models import AuthSession, User, UserZone, Zone, utcnow
from controller.settings import Settings
from device_registry.credentials import new_token, token_hash

_hasher = PasswordHasher()
# A hash to verify against when the user does not exist, so timing does not reveal usernames.
_DUMMY_HASH = _hasher.hash("loa-no-such-user")

MIN_PASSWORD_LENGTH = 10
ROLES = ("admin", "editor", "approver", "auditor", "technician")
ROLE_NAMES = {
    "admin": N_("Province administrator"),
    "editor": N_("Commune editor"),
    "approver": N_("Commune approver"),
    "auditor": N_("Auditor (Culture Department)"),
    "technician": N_("Technician"),
}
# Roles that see the whole province; the others see only their communes.
PROVINCE_WIDE = {"admin", "auditor", "technician"}

PERMISSIONS: dict[str, set[str]] = {
    "bulletin.view": {"admin", "editor", "approver", "auditor"},
    "bulletin.write": {"admin", "editor"},
    "bulletin.decide": {"admin", "approver"},
    "schedule.write": {"admin", "editor", "approver"},
    "asrun.view": {"admin", "editor", "approver", "auditor"},
    "device.view": {"admin", "editor", "approver", "auditor", "technician"},
    "device.manage": {"admin", "technician"},
    "device.command": {"admin", "technician"},
    "release.manage": {"admin"},
    "release.rollout": {"admin", "technician"},
    "user.manage": {"admin"},
}


class LoginLocked(TooManyRequests):
    """Too many failed logins for this username or from this address: no password is checked."""

    def __init__(self, left: timedelta) -> None:
        self.retry_after = max(1, math.ceil(left.total_seconds()))
        super().__init__(
            N_("Too many failed logins. Try again in %(minutes)s minutes."),
            minutes=math.ceil(self.retry_after / 60),
        )

    def details(self) -> dict[str, object]:
        return {"retry_after": self.retry_after}


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The user these credentials belong to; a failure goes into the audit log (never the password)."""
    user = session.exec(select(User).where(User.username == username.strip())).first()
    if user is None:
        verify_password(password, _DUMMY_HASH)
        reason = "unknown user"
    elif not verify_password(password, user.password_hash):
        reason = "wrong password"
    elif not user.is_active:
        reason = "inactive"
    else:
        return user
    _login_failed(session, user, username, reason)
    return None


def _login_failed(session: Session, user: User | None, username: str, reason: str) -> None:
    name = username.strip()[:64]
    audit_log.record(
        session, actor=user, action="login.failed", object_type="user", object_id=name, reason=reason
    )
    session.commit()


def check_login(
    session: Session,
    *,
    username: str,
    password: str,
    address: str,
    limits: LoginLimits,
    now: datetime | None = None,
    device: str | None = None,
) -> User:
    """The user these credentials belong to, within the login limits: raises ``LoginLocked`` while
    the username or the client address is locked (the same whether the user exists or not), or
    ``Unauthenticated``; each failure is counted and audited. ``device``: the throttle key of a
    browser that logged in as this user before (controller/device_cookies.py)."""
    now = now or utcnow()
    until = login_limits.locked_until(session, username=username, address=address, now=now, device=device)
    if until is not None:
        raise LoginLocked(until - now)
    user = authenticate(session, username, password)
    if user is None:
        until = login_limits.record_failure(
            session, username=username, address=address, limits=limits, now=now, device=device
        )
        session.commit()
        if until is not None:
            raise LoginLocked(until - now)
        raise Unauthenticated(N_("Wrong username or password."))
    login_limits.record_success(session, username=username, device=device)
    session.commit()
    return user


def open_session(session: Session, *, user: User, kind: str) -> tuple[str, AuthSession]:
    """Start a login; returns the token (given to the client once) and its row."""
    token = new_token()
    row = AuthSession(
        token_hash=token_hash(token), user_id=user.id or 0, kind=kind, csrf_token=secrets.token_urlsafe(24)
    )
    session.add(row)
    audit_log.record(session, actor=user, action="login", object_type="user", object_id=user.id, kind=kind)
    session.commit()
    return token, row


def resolve_session(
    session: Session, *, token: str, kind: str, settings: Settings
) -> tuple[User, AuthSession] | None:
    """The user behind a login token, if the login is still alive (idle and absolute limits)."""
    row = session.get(AuthSession, token_hash(token))
    if row is None or row.kind != kind:
        return None
    now = utcnow()
    if _expired(row, now=now, settings=settings):
        session.delete(row)
        session.commit()
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    if now - row.last_seen_at > timedelta(minutes=1):
        row.last_seen_at = now
        session.add(row)
        session.commit()
    return user, row


def _expired(row: AuthSession, *, now: datetime, settings: Settings) -> bool:
    idle = timedelta(minutes=settings.session_idle_minutes)
    longest = timedelta(hours=settings.session_max_hours)
    return now - row.last_seen_at > idle or now - row.created_at > longest


def close_session(session: Session, token: str) -> None:
    session.exec(delete(AuthSession).where(col(AuthSession.token_hash) == token_hash(token)))
    session.commit()


def end_sessions(session: Session, *, user_id: int) -> int:
    """Log a user out everywhere (panel and API login tokens); the caller audits and commits."""
    result = session.exec(delete(AuthSession).where(col(AuthSession.user_id) == user_id))
    return int(result.rowcount or 0)


def prune_sessions(session: Session, *, settings: Settings, now: datetime | None = None) -> int:
    """Delete the logins that have expired (they are refused anyway; this keeps the table small)."""
    now = now or utcnow()
    result = session.exec(
        delete(AuthSession).where(
            (col(AuthSession.last_seen_at) < now - timedelta(minutes=settings.session_idle_minutes))
            | (col(AuthSession.created_at) < now - timedelta(hours=settings.session_max_hours))
        )
    )
    session.commit()
    return int(result.rowcount or 0)


def require(user: User, permission: str) -> None:
    if user.role not in PERMISSIONS[permission]:
        raise Forbidden(N_("Your account may not do this."))


def commune_ids(session: Session, user: User) -> set[int] | None:
    """The communes a user may see; None means the whole province."""
    if user.role in PROVINCE_WIDE:
        return None
    return set(session.exec(select(UserZone.zone_id).where(UserZone.user_id == user.id)).all())


def commune_of(session: Session, zone: Zone) -> Zone | None:
    """The commune a zone belongs to (itself for a commune; None for the province)."""
    current: Zone | None = zone
    while current is not None and current.kind != "commune":
        current = session.get(Zone, current.parent_id) if current.parent_id else None
    return current


def can_touch_zone(session: Session, user: User, zone: Zone) -> bool:
    allowed = commune_ids(session, user)
    if allowed is None:
        return True
    commune = commune_of(session, zone)
    return commune is not None and commune.id in allowed
