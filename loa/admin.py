"""Operator commands that write to the controller's database: ``loa province load`` (the province's
communes and wards), ``loa user add`` (the first admin, and any login after it), ``loa user password``
(a forgotten password, a locked-out admin) and ``loa agent-release add`` (a wheel of the box agent,
to roll out from the panel's API).

Passwords are read from standard input or asked at the terminal, never taken from the command line,
where other users of the server (``ps``) and the shell history would see them.
"""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import TextIO

from sqlmodel import Session, col, select

from controller import audit_log, login_limits
from controller.auth import MIN_PASSWORD_LENGTH, PROVINCE_WIDE, ROLES, end_sessions, hash_password
from controller.db import make_engine
from controller.models import User, Zone
from controller.seed import add_user, load_province
from controller.settings import Settings


class AdminError(RuntimeError):
    """The command cannot do what was asked; the message says why."""


def province_load(settings: Settings, *, province_code: int) -> tuple[str, int]:
    """Insert the province and its communes/wards that are missing; returns its name and commune count."""
    engine = make_engine(settings.resolved_database_url)
    try:
        with Session(engine) as session:
            try:
                province = load_province(session, province_code)
            except StopIteration:
                raise AdminError(f"no province with code {province_code}") from None
            communes = session.exec(select(Zone).where(Zone.parent_id == province.id)).all()
            return province.name, len(communes)
    finally:
        engine.dispose()


def read_password(stdin: TextIO, *, prompt: bool) -> str:
    """The first line of stdin, or (at a terminal) typed twice without echo."""
    if prompt:
        first = getpass.getpass("Mật khẩu (password): ")
        if getpass.getpass("Nhập lại (again): ") != first:
            raise AdminError("the two passwords differ")
        password = first
    else:
        password = stdin.readline().rstrip("\r\n")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AdminError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    return password


def user_add(
    settings: Settings,
    *,
    username: str,
    role: str,
    password: str,
    full_name: str | None = None,
    commune_codes: list[str] | None = None,
) -> User:
    """Create a login; editors and approvers need their communes (codes such as ``w17329``)."""
    if role not in ROLES:
        raise AdminError(f"role must be one of {', '.join(ROLES)}")
    codes = commune_codes or []
    if role not in PROVINCE_WIDE and not codes:
        raise AdminError(f"a {role} belongs to communes: give --commune CODE (see the panel's registry)")
    engine = make_engine(settings.resolved_database_url)
    try:
        with Session(engine) as session:
            if session.exec(select(User).where(User.username == username)).first() is not None:
                raise AdminError(f"user {username!r} already exists")
            communes = session.exec(
                select(Zone).where(col(Zone.code).in_(codes), Zone.kind == "commune")
            ).all()
            unknown = sorted(set(codes) - {zone.code for zone in communes})
            if unknown:
                raise AdminError(
                    f"no commune with code {', '.join(unknown)} (run `loa province load` first?)"
                )
            user = add_user(
                session,
                username=username,
                full_name=full_name or username,
                password=password,
                role=role,
                commune_ids=[zone.id or 0 for zone in communes],
            )
            audit_log.record(
                session,
                actor=None,
                action="user.create",
                object_type="user",
                object_id=user.id,
                role=role,
                communes=sorted(codes),
                via="cli",
            )
            session.commit()
            session.refresh(user)
            return user
    finally:
        engine.dispose()


def user_password(settings: Settings, *, username: str, password: str) -> User:
    """Give a login a new password from the server itself (a forgotten password, the only admin
    locked out): its sessions end and a lock on its username is lifted; the API tokens stay."""
    engine = make_engine(settings.resolved_database_url)
    try:
        with Session(engine) as session:
            user = session.exec(select(User).where(User.username == username)).first()
            if user is None:
                raise AdminError(f"no user {username!r}")
            user.password_hash = hash_password(password)
            session.add(user)
            ended = end_sessions(session, user_id=user.id or 0)
            login_limits.record_success(session, username=username)
            audit_log.record(
                session,
                actor=None,
                action="user.password_reset",
                object_type="user",
                object_id=user.id,
                sessions_ended=ended,
                via="cli",
            )
            session.commit()
            session.refresh(user)
            return user
    finally:
        engine.dispose()


def stdin_is_terminal() -> bool:
    return sys.stdin.isatty()


def release_add(settings: Settings, wheel: Path) -> str:
    """Add a wheel of the agent to the controller's releases; returns a one-line summary."""
    from audio import MediaStore
    from controller.agent_releases import add_release
    from controller.errors import LoaError

    engine = make_engine(settings.resolved_database_url)
    try:
        with Session(engine) as session:
            try:
                store = MediaStore(settings.media_dir)
                release = add_release(session, store, user=None, data=wheel.read_bytes())
            except LoaError as exc:
                raise AdminError(f"{wheel}: {exc.message}") from None
            except OSError as exc:
                raise AdminError(f"{wheel}: {exc.strerror or exc}") from None
    finally:
        engine.dispose()
    return f"agent {release.version} added ({release.bytes} bytes, sha256 {release.sha256})"
