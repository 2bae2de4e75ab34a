"""Passwords, server-side sessions and API tokens, and who may do what where."""

from __future__ import annotations

import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, col, delete, select

from controller import audit_log
from controller.errors import Forbidden
from controller.i18n import N_
from controller.models import AuthSession, User, UserZone, Zone, utcnow
from controller.settings import Settings
from device_registry.credentials import new_token, token_hash

_hasher = PasswordHasher()
# A hash to verify against when the user does not exist, so timing does not reveal usernames.
_DUMMY_HASH = _hasher.hash("loa-no-such-user")

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
}


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
        return _login_failed(session, None, username, "unknown user")
    if not verify_password(password, user.password_hash):
        return _login_failed(session, user, username, "wrong password")
    if not user.is_active:
        return _login_failed(session, user, username, "inactive")
    return user


def _login_failed(session: Session, user: User | None, username: str, reason: str) -> None:
    name = username.strip()[:64]
    audit_log.record(
        session, actor=user, action="login.failed", object_type="user", object_id=name, reason=reason
    )
    session.commit()


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
    """The user behind a token, if the login is still alive (idle and absolute limits for the web)."""
    row = session.get(AuthSession, token_hash(token))
    if row is None or row.kind != kind:
        return None
    now = utcnow()
    if kind == "web" and (
        now - row.last_seen_at > timedelta(minutes=settings.session_idle_minutes)
        or now - row.created_at > timedelta(hours=settings.session_max_hours)
    ):
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


def close_session(session: Session, token: str) -> None:
    session.exec(delete(AuthSession).where(col(AuthSession.token_hash) == token_hash(token)))
    session.commit()


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
