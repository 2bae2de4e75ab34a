"""Managing logins (admins only): create, change role and communes, reset a password, disable and
enable. Disabling ends the user's sessions and API tokens at once; a password reset ends their
sessions. Every change goes into the audit log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlmodel import Session, col, func, select

from controller import api_tokens, audit_log
from controller.auth import (
    MIN_PASSWORD_LENGTH,
    PROVINCE_WIDE,
    ROLES,
    end_sessions,
    hash_password,
    require,
)
from controller.errors import Conflict, InvalidInput, NotFound
from controller.i18n import N_
from controller.models import User, UserZone, Zone

USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")


@dataclass(frozen=True)
class UserRow:
    """A user and the communes they belong to (empty for the province-wide roles)."""

    user: User
    communes: list[Zone]


def list_users(session: Session, *, actor: User) -> list[UserRow]:
    """Every login, active ones first, by username."""
    require(actor, "user.manage")
    users = session.exec(select(User).order_by(col(User.is_active).desc(), col(User.username))).all()
    links = session.exec(select(UserZone.user_id, Zone).join(Zone, col(Zone.id) == UserZone.zone_id)).all()
    communes: dict[int, list[Zone]] = {}
    for user_id, zone in links:
        communes.setdefault(user_id, []).append(zone)
    return [UserRow(u, sorted(communes.get(u.id or 0, []), key=lambda z: z.name)) for u in users]


def get_user(session: Session, *, actor: User, user_id: int) -> UserRow:
    require(actor, "user.manage")
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(N_("No such user."))
    zones = session.exec(
        select(Zone).join(UserZone, col(UserZone.zone_id) == Zone.id).where(UserZone.user_id == user_id)
    ).all()
    return UserRow(user, sorted(zones, key=lambda z: z.name))


def communes(session: Session) -> list[Zone]:
    """The communes and wards a user can be given, by name."""
    return list(session.exec(select(Zone).where(Zone.kind == "commune").order_by(col(Zone.name))).all())


def create_user(
    session: Session,
    *,
    actor: User,
    username: str,
    full_name: str,
    role: str,
    password: str,
    commune_ids: list[int],
) -> User:
    """A new active login."""
    require(actor, "user.manage")
    username = username.strip().lower()
    if not USERNAME.fullmatch(username):
        raise InvalidInput(
            N_("A username has 2 to 64 lowercase letters, digits, dots, dashes or underscores."),
            field="username",
        )
    if session.exec(select(User).where(func.lower(User.username) == username)).first() is not None:
        raise InvalidInput(N_("This username is taken."), field="username")
    _check_password(password)
    chosen = _chosen_communes(session, role=role, commune_ids=commune_ids)
    user = User(
        username=username,
        full_name=_full_name(full_name, username),
        password_hash=hash_password(password),
        role=role,
    )
    session.add(user)
    session.flush()
    for zone in chosen:
        session.add(UserZone(user_id=user.id or 0, zone_id=zone.id or 0))
    audit_log.record(
        session,
        actor=actor,
        action="user.create",
        object_type="user",
        object_id=user.id,
        username=username,
        role=role,
        communes=sorted(z.code for z in chosen),
        via="panel",
    )
    session.commit()
    session.refresh(user)
    return user


def update_user(
    session: Session, *, actor: User, user: User, full_name: str, role: str, commune_ids: list[int]
) -> User:
    """Change a user's name, role and communes (effective at their next request)."""
    require(actor, "user.manage")
    chosen = _chosen_communes(session, role=role, commune_ids=commune_ids)
    if role != user.role and user.id == actor.id:
        raise InvalidInput(N_("You cannot change your own role."), field="role")
    old_zones = set(session.exec(select(UserZone.zone_id).where(UserZone.user_id == user.id)).all())
    new_zones = {z.id or 0 for z in chosen}
    before = {"role": user.role, "full_name": user.full_name}
    user.full_name, user.role = _full_name(full_name, user.username), role
    session.add(user)
    for zone_id in old_zones - new_zones:
        link = session.get(UserZone, (user.id, zone_id))
        if link is not None:
            session.delete(link)
    for zone_id in new_zones - old_zones:
        session.add(UserZone(user_id=user.id or 0, zone_id=zone_id))
    audit_log.record(
        session,
        actor=actor,
        action="user.update",
        object_type="user",
        object_id=user.id,
        before={**before, "communes": sorted(old_zones)},
        after={"role": role, "full_name": user.full_name, "communes": sorted(new_zones)},
    )
    session.commit()
    session.refresh(user)
    return user


def reset_password(session: Session, *, actor: User, user: User, password: str) -> None:
    """Give a user a new password; their logins end (the API tokens stay: revoke them apart)."""
    require(actor, "user.manage")
    _check_password(password)
    user.password_hash = hash_password(password)
    session.add(user)
    ended = end_sessions(session, user_id=user.id or 0)
    audit_log.record(
        session,
        actor=actor,
        action="user.password_reset",
        object_type="user",
        object_id=user.id,
        sessions_ended=ended,
    )
    session.commit()


def set_active(session: Session, *, actor: User, user: User, active: bool) -> User:
    """Enable or disable a login; disabling ends its sessions and revokes its API tokens at once."""
    require(actor, "user.manage")
    if user.is_active == active:
        return user
    if not active and user.id == actor.id:
        raise Conflict(N_("You cannot disable your own account."))
    user.is_active = active
    session.add(user)
    detail: dict[str, object] = {}
    if not active:
        detail["sessions_ended"] = end_sessions(session, user_id=user.id or 0)
        detail["tokens_revoked"] = api_tokens.revoke_all(session, owner_id=user.id or 0)
    audit_log.record(
        session,
        actor=actor,
        action="user.enable" if active else "user.disable",
        object_type="user",
        object_id=user.id,
        **detail,
    )
    session.commit()
    session.refresh(user)
    return user


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            N_("A password has at least %(count)s characters."), field="password", count=MIN_PASSWORD_LENGTH
        )


def _full_name(full_name: str, username: str) -> str:
    name = full_name.strip()
    if len(name) > 200:
        raise InvalidInput(N_("A full name has at most 200 characters."), field="full_name")
    return name or username


def _chosen_communes(session: Session, *, role: str, commune_ids: list[int]) -> list[Zone]:
    """The communes a user of ``role`` gets: none for the province-wide roles, at least one otherwise."""
    if role not in ROLES:
        raise InvalidInput(N_("Choose a role."), field="role")
    if role in PROVINCE_WIDE:
        return []
    zones = session.exec(select(Zone).where(col(Zone.id).in_(set(commune_ids)), Zone.kind == "commune")).all()
    if not zones or len(zones) != len(set(commune_ids)):
        raise InvalidInput(N_("Choose the communes of an editor or approver."), field="communes")
    return list(zones)
