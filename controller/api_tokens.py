"""Per-user API tokens for automation: made with a name and an optional expiry (the secret is shown
once), listed, revoked. A user manages their own; an admin anyone's.

A token is sent as ``Authorization: Bearer loa_…`` and acts as its owner, with the owner's role and
communes; only its sha256 is stored. The ``loa_`` prefix tells it from the short-lived login tokens
of ``/api/v1/auth/token`` (server-side sessions, controller/auth.py) and lets secret scanners find
one pasted where it should not be.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlmodel import Session, col, select, update

from controller import audit_log
from controller.errors import Forbidden, InvalidInput, NotFound
from controller.i18n import N_
from controller.models import ApiToken, User, utcnow
from device_registry.credentials import token_hash

PREFIX = "loa_"
MAX_DAYS = 3650
#: The lifetimes the panel offers, in days (None: until revoked).
LIFETIMES = (30, 90, 365, None)
STATE_NAMES = {"active": N_("Active"), "expired": N_("Expired"), "revoked": N_("Revoked")}
# Writing last_used_at on every request would make each API call a write; a minute is precise enough.
_USE_RESOLUTION = timedelta(minutes=1)


def is_api_token(secret: str) -> bool:
    """Whether a bearer secret is a per-user API token (rather than a login token)."""
    return secret.startswith(PREFIX)


def may_manage(actor: User, owner_id: int) -> bool:
    return actor.role == "admin" or actor.id == owner_id


def state_of(token: ApiToken, *, now: datetime) -> str:
    """active, expired or revoked."""
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= now:
        return "expired"
    return "active"


def create_token(
    session: Session, *, actor: User, owner: User, name: str, expires_in_days: int | None
) -> tuple[str, ApiToken]:
    """A new token of ``owner``; returns the secret (never stored, shown once) and its row."""
    if not may_manage(actor, owner.id or 0):
        raise Forbidden(N_("Only an administrator may manage another user's API tokens."))
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInput(N_("Name the token (up to 100 characters), e.g. what uses it."), field="name")
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_DAYS:
        raise InvalidInput(
            N_("A token lasts from 1 to %(days)s days, or until revoked."), field="expires", days=MAX_DAYS
        )
    if not owner.is_active:
        raise InvalidInput(N_("This account is disabled: enable it first."), field="name")
    secret = PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    token = ApiToken(
        user_id=owner.id or 0,
        name=name,
        token_hash=token_hash(secret),
        hint=secret[: len(PREFIX) + 4],
        created_by=actor.id,
        created_at=now,
        expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    session.add(token)
    session.flush()
    audit_log.record(
        session,
        actor=actor,
        action="token.create",
        object_type="apitoken",
        object_id=token.id,
        owner=owner.username,
        name=name,
        expires_at=token.expires_at,
    )
    session.commit()
    session.refresh(token)
    return secret, token


def list_tokens(session: Session, *, owner_id: int) -> list[ApiToken]:
    """A user's tokens, newest first (revoked and expired ones too, for the record)."""
    query = select(ApiToken).where(ApiToken.user_id == owner_id).order_by(col(ApiToken.id).desc())
    return list(session.exec(query).all())


def get_token(session: Session, *, actor: User, token_id: int) -> ApiToken:
    """A token ``actor`` may manage; someone else's looks missing (its id says nothing)."""
    token = session.get(ApiToken, token_id)
    if token is None or not may_manage(actor, token.user_id):
        raise NotFound(N_("No such API token."))
    return token


def revoke_token(session: Session, *, actor: User, token: ApiToken) -> ApiToken:
    """End a token now (revoking twice changes nothing)."""
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.add(token)
        audit_log.record(
            session, actor=actor, action="token.revoke", object_type="apitoken", object_id=token.id
        )
        session.commit()
        session.refresh(token)
    return token


def revoke_all(session: Session, *, owner_id: int) -> int:
    """Revoke every live token of a user (when the account is disabled); the caller audits and commits."""
    result = session.exec(
        update(ApiToken)
        .where(col(ApiToken.user_id) == owner_id, col(ApiToken.revoked_at).is_(None))
        .values(revoked_at=utcnow())
    )
    return int(result.rowcount or 0)


def resolve_token(session: Session, secret: str) -> User | None:
    """The active user a live token belongs to, or None."""
    token = session.exec(select(ApiToken).where(ApiToken.token_hash == token_hash(secret))).first()
    now = utcnow()
    if token is None or state_of(token, now=now) != "active":
        return None
    user = session.get(User, token.user_id)
    if user is None or not user.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at > _USE_RESOLUTION:
        token.last_used_at = now
        session.add(token)
        session.commit()
    return user
