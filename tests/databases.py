"""Which database the tests run on: SQLite files by default, PostgreSQL with TEST_DATABASE=postgresql.

With PostgreSQL, one real server (loa/postgres.py, a free port, a throwaway cluster) serves the
whole test run, and every test world gets a fresh database in it.
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import tempfile
from pathlib import Path

import psycopg

from loa.postgres import Postgres

_server: Postgres | None = None
_numbers = itertools.count(1)
_sqlite_template: Path | None = None
_pg_template: str | None = None


def on_postgresql() -> bool:
    return os.environ.get("TEST_DATABASE", "sqlite") == "postgresql"


def database_url(folder: Path) -> str:
    """A fresh, empty database for one test world."""
    if not on_postgresql():
        return f"sqlite:///{folder / 'loa.db'}"
    server = _postgres()
    name = f"t{os.getpid()}_{next(_numbers)}"
    with psycopg.connect(f"host=127.0.0.1 port={server.port} user=loa dbname=loa", autocommit=True) as db:
        db.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://loa@127.0.0.1:{server.port}/{name}"


def _postgres() -> Postgres:
    global _server
    if _server is None:
        _server = Postgres().start()
        atexit.register(_server.stop)
    return _server


def seeded_database_url(folder: Path) -> str:
    """A fresh database already migrated and holding the province's communes: a copy of a template
    made once per test process (migrating and loading the province for every test world is slow)."""
    global _sqlite_template, _pg_template
    if not on_postgresql():
        if _sqlite_template is None:
            scratch = Path(tempfile.mkdtemp(prefix="loa-test-template-"))
            atexit.register(shutil.rmtree, scratch, True)
            _seed(f"sqlite:///{scratch / 'loa.db'}")
            _sqlite_template = scratch / "loa.db"
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_sqlite_template, folder / "loa.db")
        return f"sqlite:///{folder / 'loa.db'}"
    server = _postgres()
    admin = f"host=127.0.0.1 port={server.port} user=loa dbname=loa"
    if _pg_template is None:
        name = f"template_{os.getpid()}"
        with psycopg.connect(admin, autocommit=True) as db:
            db.execute(f'CREATE DATABASE "{name}"')
        _seed(f"postgresql+psycopg://loa@127.0.0.1:{server.port}/{name}")
        _pg_template = name
    name = f"t{os.getpid()}_{next(_numbers)}"
    with psycopg.connect(admin, autocommit=True) as db:
        db.execute(f'CREATE DATABASE "{name}" TEMPLATE "{_pg_template}"')
    return f"postgresql+psycopg://loa@127.0.0.1:{server.port}/{name}"


def _seed(url: str) -> None:
    from sqlmodel import Session

    from controller.db import make_engine, migrate
    from controller.seed import load_province

    migrate(url)
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            load_province(session)
    finally:
        engine.dispose()  # no connection left: SQLite folds its WAL in, PostgreSQL can copy the template
