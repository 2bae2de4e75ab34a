"""Scheduling publishes signed timelines to the right boxes; receipts are stored once and acked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlmodel import select

from controller.models import Receipt
from controller.receipts import handle_report
from playlists.signing import public_key_from_b64, sign, verify
from playlists.wire import Receipt as ReceiptDoc
from playlists.wire import Timeline
from tests.controller.conftest import World, approved_bulletin


def _timelines(world: World) -> dict[str, Timeline]:
    key = public_key_from_b64(world.services.signer.public_key_b64)
    found = {}
    for topic, payload, retain in world.published:
        if topic.endswith("/timeline"):
            assert retain
            doc, _ = verify(payload, Timeline, {world.services.signer.kid: key})
            found[doc.device_id] = doc
    return found


def test_schedule_to_a_village_publishes_signed_timelines_to_its_boxes_only(world: World) -> None:
    bulletin = approved_bulletin(world)
    starts = datetime.now(UTC) + timedelta(minutes=10)
    response = world.client.post(
        "/api/v1/schedules",
        json={
            "bulletin_id": bulletin["id"],
            "target_zone_id": world.village_a1,
            "starts_at": starts.isoformat(),
        },
        headers=world.token("editor_a"),
    )
    assert response.status_code == 201, response.text
    timelines = _timelines(world)
    assert [i.media.sha256 for i in timelines["box-a1"].items if i.media] == [bulletin["media_sha256"]]
    assert timelines["box-a1"].items[0].start_ms == int(starts.timestamp() * 1000)
    assert set(timelines) == {"box-a1"}  # only the boxes the change touches are recompiled
    assert timelines["box-a1"].valid_until_ms > timelines["box-a1"].items[0].start_ms


def test_versions_grow_only_when_a_timeline_changes(world: World) -> None:
    world.services.publisher.refresh()
    first = _timelines(world)
    world.published.clear()
    assert world.services.publisher.refresh() == 0
    bulletin = approved_bulletin(world)
    world.client.post(
        "/api/v1/schedules",
        json={"bulletin_id": bulletin["id"], "target_zone_id": world.commune_a, "in_seconds": 120},
        headers=world.token("editor_a"),
    )
    second = _timelines(world)
    assert set(second) == {"box-a1", "box-a2"}
    assert all(second[d].version == first[d].version + 1 for d in second)


def test_schedule_refuses_past_unapproved_and_foreign_targets(world: World) -> None:
    ed = world.token("editor_a")
    bulletin = approved_bulletin(world)
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    r = world.client.post(
        "/api/v1/schedules",
        headers=ed,
        json={"bulletin_id": bulletin["id"], "target_zone_id": world.village_a1, "starts_at": past},
    )
    assert r.status_code == 422 and r.json()["field"] == "starts_at"
    r = world.client.post(
        "/api/v1/schedules",
        headers=ed,
        json={"bulletin_id": bulletin["id"], "target_zone_id": world.village_b1, "in_seconds": 60},
    )
    assert r.status_code == 422 and r.json()["field"] == "target"
    draft = world.client.post(
        "/api/v1/bulletins", headers=ed, json={"commune_id": world.commune_a, "title": "T", "body": "B"}
    ).json()
    r = world.client.post(
        "/api/v1/schedules",
        headers=ed,
        json={"bulletin_id": draft["id"], "target_zone_id": world.village_a1, "in_seconds": 60},
    )
    assert r.status_code == 422 and r.json()["field"] == "bulletin_id"


def _receipt(
    world: World, device_id: str, seq: int, key: Ed25519PrivateKey | None = None, **fields: object
) -> bytes:
    doc = ReceiptDoc(
        device_id=device_id,
        seq=seq,
        event="started",
        item_id="s1-1000",
        scheduled_at_ms=1000,
        started_at_ms=1005,
        recorded_at_ms=1005,
        **fields,
    )  # type: ignore[arg-type]
    return sign(doc, key or world.device_keys[device_id], device_id)


def test_receipts_are_stored_once_and_acked_contiguously(world: World) -> None:
    engine = world.services.engine
    ack = handle_report(engine, device_id="box-a1", raw=_receipt(world, "box-a1", 1))
    assert ack is not None and ack.seq == 1
    again = handle_report(engine, device_id="box-a1", raw=_receipt(world, "box-a1", 1))
    assert again is not None and again.seq == 1
    gap = handle_report(engine, device_id="box-a1", raw=_receipt(world, "box-a1", 3))
    assert gap is not None and gap.seq == 1  # 2 is missing: the ack must not cover 3
    filled = handle_report(engine, device_id="box-a1", raw=_receipt(world, "box-a1", 2))
    assert filled is not None and filled.seq == 3
    with world.session() as session:
        seqs = session.exec(select(Receipt.seq).where(Receipt.device_id == "box-a1")).all()
    assert sorted(seqs) == [1, 2, 3]


def test_forged_or_misaddressed_receipts_are_refused(world: World) -> None:
    engine = world.services.engine
    forged = _receipt(world, "box-a1", 1, key=Ed25519PrivateKey.generate())
    assert handle_report(engine, device_id="box-a1", raw=forged) is None
    # box-a2 signs a receipt claiming to be box-a1, sent on box-a2's own topic
    assert handle_report(engine, device_id="box-a2", raw=_receipt(world, "box-a1", 1)) is None
    assert handle_report(engine, device_id="box-a1", raw=b"\x00garbage") is None
    assert handle_report(engine, device_id="unknown", raw=_receipt(world, "box-a1", 1)) is None
    with world.session() as session:
        assert session.exec(select(Receipt)).all() == []
