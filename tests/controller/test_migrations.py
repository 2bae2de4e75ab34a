"""Migrations: upgrade from the first schema with data in it, and downgrade again."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, inspect, text

from controller.db import alembic_config, migrate
from playlists.rules import Rule
from tests.databases import database_url


def test_upgrade_keeps_one_off_schedules_and_downgrade_works(tmp_path: Path) -> None:
    url = database_url(tmp_path)  # SQLite, or PostgreSQL in the PostgreSQL pass
    migrate(url, "0001")
    engine = create_engine(url)
    with engine.begin() as db:
        db.execute(text("INSERT INTO zone (id, code, name, kind) VALUES (1, 'w1', 'Xã A', 'commune')"))
        db.execute(
            text(
                'INSERT INTO "user" (id, username, full_name, password_hash, role, is_active, created_at) '
                "VALUES (1, 'u', 'U', 'x', 'editor', true, '2026-11-29 00:00:00')"
            )
        )
        db.execute(
            text(
                "INSERT INTO bulletin (id, commune_id, title, body, category, accent, status, author_id, "
                "created_at, updated_at) VALUES (1, 1, 'T', 'B', 'legal', 'central', 'approved', 1, "
                "'2026-11-29 00:00:00', '2026-11-29 00:00:00')"
            )
        )
        db.execute(
            text(
                "INSERT INTO schedule (id, bulletin_id, target_zone_id, starts_at, priority, status, "
                "created_by, created_at) VALUES (1, 1, 1, '2026-12-01 23:00:00.000000', 'normal', "
                "'active', 1, '2026-11-29 00:00:00')"
            )
        )
    migrate(url)
    with engine.connect() as db:
        rule, kind, volume = db.execute(text("SELECT rule_json, target_kind, volume FROM schedule")).one()
        assert db.execute(text("SELECT COUNT(*) FROM apscheduler_jobs")).scalar() == 0
    assert json.loads(rule)["kind"] == "once"
    assert Rule.model_validate_json(rule).at == datetime(2026, 12, 1, 23, 0, tzinfo=UTC)
    assert (kind, volume) == ("zone", 100)
    command.downgrade(alembic_config(url), "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()


def test_the_migrations_make_exactly_the_schema_of_the_models(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    import controller.models  # noqa: F401  (registers the tables)

    url = database_url(tmp_path)
    migrate(url)
    engine = create_engine(url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    engine.dispose()
    # APScheduler's table is made by migration but belongs to no model.
    assert [d for d in diff if "apscheduler_jobs" not in str(d)] == []
