"""Which database the tests run on: SQLite files by default, PostgreSQL with TEST_DATABASE=postgresql.

With PostgreSQL, one real server (loa/postgres.py, a free port, a throwaway cluster) serves the
whole test run, and every test world gets a fresh database in it.
"""

from __future__ import annotations

import atexit
import itertools
import os
from pathlib import Path

import psycopg

from loa.postgres import Postgres

_server: Postgres | None = None
_numbers = itertools.count(1)


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
