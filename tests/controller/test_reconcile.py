"""The as-run fold on a real database: published timelines and receipts become occurrences, each ending
in one state, reconciled per broadcast."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import func
from sqlmodel import col, select

from controller.models import AirtimeRollup, Emergency, Occurrence, Receipt, Schedule, User, Zone
from controller.periods import period_of
from controller.reconciliation import broadcast_boxes, reconciliation
from controller.reports import totals
from loa.cli import main
from tests.controller.asrun_support import (
    GRACE,
    Boxes,
    content,
    fold,
    item_id,
    local,
    publish_and_fold,
    schedule,
)
from tests.controller.conftest import World

T1 = local(2026, 3, 3, 6)  # the dawn broadcast
T2 = local(2026, 3, 3, 17)  # the afternoon one
DAY = period_of("day", date(2026, 3, 3))


def _user(world: World, username: str) -> User:
    with world.session() as session:
        return session.exec(select(User).where(User.username == username)).one()


def _states(world: World) -> dict[tuple[str, str], tuple[str, float, str | None]]:
    with world.session() as session:
        rows = session.exec(select(Occurrence)).all()
    return {(o.device_id, o.item_id): (o.state, o.seconds_aired, o.reason) for o in rows}


def _rollups(world: World) -> list[tuple[object, ...]]:
    with world.session() as session:
        rows = session.exec(select(AirtimeRollup)).all()
    return sorted(tuple(sorted(r.model_dump().items())) for r in rows)


def _province(world: World) -> int:
    with world.session() as session:
        return session.exec(select(Zone.id).where(Zone.kind == "province")).one() or 0


def test_every_box_ends_in_one_state_and_a_late_receipt_replaces_missing(world: World) -> None:
    bulletin = content(world, title="Luật Đất đai 2024", seconds=600)
    dawn = schedule(world, bulletin_id=bulletin, zone_id=_province(world), at=T1)
    evening = schedule(world, bulletin_id=bulletin, zone_id=_province(world), at=T2)
    report = publish_and_fold(world, T1 - timedelta(hours=1))
    assert report.items_added == 6  # 3 boxes × 2 broadcasts, pending
    one, two = item_id(dawn, T1), item_id(evening, T2)
    boxes = Boxes(world)
    boxes.report("box-a1", "started", one, at=T1)
    boxes.report("box-a1", "completed", one, at=T1, seconds=600)
    boxes.report("box-a2", "started", one, at=T1)
    boxes.report("box-a2", "interrupted", one, at=T1, seconds=200, reason="preempted:s9-1-0")
    boxes.report("box-b1", "failed", one, at=T1, reason="media_missing")
    boxes.report("box-a1", "skipped", two, at=T2, reason="late")
    after_grace = T2 + timedelta(minutes=10) + GRACE + timedelta(minutes=1)
    report = fold(world, after_grace, batch=2)  # small batches: the watermark carries over
    assert (report.receipts, report.missing) == (6, 2)
    assert _states(world) == {
        ("box-a1", one): ("aired", 600, None),
        ("box-a2", one): ("partial", 200, "preempted:s9-1-0"),
        ("box-b1", one): ("failed", 0, "media_missing"),
        ("box-a1", two): ("skipped", 0, "late"),
        ("box-a2", two): ("missing", 0, None),
        ("box-b1", two): ("missing", 0, None),
    }
    auditor = _user(world, "auditor")
    with world.session() as session:
        rows = reconciliation(session, user=auditor, period=DAY)
    assert [
        (r.key, r.targeted, r.counts["aired"], r.counts["partial"], r.counts["failed"]) for r in rows
    ] == [
        (f"s{evening}-{int(T2.timestamp() * 1000)}", 3, 0, 0, 0),
        (f"s{dawn}-{int(T1.timestamp() * 1000)}", 3, 1, 1, 1),
    ]
    assert (rows[0].counts["skipped"], rows[0].counts["missing"], rows[0].delivery_rate) == (1, 2, 0)
    assert rows[1].delivery_rate == 1 / 3 and rows[1].title == "Luật Đất đai 2024"

    # Box a2 was offline: its receipt comes a day late and replaces "missing".
    boxes.report("box-a2", "completed", two, at=T2, seconds=600, recorded_at=T2 + timedelta(minutes=10))
    before = _rollups(world)
    assert fold(world, after_grace + timedelta(days=1)).receipts == 1
    assert _states(world)[("box-a2", two)] == ("aired", 600, None)
    with world.session() as session:
        evening_row = reconciliation(session, user=auditor, period=DAY)[0]
        tally = totals(session, user=auditor, period=DAY)
        late = session.exec(
            select(Occurrence).where(Occurrence.item_id == two, Occurrence.device_id == "box-a2")
        ).one()
        linked = session.get(Receipt, late.receipt_id)
        by_box = {
            b.device_id: b.state
            for b in broadcast_boxes(session, user=auditor, broadcast_key=evening_row.key)
        }
    assert (evening_row.counts["aired"], evening_row.counts["missing"]) == (1, 1)
    assert (tally.aired, tally.partial, tally.failed, tally.skipped, tally.missing) == (2, 1, 1, 1, 1)
    assert tally.seconds == 1400 and tally.delivery_rate == 2 / 6
    assert linked is not None and (linked.event, linked.device_id) == ("completed", "box-a2")
    assert by_box == {"box-a1": "skipped", "box-a2": "aired", "box-b1": "missing"}
    assert _rollups(world) != before
    # Nothing new: a run changes nothing (the fold is idempotent).
    after = _rollups(world)
    assert fold(world, after_grace + timedelta(days=2)).receipts == 0
    assert _rollups(world) == after


def test_a_republished_item_is_expected_once_and_a_withdrawn_one_no_longer(world: World) -> None:
    bulletin = content(world, title="Tiêm phòng", seconds=300)
    first = schedule(world, bulletin_id=bulletin, zone_id=world.commune_a, at=T1)
    publish_and_fold(world, T1 - timedelta(hours=2))
    second = schedule(world, bulletin_id=bulletin, zone_id=world.commune_a, at=T2)
    report = publish_and_fold(world, T1 - timedelta(hours=1))  # a new version lists both
    assert (report.items_added, report.items_withdrawn) == (2, 0)
    with world.session() as session:
        per_item = session.exec(
            select(Occurrence.item_id, func.count())
            .group_by(col(Occurrence.item_id))
            .order_by(col(Occurrence.item_id))
        ).all()
        assert sorted(n for _i, n in per_item) == [2, 2]
        row = session.get(Schedule, second)
        assert row is not None
        row.status = "cancelled"
        session.add(row)
        session.commit()
    report = publish_and_fold(world, T1 - timedelta(minutes=30))  # cancelled before it was due
    assert report.items_withdrawn == 2
    assert set(_states(world)) == {("box-a1", item_id(first, T1)), ("box-a2", item_id(first, T1))}
    with world.session() as session:
        row = session.get(Schedule, first)
        assert row is not None
        row.status = "cancelled"
        session.add(row)
        session.commit()
    # Cancelled once it had started: it was due, so it stays expected (and goes missing without receipts).
    report = publish_and_fold(world, T1 + timedelta(minutes=2))
    assert report.items_withdrawn == 0
    with world.session() as session:
        rows = reconciliation(session, user=_user(world, "auditor"), period=DAY)
    assert [(r.source_id, r.counts["pending"]) for r in rows] == [(first, 2)]


def test_an_emergency_is_expected_on_every_box_of_its_zones(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bulletin = content(world, title="Bão số 3", category="emergency", seconds=60)
    with world.session() as session:
        admin = _user(world, "admin")
        emergency = Emergency(
            bulletin_id=bulletin,
            zone_ids_json=json.dumps([world.commune_a]),
            repeat=2,
            status="sent",
            created_by=admin.id or 0,
            sent_at=T1,
        )
        session.add(emergency)
        session.commit()
        key = f"e{emergency.id}"
    assert fold(world, T1 + timedelta(seconds=5)).items_added == 2
    boxes = Boxes(world)
    boxes.report("box-a1", "completed", key, at=T1, seconds=60)
    boxes.report("box-a1", "completed", key, at=T1 + timedelta(seconds=60), seconds=60)
    fold(world, T1 + GRACE + timedelta(minutes=5))
    assert _states(world) == {("box-a1", key): ("aired", 120, None), ("box-a2", key): ("missing", 0, None)}
    with world.session() as session:
        (row,) = reconciliation(session, user=_user(world, "editor_a"), period=DAY)
    assert (row.source, row.title, row.category, row.targeted, row.counts["aired"]) == (
        "emergency",
        "Bão số 3",
        "emergency",
        2,
        1,
    )
    # The command line folds what is new the same way (here: one more receipt).
    boxes.report("box-a2", "skipped", key, at=T1, reason="stopped:e1-stop")
    settings = world.services.settings
    monkeypatch.setenv("LOA_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("LOA_DATABASE_URL", settings.resolved_database_url)
    assert main(["audit", "reconcile"]) == 0
    assert "1 receipt(s) folded" in capsys.readouterr().out
    assert _states(world)[("box-a2", key)] == ("skipped", 0, "stopped:e1-stop")
