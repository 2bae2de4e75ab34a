"""Recurring schedules through the API: previews, policy refusals, clashes, emergencies overriding."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta

from sqlmodel import select

from controller.models import AuditEvent, Zone
from playlists.policy import Window, ZonePolicy
from tests.controller.conftest import World, approved_bulletin


def _tomorrow() -> date:
    return (datetime.now(UTC) + timedelta(hours=7)).date() + timedelta(days=1)


def _rule(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {"kind": "daily", "start_date": _tomorrow().isoformat(), "times": ["06:00"]}
    base.update(fields)
    return base


def _set_policy(world: World, zone_id: int, policy: ZonePolicy) -> None:
    with world.session() as session:
        zone = session.get(Zone, zone_id)
        assert zone is not None
        zone.policy_json = policy.model_dump_json()
        session.add(zone)
        session.commit()


def test_a_weekly_schedule_fills_the_boxes_timelines_for_the_horizon(world: World) -> None:
    bulletin = approved_bulletin(world)
    response = world.client.post(
        "/api/v1/schedules",
        headers=world.token("editor_a"),
        json={
            "bulletin_id": bulletin["id"],
            "target": {"kind": "zone", "id": world.commune_a},
            "rule": _rule(kind="daily", times=["06:00", "17:30"]),
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["description"].startswith("Hằng ngày, lúc 06:00, 17:30")
    topics = {topic for topic, _p, _r in world.published}
    assert topics == {"loa/v1/devices/box-a1/timeline", "loa/v1/devices/box-a2/timeline"}
    from tests.controller.test_timelines_and_receipts import _timelines

    items = _timelines(world)["box-a1"].items
    assert 12 <= len(items) <= 14  # two a day over the 7-day horizon
    assert all(
        datetime.fromtimestamp(i.start_ms / 1000, UTC).strftime("%H:%M") in ("23:00", "10:30") for i in items
    )


def test_quiet_hours_refuse_a_normal_schedule_with_the_reason(world: World) -> None:
    _set_policy(
        world, world.commune_a, ZonePolicy(quiet_hours=(Window(start=time(11, 30), end=time(13, 30)),))
    )
    bulletin = approved_bulletin(world)
    body = {"bulletin_id": bulletin["id"], "target_zone_id": world.village_a1, "rule": _rule(times=["12:00"])}
    checked = world.client.post("/api/v1/schedules/check", headers=world.token("editor_a"), json=body).json()
    assert checked["violations"] and "yên tĩnh 11:30–13:30" in checked["violations"][0]["message"]
    refused = world.client.post("/api/v1/schedules", headers=world.token("editor_a"), json=body)
    assert refused.status_code == 422
    assert "giờ yên tĩnh" in refused.json()["detail"]
    assert refused.json()["report"]["violations"]
    assert world.client.get("/api/v1/schedules", headers=world.token("editor_a")).json() == []


def test_an_emergency_schedule_overrides_policies_and_the_override_is_logged(world: World) -> None:
    _set_policy(world, world.commune_a, ZonePolicy(quiet_hours=(Window(start=time(21), end=time(5, 30)),)))
    bulletin = approved_bulletin(world)
    body = {
        "bulletin_id": bulletin["id"],
        "target_zone_id": world.village_a1,
        "rule": _rule(times=["22:00"]),
        "priority": "emergency",
    }
    assert (
        world.client.post("/api/v1/schedules", headers=world.token("editor_a"), json=body).status_code == 403
    )
    saved = world.client.post("/api/v1/schedules", headers=world.token("approver_a"), json=body)
    assert saved.status_code == 201, saved.text
    with world.session() as session:
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "schedule.create")).one()
    assert "policy_override" in json.loads(event.detail or "{}")


def test_clashes_are_shown_before_saving_and_need_confirmation(world: World) -> None:
    bulletin = approved_bulletin(world)
    first = {"bulletin_id": bulletin["id"], "target_zone_id": world.commune_a, "rule": _rule(times=["06:00"])}
    assert (
        world.client.post("/api/v1/schedules", headers=world.token("editor_a"), json=first).status_code == 201
    )
    second = {
        "bulletin_id": bulletin["id"],
        "target_zone_id": world.village_a1,
        "rule": _rule(times=["06:00"]),
    }
    refused = world.client.post("/api/v1/schedules", headers=world.token("editor_a"), json=second)
    assert refused.status_code == 422
    clashes = refused.json()["report"]["clashes"]
    assert {c["device_id"] for c in clashes} == {"box-a1"}
    accepted = world.client.post(
        "/api/v1/schedules", headers=world.token("editor_a"), json={**second, "accept_clashes": True}
    )
    assert accepted.status_code == 201


def test_cap_of_sessions_per_day_is_enforced_at_save_time(world: World) -> None:
    _set_policy(world, world.commune_a, ZonePolicy(max_sessions_per_day=2))
    bulletin = approved_bulletin(world)
    body = {
        "bulletin_id": bulletin["id"],
        "target_zone_id": world.village_a1,
        "rule": _rule(times=["06:00", "11:00", "17:00"]),
    }
    refused = world.client.post("/api/v1/schedules", headers=world.token("editor_a"), json=body)
    assert refused.status_code == 422 and "2 buổi phát" in refused.json()["detail"]


def test_cancelling_a_schedule_empties_the_timelines(world: World) -> None:
    bulletin = approved_bulletin(world)
    saved = world.client.post(
        "/api/v1/schedules",
        headers=world.token("editor_a"),
        json={"bulletin_id": bulletin["id"], "target_zone_id": world.village_a1, "rule": _rule()},
    ).json()
    world.published.clear()
    cancelled = world.client.post(f"/api/v1/schedules/{saved['id']}/cancel", headers=world.token("editor_a"))
    assert cancelled.json()["status"] == "cancelled"
    from tests.controller.test_timelines_and_receipts import _timelines

    assert _timelines(world)["box-a1"].items == ()


def test_a_box_added_to_a_village_later_gets_its_schedules(world: World) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from controller.devices import register_device
    from playlists.signing import public_key_b64

    bulletin = approved_bulletin(world)
    world.client.post(
        "/api/v1/schedules",
        headers=world.token("editor_a"),
        json={"bulletin_id": bulletin["id"], "target_zone_id": world.village_a1, "rule": _rule()},
    )
    with world.session() as session:
        register_device(
            session,
            device_id="box-a1-new",
            name="new",
            zone_id=world.village_a1,
            public_key=public_key_b64(Ed25519PrivateKey.generate().public_key()),
        )
    world.services.publisher.refresh()
    from tests.controller.test_timelines_and_receipts import _timelines

    assert len(_timelines(world)["box-a1-new"].items) >= 6


def test_a_target_id_that_names_no_zone_or_group_is_refused_in_vietnamese(world: World) -> None:
    editor = world.token("editor_a")
    for target in ({"kind": "zone", "id": "ì"}, {"kind": "group", "id": str(2**64)}):
        body = {"bulletin_id": 1, "target": target, "in_seconds": 60}
        refused = world.client.post("/api/v1/schedules/check", json=body, headers=editor)
        assert refused.status_code == 422 and refused.json()["field"] == "target"
        assert "địa bàn hoặc một nhóm" in refused.json()["detail"]
