"""Emergency broadcasts: signed zone commands, the two-person rule, stop, scope and audit."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from controller.models import AuditEvent, Emergency, Zone
from playlists.signing import public_key_from_b64, verify
from playlists.wire import Command, PlayNowArgs, decode
from tests.controller.conftest import World, approved_bulletin


def _commands(world: World) -> list[tuple[str, Command]]:
    key = {world.services.signer.kid: public_key_from_b64(world.services.signer.public_key_b64)}
    return [
        (topic, verify(payload, Command, key)[0])
        for topic, payload, retain in world.published
        if "/zones/" in topic and not retain
    ]


def _code(world: World, zone_id: int) -> str:
    with world.session() as session:
        zone = session.get(Zone, zone_id)
        assert zone is not None
        return zone.code


def test_one_signed_play_now_per_target_zone_reaches_the_zone_topic(world: World) -> None:
    bulletin = approved_bulletin(world)
    response = world.client.post(
        "/api/v1/emergencies",
        headers=world.token("approver_a"),
        json={"bulletin_id": bulletin["id"], "zone_ids": [world.village_a1, world.village_a2], "repeat": 2},
    )
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "sent"
    sent = _commands(world)
    codes = sorted(_code(world, z) for z in (world.village_a1, world.village_a2))
    assert [topic for topic, _ in sent] == [f"loa/v1/zones/{code}/command" for code in codes]
    for topic, command in sent:
        assert command.name == "play_now" and command.target == "zone:" + topic.split("/")[3]
        args = decode(PlayNowArgs, command.args)
        assert args.item.priority == "emergency" and args.repeat == 2
        assert args.item.media is not None and args.item.media.sha256 == bulletin["media_sha256"]
        assert command.expires_at_ms - command.issued_at_ms == 300_000


def test_two_person_rule_needs_another_approver_in_time(world: World) -> None:
    world.services.emergencies.settings = world.services.settings.model_copy(
        update={"emergency_two_person": True}
    )
    bulletin = approved_bulletin(world)
    created = world.client.post(
        "/api/v1/emergencies",
        headers=world.token("approver_a"),
        json={"bulletin_id": bulletin["id"], "zone_ids": [world.commune_a]},
    ).json()
    assert created["status"] == "pending" and _commands(world) == []
    own = world.client.post(f"/api/v1/emergencies/{created['id']}/confirm", headers=world.token("approver_a"))
    assert own.status_code == 403
    other_commune = world.client.post(
        f"/api/v1/emergencies/{created['id']}/confirm", headers=world.token("approver_b")
    )
    assert other_commune.status_code == 404
    confirmed = world.client.post(
        f"/api/v1/emergencies/{created['id']}/confirm", headers=world.token("admin")
    )
    assert confirmed.json()["status"] == "sent"
    assert len(_commands(world)) == 1


def test_a_late_confirmation_expires_the_emergency(world: World) -> None:
    world.services.emergencies.settings = world.services.settings.model_copy(
        update={"emergency_two_person": True}
    )
    bulletin = approved_bulletin(world)
    created = world.client.post(
        "/api/v1/emergencies",
        headers=world.token("approver_a"),
        json={"bulletin_id": bulletin["id"], "zone_ids": [world.commune_a]},
    ).json()
    with world.session() as session:
        row = session.get(Emergency, created["id"])
        assert row is not None
        row.created_at = row.created_at - timedelta(minutes=11)
        session.add(row)
        session.commit()
    late = world.client.post(f"/api/v1/emergencies/{created['id']}/confirm", headers=world.token("admin"))
    assert late.status_code == 409 and "thời hạn" in late.json()["detail"]
    assert _commands(world) == []


def test_stop_sends_stop_to_the_same_zones_and_everything_is_audited(world: World) -> None:
    bulletin = approved_bulletin(world)
    created = world.client.post(
        "/api/v1/emergencies",
        headers=world.token("approver_a"),
        json={"bulletin_id": bulletin["id"], "zone_ids": [world.village_a1]},
    ).json()
    stopped = world.client.post(
        f"/api/v1/emergencies/{created['id']}/stop", headers=world.token("approver_a")
    )
    assert stopped.json()["status"] == "stopped"
    assert [c.name for _t, c in _commands(world)] == ["play_now", "stop"]
    with world.session() as session:
        actions = [e.action for e in session.exec(select(AuditEvent)).all() if e.object_type == "emergency"]
    assert actions == ["emergency.create", "emergency.send", "emergency.stop"]


def test_editors_and_other_communes_cannot_broadcast(world: World) -> None:
    bulletin = approved_bulletin(world)
    body = {"bulletin_id": bulletin["id"], "zone_ids": [world.village_a1]}
    assert (
        world.client.post("/api/v1/emergencies", headers=world.token("editor_a"), json=body).status_code
        == 403
    )
    assert (
        world.client.post("/api/v1/emergencies", headers=world.token("approver_b"), json=body).status_code
        == 422
    )
    with world.session() as session:
        province = session.exec(select(Zone).where(Zone.kind == "province")).one()
    body = {"bulletin_id": bulletin["id"], "zone_ids": [province.id]}
    assert (
        world.client.post("/api/v1/emergencies", headers=world.token("approver_a"), json=body).status_code
        == 422
    )
    assert _commands(world) == []


def test_stop_all_for_an_admin_silences_the_province(world: World) -> None:
    response = world.client.post("/api/v1/emergencies/stop-all", headers=world.token("admin"))
    assert response.json() == {"zones": ["p40"]}
    assert [(t, c.name) for t, c in _commands(world)] == [("loa/v1/zones/p40/command", "stop")]
