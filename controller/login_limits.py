"""Login rate limiting: failed logins are counted per username and per client address, and too many
within the window lock that username (or address) out for a while.

A username is counted whether it exists or not, so a lock says nothing about which usernames are
real. The counts live in the database (``LoginThrottle``), so every controller replica sees the
same ones. The rule itself is :func:`after_failure`, a pure function.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from controller import audit_log
from controller.models import LoginThrottle
from controller.settings import Settings


@dataclass(frozen=True)
class LoginLimits:
    """How many failures lock a username or an address, and for how long (also the counting window)."""

    per_username: int
    per_address: int
    lockout: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginLimits:
        return cls(
            per_username=settings.login_max_failures,
            per_address=settings.login_max_failures_per_address,
            lockout=timedelta(minutes=settings.login_lockout_minutes),
        )


@dataclass(frozen=True)
class Tally:
    """Failures counted since ``first_failed_at``, and the lock they earned, if any."""

    failures: int
    first_failed_at: datetime
    locked_until: datetime | None = None


def after_failure(tally: Tally | None, *, now: datetime, limit: int, lockout: timedelta) -> Tally:
    """The tally after one more failure: failures older than the window (or from before an expired
    lock) are forgotten, and reaching ``limit`` locks until ``now + lockout``."""
    stale = tally is None or now - tally.first_failed_at >= lockout or tally.locked_until is not None
    failures, first = (1, now) if stale or tally is None else (tally.failures + 1, tally.first_failed_at)
    return Tally(failures, first, now + lockout if failures >= limit else None)


def username_key(username: str) -> str:
    """The throttle key of a username (any case, surrounding spaces ignored)."""
    return f"user:{username.strip().lower()[:64]}"


def address_key(address: str) -> str:
    return f"addr:{address[:90]}"


def locked_until(
    session: Session, *, username: str, address: str, now: datetime, device: str | None = None
) -> datetime | None:
    """When the lock on this username or this address ends (the later of the two); None if neither is.
    A browser with a device cookie of this username (``device``, controller/device_cookies.py) is
    held only by its own lock."""
    keys = (device,) if device else (username_key(username), address_key(address))
    rows = session.exec(select(LoginThrottle).where(col(LoginThrottle.key).in_(keys))).all()
    ends = [row.locked_until for row in rows if row.locked_until is not None and row.locked_until > now]
    return max(ends, default=None)


def record_failure(
    session: Session,
    *,
    username: str,
    address: str,
    limits: LoginLimits,
    now: datetime,
    device: str | None = None,
) -> datetime | None:
    """Count a failed login against the username and the address, or only against the browser's
    ``device`` cookie when it has one (the caller commits); returns when the lock this failure earned
    ends, or None. A new lock goes into the audit log."""
    session.execute(
        delete(LoginThrottle).where(
            col(LoginThrottle.first_failed_at) < now - limits.lockout,
            or_(col(LoginThrottle.locked_until).is_(None), col(LoginThrottle.locked_until) < now),
        )
    )
    until = None
    counted = (
        [(device, limits.per_username)]
        if device
        else [(username_key(username), limits.per_username), (address_key(address), limits.per_address)]
    )
    for key, limit in counted:
        row = _locked_row(session, key, now)
        old = Tally(row.failures, row.first_failed_at, row.locked_until) if row.failures else None
        tally = after_failure(old, now=now, limit=limit, lockout=limits.lockout)
        row.failures, row.first_failed_at, row.locked_until = (
            tally.failures,
            tally.first_failed_at,
            tally.locked_until,
        )
        session.add(row)
        if tally.locked_until is not None:
            until = max(until or tally.locked_until, tally.locked_until)
            audit_log.record(
                session,
                actor=None,
                action="login.locked",
                object_type="login",
                object_id=key,
                failures=tally.failures,
                until=tally.locked_until.isoformat(),
            )
    return until


def record_success(session: Session, *, username: str, device: str | None = None) -> None:
    """A good login clears its username's failures and its browser's (not its address's: one valid
    account must not reset the count of a guesser on the same address). The caller commits."""
    keys = [username_key(username), *([device] if device else [])]
    session.execute(delete(LoginThrottle).where(col(LoginThrottle.key).in_(keys)))


def _locked_row(session: Session, key: str, now: datetime) -> LoginThrottle:
    """The row of ``key``, made if missing and locked for update, so concurrent failures (on
    PostgreSQL, from several replicas) count one after the other."""
    insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert
    session.execute(
        insert(LoginThrottle)
        .values(key=key, failures=0, first_failed_at=now)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    query = select(LoginThrottle).where(LoginThrottle.key == key).with_for_update()
    return session.exec(query.execution_options(populate_existing=True)).one()
