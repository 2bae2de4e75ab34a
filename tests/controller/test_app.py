"""Start-up: the signing key is made once, private, outside the code."""

from __future__ import annotations

import stat

from controller.app import build_services
from tests.controller.conftest import World


def test_signing_key_is_made_on_first_start_with_mode_0600_and_kept(world: World) -> None:
    settings = world.services.settings
    path = settings.resolved_signing_key_path
    assert path.is_relative_to(settings.data_dir)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = build_services(settings, connect_mqtt=False)
    assert again.signer.kid == world.services.signer.kid


def test_health_answers_without_login(world: World) -> None:
    assert world.client.get("/healthz").json() == {"ok": True, "mqtt": False, "leader": False}


def test_device_list_and_as_run_are_scoped_to_the_users_communes(world: World) -> None:
    def ids(username: str) -> list[str]:
        return sorted(
            d["id"] for d in world.client.get("/api/v1/devices", headers=world.token(username)).json()
        )

    assert ids("editor_b") == ["box-b1"]
    assert ids("approver_a") == ["box-a1", "box-a2"]
    assert ids("auditor") == ["box-a1", "box-a2", "box-b1"]


def test_the_compile_job_is_kept_in_the_database(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import sqlite3

    from fastapi.testclient import TestClient

    from controller.app import create_app
    from controller.db import migrate
    from controller.settings import Settings

    settings = Settings(data_dir=tmp_path, environment="development", compile_interval_seconds=3600)
    migrate(settings.resolved_database_url)
    with TestClient(create_app(settings, connect_mqtt=False)), sqlite3.connect(tmp_path / "loa.db") as db:
        jobs = db.execute("SELECT id, next_run_time FROM apscheduler_jobs").fetchall()
    assert sorted(job_id for job_id, _next in jobs) == [
        "asrun-fold",
        "audit-checkpoint",
        "compile-timelines",
        "prune-health",
        "prune-logins",
    ]


def test_configured_chime_files_reach_the_renderer(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from controller.settings import Settings

    opening, closing = tmp_path / "mo-dau.wav", tmp_path / "ket-thuc.wav"
    settings = Settings(
        data_dir=tmp_path / "data", environment="development", opening_chime=opening, closing_chime=closing
    )
    services = build_services(settings, connect_mqtt=False)
    try:
        assert services.renderer.settings.opening_chime == opening
        assert services.renderer.settings.closing_chime == closing
    finally:
        services.engine.dispose()


def test_ids_past_what_a_database_holds_are_refused_not_a_crash(world: World) -> None:
    # tests/api found these: SQLite's driver cannot bind an integer past 64 bits (a 500 before)
    admin, huge = world.token("admin"), 2**63
    answers = [
        world.client.get(f"/api/v1/bulletins/{huge}", headers=admin),
        world.client.delete(f"/api/v1/tokens/{huge}", headers=admin),
        world.client.post("/api/v1/emergencies", json={"bulletin_id": huge, "zone_ids": [1]}, headers=admin),
        world.client.post(
            "/api/v1/bulletins", json={"commune_id": huge, "title": "T", "body": "B"}, headers=admin
        ),
    ]
    for answer in answers:
        assert answer.status_code == 422, answer.text
    assert [a.json()["field"] for a in answers] == ["bulletin_id", "token_id", "bulletin_id", "commune_id"]
