"""PostgreSQL's own tools for backups: ``pg_dump``, ``pg_restore`` and ``psql``.

Debian keeps them per major version in ``/usr/lib/postgresql/<major>/bin`` (``/usr/bin`` has a
wrapper); the newest installed is used, since pg_dump must not be older than the server. The
password never goes on a command line (other users see those): it is passed in ``PGPASSWORD``.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url


class PgToolError(RuntimeError):
    """A PostgreSQL tool is missing or failed; the message is one line."""


def tool(name: str) -> str:
    """The path of ``name`` (pg_dump, pg_restore, psql) of the newest PostgreSQL installed."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=_major, reverse=True)
    if found:
        return found[0]
    on_path = shutil.which(name)
    if on_path is None:
        raise PgToolError(f"{name} is not installed (apt-get install postgresql-client)")
    return on_path


def _major(path: str) -> int:
    part = Path(path).parent.parent.name
    return int(part) if part.isdigit() else 0


def connection(url: str) -> tuple[str, dict[str, str]]:
    """A libpq URI without the password, and the environment that carries it."""
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    uri = parsed.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return uri, env


def dump(url: str, target: Path) -> str:
    """``pg_dump`` in the custom format (one consistent snapshot); returns pg_dump's version."""
    uri, env = connection(url)
    binary = tool("pg_dump")
    _run([binary, "--format=custom", "--no-password", "--file", str(target), "--dbname", uri], env)
    return _run([binary, "--version"], env).strip()


def check_dump(path: Path) -> None:
    """Refuse a dump that ``pg_restore`` cannot read."""
    _run([tool("pg_restore"), "--list", str(path)], dict(os.environ))


def replace_database(url: str, dump_path: Path) -> None:
    """Empty the database and load the dump, in one transaction: all of it or nothing."""
    uri, env = connection(url)
    folder = dump_path.parent
    script = folder / "restore.sql"
    _run([tool("pg_restore"), "--no-owner", "--no-privileges", "--file", str(script), str(dump_path)], env)
    wipe = folder / "wipe.sql"
    wipe.write_text("DROP SCHEMA public CASCADE;\nCREATE SCHEMA public;\n")
    psql = [tool("psql"), "--no-psqlrc", "--quiet", "--no-password", "--set", "ON_ERROR_STOP=1"]
    _run([*psql, "--single-transaction", "--file", str(wipe), "--file", str(script), "--dbname", uri], env)


def _run(command: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise PgToolError(f"{Path(command[0]).name} failed: {lines[-1] if lines else done.returncode}")
    return done.stdout
