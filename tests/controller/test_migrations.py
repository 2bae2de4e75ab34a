"""Migrations: upgrade from the first schema with data in it, and downgrade again."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from alembic import command

from controller.db import alembic_config, migrate
from playlists.rules import Rule


def test_upgrade_keeps_one_off_schedules_and_downgrade_works(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'loa.db'}"
    migrate(url, "0001")
    with sqlite3.connect(tmp_path / "loa.db") as db:
        db.execute("INSERT INTO zone (id, code, name, kind) VALUES (1, 'w1', 'Xã A', 'commune')")
        db.execute(
            "INSERT INTO user (id, username, full_name, password_hash, role, is_active, created_at) "
            "VALUES (1, 'u', 'U', 'x', 'editor', 1, '2026-11-29 00:00:00')"
        )
        db.execute(
            "INSERT INTO bulletin (id, commune_id, title, body, category, accent, status, author_id, "
            "created_at, updated_at) VALUES (1, 1, 'T', 'B', 'legal', 'central', 'approved', 1, "
            "'2026-11-29 00:00:00', '2026-11-29 00:00:00')"
        )
        db.execute(
            "INSERT INTO schedule (id, bulletin_id, target_zone_id, starts_at, priority, status, created_by, "
            "created_at) VALUES (1, 1, 1, '2026-12-01 23:00:00.000000', 'normal', 'active', 1, "
            "'2026-11-29 00:00:00')"
        )
    migrate(url)
    with sqlite3.connect(tmp_path / "loa.db") as db:
        rule, kind, volume = db.execute("SELECT rule_json, target_kind, volume FROM schedule").fetchone()
        assert db.execute("SELECT COUNT(*) FROM apscheduler_jobs").fetchone() == (0,)
    assert json.loads(rule)["kind"] == "once"
    assert Rule.model_validate_json(rule).at == datetime(2026, 12, 1, 23, 0, tzinfo=UTC)
    assert (kind, volume) == ("zone", 100)
    command.downgrade(alembic_config(url), "base")
    with sqlite3.connect(tmp_path / "loa.db") as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables <= {"alembic_version"}


def test_the_migrations_make_exactly_the_schema_of_the_models(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import create_engine
    from sqlmodel import SQLModel

    import controller.models  # noqa: F401  (registers the tables)

    url = f"sqlite:///{tmp_path / 'loa.db'}"
    migrate(url)
    engine = create_engine(url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    engine.dispose()
    # APScheduler's table is made by migration but belongs to no model.
    assert [d for d in diff if "apscheduler_jobs" not in str(d)] == []
