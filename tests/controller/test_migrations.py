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


def test_upgrade_grants_each_bulletin_s_audio_to_its_commune(tmp_path: Path) -> None:
    """0014: the audio bulletins use already (approved speech, recordings, past versions' recordings)
    stays audible to their communes' users; nothing else is granted."""
    url = database_url(tmp_path)
    migrate(url, "0013")
    engine = create_engine(url)
    sha = {name: name * 64 for name in "abcde"}
    with engine.begin() as db:
        for zone_id in (1, 2):
            db.execute(
                text("INSERT INTO zone (id, code, name, kind) VALUES (:i, :c, :n, 'commune')"),
                {"i": zone_id, "c": f"w{zone_id}", "n": f"Xã {zone_id}"},
            )
        db.execute(
            text(
                'INSERT INTO "user" (id, username, full_name, password_hash, role, is_active, created_at) '
                "VALUES (1, 'u', 'U', 'x', 'editor', true, '2026-11-29 00:00:00')"
            )
        )
        for digest in sha.values():
            db.execute(
                text(
                    "INSERT INTO media (sha256, bytes, duration_ms, mime, created_at)"
                    " VALUES (:s, 1, 1, 'audio/mpeg', '2026-11-29 00:00:00')"
                ),
                {"s": digest},
            )
        for bulletin_id, commune, media, recording in (
            (1, 1, sha["a"], None),
            (2, 2, sha["b"], sha["b"]),
            (3, 2, None, None),
        ):
            db.execute(
                text(
                    "INSERT INTO bulletin (id, commune_id, title, body, category, language, engine, accent,"
                    " speed, status, author_id, media_sha256, recording_sha256, created_at, updated_at)"
                    " VALUES (:i, :c, 'T', 'B', 'legal', 'vi', 'espeak-ng', 'central', 150, 'draft', 1,"
                    " :m, :r, '2026-11-29 00:00:00', '2026-11-29 00:00:00')"
                ),
                {"i": bulletin_id, "c": commune, "m": media, "r": recording},
            )
        db.execute(
            text(
                "INSERT INTO bulletinversion (bulletin_id, number, title, body, category, language, engine,"
                " accent, speed, recording_sha256, text_sha256, author_id, created_at)"
                " VALUES (3, 1, 'T', 'B', 'legal', 'vi', 'espeak-ng', 'central', 150, :r, 'x', 1,"
                " '2026-11-29 00:00:00')"
            ),
            {"r": sha["c"]},
        )
    migrate(url)
    with engine.connect() as db:
        grants = set(db.execute(text("SELECT sha256, commune_id FROM mediagrant")).all())
    assert grants == {(sha["a"], 1), (sha["b"], 2), (sha["c"], 2)}  # d and e: nobody's yet
    engine.dispose()
