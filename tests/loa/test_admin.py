"""``loa province load`` and ``loa user add``: a fresh server gets its communes and its first admin
from the command line; the password comes from stdin, never from the arguments."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import Session, select

from controller.auth import authenticate
from controller.db import make_engine, migrate
from controller.models import UserZone, Zone
from tests.databases import database_url


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    url = database_url(tmp_path)
    migrate(url)
    return {**os.environ, "LOA_DATA_DIR": str(tmp_path / "data"), "LOA_DATABASE_URL": url}


def loa(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "loa", *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_first_admin_from_stdin_can_log_in(env: dict[str, str]) -> None:
    done = loa(env, "user", "add", "--username", "admin", "--role", "admin", stdin="a-long-secret-1\n")

    assert done.returncode == 0, done.stderr
    assert "admin" in done.stdout and "a-long-secret-1" not in done.stdout
    engine = make_engine(env["LOA_DATABASE_URL"])
    with Session(engine) as session:
        assert authenticate(session, "admin", "a-long-secret-1") is not None
        assert authenticate(session, "admin", "wrong") is None
    engine.dispose()


def test_editor_belongs_to_the_communes_named_by_code(env: dict[str, str]) -> None:
    loaded = loa(env, "province", "load")
    assert loaded.returncode == 0, loaded.stderr
    assert "communes and wards" in loaded.stdout
    engine = make_engine(env["LOA_DATABASE_URL"])
    with Session(engine) as session:
        commune = session.exec(select(Zone).where(Zone.kind == "commune").order_by(Zone.code)).first()
    assert commune is not None

    done = loa(
        env,
        "user",
        "add",
        "--username",
        "lan",
        "--role",
        "editor",
        "--commune",
        commune.code,
        stdin="pw-of-lan-123\n",
    )

    assert done.returncode == 0, done.stderr
    with Session(engine) as session:
        user = authenticate(session, "lan", "pw-of-lan-123")
        assert user is not None and user.role == "editor"
        assert session.exec(select(UserZone.zone_id).where(UserZone.user_id == user.id)).all() == [commune.id]
    engine.dispose()
    assert loa(env, "province", "load").returncode == 0  # again: nothing doubled


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--username", "x", "--role", "admin"], "short\n", "at least 10 characters"),
        (["--username", "x", "--role", "boss"], "long-enough-pw\n", "role must be one of"),
        (["--username", "x", "--role", "editor"], "long-enough-pw\n", "--commune"),
        (
            ["--username", "x", "--role", "editor", "--commune", "w0"],
            "long-enough-pw\n",
            "no commune with code w0",
        ),
    ],
)
def test_bad_requests_are_one_line_on_stderr(
    env: dict[str, str], args: list[str], stdin: str, message: str
) -> None:
    done = loa(env, "user", "add", *args, stdin=stdin)

    assert done.returncode == 1
    assert message in done.stderr and "Traceback" not in done.stderr


def test_an_existing_username_is_refused(env: dict[str, str]) -> None:
    assert (
        loa(env, "user", "add", "--username", "admin", "--role", "admin", stdin="first-password\n").returncode
        == 0
    )

    again = loa(env, "user", "add", "--username", "admin", "--role", "admin", stdin="second-password\n")

    assert again.returncode == 1 and "already exists" in again.stderr
