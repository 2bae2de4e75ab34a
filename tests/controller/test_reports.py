"""Reports against hand-computed numbers: two communes, three boxes, three broadcast days in March and
April 2026, folded by the real fold from published timelines, signed receipts and status history.

    s1  3 Mar 06:00  legal, Vietnamese, 600 s  all boxes   a1 aired, a2 interrupted after 200 s, b1 aired
    s2a 10 Mar 17:00 policy, Thái, 300 s       village a1  a1 aired
    s2b 10 Mar 17:00 policy, Thái, 300 s       village b1  b1 failed (media_missing)
    s3  7 Apr 06:00  legal, Vietnamese, 600 s  commune A   a1 aired, a2 never reports (missing)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from controller.errors import Forbidden, NotFound
from controller.models import DeviceHealth, User, Zone, utcnow
from controller.periods import custom, period_of
from controller.reconciliation import broadcast_boxes, reconciliation
from controller.report_boxes import clock_audit, uptime
from controller.report_targets import create_target, remove_target, target_report
from controller.reports import airtime, airtime_series, top_failure_reasons, totals
from tests.controller.asrun_support import (
    HCM,
    Boxes,
    backdate_boxes,
    content,
    fold,
    item_id,
    local,
    publish_and_fold,
    schedule,
)
from tests.controller.conftest import World, make_world

MARCH = period_of("month", date(2026, 3, 1))
YEAR = period_of("year", date(2026, 1, 1))


@dataclass
class Scenario:
    world: World
    s2b_key: str

    def user(self, username: str) -> User:
        with self.world.session() as session:
            return session.exec(select(User).where(User.username == username)).one()

    def session(self) -> Session:
        return self.world.session()


def _health(world: World, rows: list[tuple[str, object, bool, float | None]]) -> None:
    with world.session() as session:
        for device_id, at, online, offset in rows:
            session.add(DeviceHealth(device_id=device_id, at=at, online=online, clock_offset_ms=offset))
        session.commit()


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    worlds = make_world(Path(tmp_path_factory.mktemp("reports")))
    world = next(worlds)
    backdate_boxes(world, local(2026, 1, 1))
    with world.session() as session:
        province = session.exec(select(Zone.id).where(Zone.kind == "province")).one() or 0
    legal = content(world, title="Luật Đất đai", category="legal", language="vi", seconds=600)
    policy = content(world, title="Chính sách nông nghiệp", category="policy", language="thai", seconds=300)
    t1, t2, t3 = local(2026, 3, 3, 6), local(2026, 3, 10, 17), local(2026, 4, 7, 6)
    s1 = schedule(world, bulletin_id=legal, zone_id=province, at=t1)
    s2a = schedule(world, bulletin_id=policy, zone_id=world.village_a1, at=t2)
    s2b = schedule(world, bulletin_id=policy, zone_id=world.village_b1, at=t2)
    s3 = schedule(world, bulletin_id=legal, zone_id=world.commune_a, at=t3)
    minutes = [local(2026, 3, 3, 0) + timedelta(minutes=m) for m in range(121)]
    _health(world, [("box-a1", at, at < minutes[-1], None) for at in minutes])  # online 00:00–02:00
    _health(
        world,
        [
            ("box-b1", local(2026, 3, 3, 0, 30), True, 2500.0),
            ("box-b1", local(2026, 3, 3, 0, 31), False, None),
        ],
    )
    boxes = Boxes(world)
    publish_and_fold(world, t1 - timedelta(hours=1))
    boxes.report("box-a1", "completed", item_id(s1, t1), at=t1, seconds=600)
    boxes.report("box-a2", "interrupted", item_id(s1, t1), at=t1, seconds=200, reason="preempted:s9-1-0")
    boxes.report("box-b1", "completed", item_id(s1, t1), at=t1, seconds=600)
    publish_and_fold(world, t2 - timedelta(hours=1))
    boxes.report("box-a1", "completed", item_id(s2a, t2), at=t2, seconds=300)
    boxes.report("box-b1", "failed", item_id(s2b, t2), at=t2, reason="media_missing")
    publish_and_fold(world, t3 - timedelta(hours=1))
    boxes.report("box-a1", "completed", item_id(s3, t3), at=t3, seconds=600)
    now = utcnow()  # box b1's clock is 5 s ahead: it records a receipt "after" it arrives
    boxes.report("box-b1", "started", "tone-1", at=now, recorded_at=now + timedelta(seconds=5))
    fold(world, local(2026, 4, 8))
    yield Scenario(world, f"s{s2b}-{int(t2.timestamp() * 1000)}")
    with contextlib.suppress(StopIteration):
        next(worlds)


def _rows(rows: list) -> list[tuple[object, ...]]:  # type: ignore[type-arg]
    return [
        (r.name, r.tally.aired, r.tally.partial, r.tally.failed, r.tally.missing, r.tally.seconds)
        for r in rows
    ]


def test_airtime_by_commune_category_and_language_for_a_month(scenario: Scenario) -> None:
    auditor = scenario.user("auditor")
    with scenario.session() as session:
        communes = airtime(session, user=auditor, period=MARCH, by="commune")
        categories = airtime(session, user=auditor, period=MARCH, by="category")
        languages = airtime(session, user=auditor, period=MARCH, by="language")
        names = {z.id: z.name for z in session.exec(select(Zone)).all()}
    a, b = names[scenario.world.commune_a], names[scenario.world.commune_b]
    assert _rows(communes) == sorted([(a, 2, 1, 0, 0, 1100.0), (b, 1, 0, 1, 0, 600.0)])
    assert [r.tally.delivery_rate for r in communes] == [2 / 3, 1 / 2] if a < b else [1 / 2, 2 / 3]
    assert [(r.key, r.tally.aired, r.tally.partial, r.tally.failed, r.tally.seconds) for r in categories] == [
        ("legal", 2, 1, 0, 1400.0),  # legal dissemination first
        ("policy", 1, 0, 1, 300.0),
    ]
    assert [(r.key, r.tally.seconds) for r in languages] == [("vi", 1400.0), ("thai", 300.0)]


def test_airtime_over_a_quarter_a_custom_range_and_a_year(scenario: Scenario) -> None:
    auditor = scenario.user("auditor")
    with scenario.session() as session:
        quarter = airtime(session, user=auditor, period=period_of("quarter", date(2026, 5, 1)), by="commune")
        # 5 March to 30 April: April from the month rows, 5–31 March from the day rows.
        span = airtime(session, user=auditor, period=custom(date(2026, 3, 5), date(2026, 4, 30)), by="box")
        villages = airtime(session, user=auditor, period=YEAR, by="village")
        months = airtime_series(
            session, user=auditor, period=custom(date(2026, 1, 1), date(2026, 6, 30)), unit="month"
        )
        weeks = airtime_series(session, user=auditor, period=MARCH, unit="week")
        reasons = top_failure_reasons(session, user=auditor, period=YEAR)
    assert [(r.tally.aired, r.tally.missing, r.tally.seconds) for r in quarter] == [(1, 1, 600.0)]
    assert [(r.key, r.tally.aired, r.tally.failed, r.tally.missing, r.tally.seconds) for r in span] == [
        ("box-a1", 2, 0, 0, 900.0),
        ("box-a2", 0, 0, 1, 0.0),
        ("box-b1", 0, 1, 0, 0.0),
    ]
    assert [
        (r.name, r.tally.aired, r.tally.partial, r.tally.failed, r.tally.missing, r.tally.seconds)
        for r in villages
    ] == [
        ("Thôn A1", 3, 0, 0, 0, 1500.0),
        ("Thôn A2", 0, 1, 0, 1, 200.0),
        ("Thôn B1", 1, 0, 1, 0, 600.0),
    ]
    assert [p.tally.seconds for p in months] == [0, 0, 1700.0, 600.0, 0, 0]
    assert [(p.period.start.day, p.tally.seconds) for p in weeks if p.tally.due] == [(2, 1400.0), (9, 300.0)]
    assert [(r.code, r.count) for r in reasons] == [("media_missing", 1), ("no_receipt", 1), ("preempted", 1)]


def test_a_commune_user_sees_only_their_communes(scenario: Scenario) -> None:
    editor = scenario.user("editor_a")
    with scenario.session() as session:
        communes = airtime(session, user=editor, period=YEAR, by="commune")
        tally = totals(session, user=editor, period=YEAR)
        broadcasts = reconciliation(session, user=editor, period=YEAR)
        with pytest.raises(NotFound):
            broadcast_boxes(session, user=editor, broadcast_key=scenario.s2b_key)
        box_rows = uptime(session, user=editor, period=MARCH, now=local(2026, 5, 1))
    assert [r.key for r in communes] == [scenario.world.commune_a]
    assert (tally.aired, tally.partial, tally.missing, tally.seconds) == (3, 1, 1, 1700.0)
    assert sorted((r.source_id, r.targeted) for r in broadcasts) == [(1, 2), (2, 1), (4, 2)]
    assert [r.key for r in box_rows] == ["box-a1", "box-a2"]


def test_uptime_is_the_online_share_of_the_period(scenario: Scenario) -> None:
    auditor = scenario.user("auditor")
    day = period_of("day", date(2026, 3, 3))
    with scenario.session() as session:
        boxes = {r.key: r for r in uptime(session, user=auditor, period=day, now=local(2026, 5, 1))}
        communes = {
            r.key: r for r in uptime(session, user=auditor, period=day, by="commune", now=local(2026, 5, 1))
        }
    assert (boxes["box-a1"].online_s, boxes["box-a1"].expected_s) == (7200.0, 86400.0)
    assert boxes["box-a2"].share == 0 and boxes["box-b1"].online_s == 60.0
    commune_a = communes[scenario.world.commune_a]
    assert (commune_a.boxes, commune_a.share) == (2, 7200 / 172800)


def test_the_clock_audit_flags_boxes_off_by_more_than_the_threshold(scenario: Scenario) -> None:
    auditor = scenario.user("auditor")
    with scenario.session() as session:
        march = clock_audit(session, user=auditor, period=MARCH, threshold_ms=1000)
        today = clock_audit(
            session, user=auditor, period=period_of("day", utcnow().astimezone(HCM).date()), threshold_ms=1000
        )
        lenient = clock_audit(session, user=auditor, period=MARCH, threshold_ms=3000)
    # 3 March: its status said 2.5 s; 10 March: its receipt came in while that was its last word.
    assert [
        (r.device_id, r.max_status_offset_ms, r.max_receipt_offset_ms, r.flagged_days) for r in march
    ] == [("box-b1", 2500.0, 2500.0, 2)]
    assert lenient == []
    assert [r.device_id for r in today] == ["box-b1"] and today[0].max_ahead_ms > 4000


def test_each_commune_against_the_province_targets(scenario: Scenario) -> None:
    world = scenario.world
    admin, editor = scenario.user("admin"), scenario.user("editor_a")
    with scenario.session() as session:
        province = session.exec(select(Zone.id).where(Zone.kind == "province")).one() or 0
        with pytest.raises(Forbidden):
            create_target(session, user=editor, zone_id=province, metric="minutes", amount=10)
        minutes = create_target(
            session, user=admin, zone_id=province, metric="minutes", amount=12, per="month", category="legal"
        )
        count = create_target(
            session, user=admin, zone_id=province, metric="broadcasts", amount=2, per="month"
        )
        weekly = create_target(session, user=admin, zone_id=province, metric="minutes", amount=5)
        own = create_target(
            session,
            user=admin,
            zone_id=world.commune_b,
            metric="minutes",
            amount=5,
            per="month",
            category="legal",
        )
        rows = target_report(session, user=scenario.user("auditor"), period=MARCH)
        mine = target_report(session, user=editor, period=MARCH)
        remove_target(session, user=admin, target_id=weekly.id or 0)
        after = {r.target.id for r in target_report(session, user=admin, period=MARCH)}
    got = {(r.commune_id, r.target.id): (round(r.achieved, 2), round(r.goal, 2), r.met) for r in rows}
    a, b = world.commune_a, world.commune_b
    assert got == {
        (a, minutes.id): (13.33, 12.0, True),
        (a, count.id): (2.0, 2.0, True),
        (a, weekly.id): (18.33, round(5 * 31 / 7, 2), False),
        (b, count.id): (1.0, 2.0, False),
        (b, weekly.id): (10.0, round(5 * 31 / 7, 2), False),
        (b, own.id): (10.0, 5.0, True),  # the commune's own target replaces the province's
    }
    weeks = next(r for r in rows if r.commune_id == a and r.target.id == weekly.id).buckets
    assert [(w.period.start.day, round(w.goal, 2), w.met) for w in weeks] == [
        (1, 0.71, False),
        (2, 5.0, True),
        (9, 5.0, True),
        (16, 5.0, False),
        (23, 5.0, False),
        (30, 1.43, False),
    ]
    assert {r.commune_id for r in mine} == {a}
    assert after == {minutes.id, count.id, own.id}
