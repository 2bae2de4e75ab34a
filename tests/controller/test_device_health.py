"""Status handling, bounded health history, and the alerts computed from them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from controller import alerts, devices, health
from controller.alerts import AlertRules
from controller.audit_chain import append_receipt
from controller.db import make_engine, migrate
from controller.health import HealthSampler, StatusWriter
from controller.live import DeviceHub
from controller.models import Device, DeviceHealth, Receipt, Zone
from playlists.wire import Status, to_json

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
RULES = AlertRules(offline_after=timedelta(minutes=30), stale_after=timedelta(minutes=3))


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'loa.db'}"
    migrate(url)
    engine = make_engine(url)
    with Session(engine) as session:
        zone = Zone(code="w1", name="Xã Một", kind="commune")
        session.add(zone)
        session.flush()
        for device_id, revoked_at in (("box-1", None), ("box-2", None), ("box-gone", T0)):
            session.add(
                Device(
                    id=device_id, name=device_id, zone_id=zone.id or 0, public_key="k", revoked_at=revoked_at
                )
            )
        session.commit()
    yield engine
    engine.dispose()


def status(device_id: str = "box-1", *, state: str = "online", at_ms: int = 1, **fields: object) -> bytes:
    if state == "offline":
        return to_json(Status(device_id=device_id, state="offline"))
    values: dict[str, object] = {"disk_free_mb": 5000, "cpu_temp_c": 50.5, "volume": 80, "outbox_pending": 0}
    values.update(fields)
    return to_json(Status(device_id=device_id, state="online", at_ms=at_ms, **values))  # type: ignore[arg-type]


def device(engine: Engine, device_id: str = "box-1") -> Device:
    with Session(engine) as session:
        found = session.get(Device, device_id)
        assert found is not None
        return found


def history(engine: Engine, device_id: str = "box-1") -> list[DeviceHealth]:
    with Session(engine) as session:
        rows = session.exec(
            select(DeviceHealth).where(DeviceHealth.device_id == device_id).order_by(col(DeviceHealth.at))
        )
        return list(rows.all())


# -- status handling ---------------------------------------------------------------------------


def test_a_status_marks_the_box_online_at_arrival_time_and_adds_a_health_row(engine: Engine) -> None:
    assert devices.handle_status(engine, device_id="box-1", raw=status(cpu_temp_c=61.0), now=T0)
    box = device(engine)
    assert box.state == "online" and box.last_seen_at == T0
    assert devices.status_of(box)["cpu_temp_c"] == 61.0
    [row] = history(engine)
    assert (row.at, row.online, row.cpu_temp_c, row.disk_free_mb, row.volume) == (T0, True, 61.0, 5000, 80)


def test_the_brokers_retained_copy_again_changes_nothing(engine: Engine) -> None:
    raw = status(at_ms=42)
    assert devices.handle_status(engine, device_id="box-1", raw=raw, now=T0)
    assert not devices.handle_status(engine, device_id="box-1", raw=raw, now=T0 + timedelta(minutes=5))
    assert device(engine).last_seen_at == T0 and len(history(engine)) == 1


def test_an_offline_will_keeps_the_last_measures_and_records_the_transition_once(engine: Engine) -> None:
    devices.handle_status(engine, device_id="box-1", raw=status(disk_free_mb=150), now=T0)
    later = T0 + timedelta(minutes=2)
    assert devices.handle_status(engine, device_id="box-1", raw=status(state="offline"), now=later)
    assert not devices.handle_status(engine, device_id="box-1", raw=status(state="offline"), now=later)
    box = device(engine)
    assert box.state == "offline" and box.last_seen_at == T0
    assert devices.status_of(box)["disk_free_mb"] == 150
    assert [(r.at, r.online) for r in history(engine)] == [(T0, True), (later, False)]


def test_malformed_misaddressed_unknown_and_revoked_statuses_are_ignored(engine: Engine) -> None:
    assert not devices.handle_status(engine, device_id="box-1", raw=b"{not json", now=T0)
    assert not devices.handle_status(engine, device_id="box-1", raw=status("box-2"), now=T0)
    assert not devices.handle_status(engine, device_id="box-9", raw=status("box-9"), now=T0)
    assert not devices.handle_status(engine, device_id="box-gone", raw=status("box-gone"), now=T0)
    assert device(engine).state == "unknown" and history(engine) == []


def test_the_sampler_keeps_one_snapshot_per_interval_and_every_change_of_presence(engine: Engine) -> None:
    sampler = HealthSampler(timedelta(seconds=50))
    for i in range(12):  # a status every 10 s for two minutes, offline at 60 s, back at 70 s
        raw = status(state="offline") if i == 6 else status(at_ms=i + 1)
        devices.handle_status(
            engine, device_id="box-1", raw=raw, now=T0 + timedelta(seconds=10 * i), sampler=sampler
        )
    assert [(int((r.at - T0).total_seconds()), r.online) for r in history(engine)] == [
        (0, True),
        (50, True),
        (60, False),
        (70, True),
    ]


def test_a_batch_is_applied_in_order_in_one_transaction_and_notifies_each_box_once(engine: Engine) -> None:
    notified: list[tuple[str, int | None]] = []

    class Hub(DeviceHub):
        def notify(self, device_id: str, zone_id: int | None = None) -> None:
            notified.append((device_id, zone_id))

    batch = [
        ("box-1", status(at_ms=1), T0),
        ("box-2", status("box-2", at_ms=1), T0),
        ("box-1", status(state="offline"), T0 + timedelta(seconds=1)),
        ("box-1", status(at_ms=3, volume=30), T0 + timedelta(seconds=2)),
    ]
    assert health.write_statuses(engine, batch, hub=Hub()) == 4
    assert sorted(d for d, _zone in notified) == ["box-1", "box-2"]
    box = device(engine)
    assert box.state == "online" and box.last_seen_at == T0 + timedelta(seconds=2)
    assert devices.status_of(box)["volume"] == 30
    assert [r.online for r in history(engine)] == [True, False, True]


def test_the_status_writer_takes_statuses_off_the_mqtt_thread_and_writes_them(engine: Engine) -> None:
    writer = StatusWriter(sampler=None, hub=None, max_delay_s=0.01, clock=lambda: T0)
    writer.submit("box-1", status())
    writer.start(engine)
    writer.submit("box-2", status("box-2"))
    writer.stop()  # writes what is queued first
    assert device(engine, "box-1").state == "online" and device(engine, "box-2").state == "online"


# -- pruning -----------------------------------------------------------------------------------


def test_pruning_keeps_a_day_then_the_last_row_of_each_hour_and_drops_a_month(engine: Engine) -> None:
    now = datetime(2026, 3, 10, 12, 30, tzinfo=UTC)
    with Session(engine) as session:
        for minutes, online in ((0, True), (20, False), (40, True), (59, True)):  # the hour 2026-03-08 09:00
            session.add(
                DeviceHealth(
                    device_id="box-1",
                    at=datetime(2026, 3, 8, 9, minutes, tzinfo=UTC),
                    online=online,
                    volume=minutes,
                )
            )
        session.add(DeviceHealth(device_id="box-2", at=datetime(2026, 3, 8, 9, 5, tzinfo=UTC), online=True))
        for minutes in (0, 30):  # within the last 24 h (and the hour the cut falls in): untouched
            session.add(DeviceHealth(device_id="box-1", at=datetime(2026, 3, 9, 12, minutes, tzinfo=UTC)))
        session.add(DeviceHealth(device_id="box-1", at=now - timedelta(days=31)))
        session.commit()
    report = health.prune_health(engine, now=now, full_for=timedelta(hours=24), keep_for=timedelta(days=30))
    assert report.deleted == 1 + 3  # the month-old row, and three of the four rows of that hour
    rows = history(engine)
    assert [(r.at.day, r.at.hour, r.at.minute, r.hourly, r.online) for r in rows] == [
        (8, 9, 59, True, False),  # the hour's last snapshot, offline because the box was, at 09:20
        (9, 12, 0, False, True),
        (9, 12, 30, False, True),
    ]
    assert rows[0].volume == 59
    assert [r.hourly for r in history(engine, "box-2")] == [True]
    again = health.prune_health(engine, now=now, full_for=timedelta(hours=24), keep_for=timedelta(days=30))
    assert again.deleted == 0 and len(history(engine)) == 3


def test_hourly_view_and_sparkline_fit_a_day_on_a_phone() -> None:
    rows = [
        DeviceHealth(device_id="b", at=T0 + timedelta(minutes=m), cpu_temp_c=float(m)) for m in (0, 30, 61)
    ]
    assert [r.at.minute for r in health.hourly_view(rows)] == [1, 30]
    assert health.sparkline([1.0, None, 3.0], width=10, height=10) == "0.0,9.0 10.0,1.0"
    assert health.sparkline([None, 2.0]) == ""


# -- alerts ------------------------------------------------------------------------------------


def codes(**kwargs: object) -> list[str]:
    args: dict[str, object] = {
        "state": "online",
        "last_seen_at": T0,
        "status": {},
        "failed_plays": 0,
        "now": T0 + timedelta(seconds=30),
        "rules": RULES,
    }
    args.update(kwargs)
    return [a.code for a in alerts.alerts_for(**args)]  # type: ignore[arg-type]


def test_a_healthy_box_has_no_alert() -> None:
    healthy = {"disk_free_mb": 5000, "cache_mb": 100.0, "media_quota_mb": 2048, "clock_offset_ms": -999.0}
    assert codes(status={**healthy, "clock_sane": True, "outbox_pending": 100, "rejected_documents": 0}) == []


def test_offline_alert_after_the_threshold_from_the_will_or_from_silence() -> None:
    assert codes(state="offline", now=T0 + timedelta(minutes=29)) == []
    assert codes(state="offline", now=T0 + timedelta(minutes=31)) == ["offline"]
    assert codes(state="online", now=T0 + timedelta(minutes=31)) == ["offline"]  # silent, no will yet
    assert codes(state="unknown", last_seen_at=None, now=T0 + timedelta(days=3)) == []  # never installed
    [alert] = alerts.alerts_for(
        state="offline", last_seen_at=T0, status={}, failed_plays=0, now=T0 + timedelta(hours=5), rules=RULES
    )
    assert (alert.label, alert.detail) == ("Mất kết nối quá lâu", "5 giờ")


def test_a_box_that_says_online_but_is_silent_for_three_intervals_counts_as_offline() -> None:
    state = alerts.effective_state
    assert state("online", T0, now=T0 + timedelta(minutes=3), rules=RULES) == "online"
    assert state("online", T0, now=T0 + timedelta(minutes=3, seconds=1), rules=RULES) == "offline"
    assert state("offline", None, now=T0, rules=RULES) == "offline"
    assert state("unknown", None, now=T0, rules=RULES) == "unknown"


def test_disk_clock_backlog_and_rejected_documents_alert() -> None:
    assert codes(status={"disk_free_mb": 199}) == ["low_disk"]
    assert codes(status={"cache_mb": 2049.0, "media_quota_mb": 2048}) == ["cache_over_quota"]
    assert codes(status={"clock_offset_ms": 1500.0}) == ["clock_offset"]
    assert codes(status={"clock_offset_ms": -1001.0}) == ["clock_offset"]
    assert codes(status={"clock_sane": False}) == ["clock_not_sane"]
    assert codes(status={"outbox_pending": 101}) == ["outbox_backlog"]
    assert codes(status={"rejected_documents": 2}) == ["rejected_documents"]
    assert codes(failed_plays=2) == [] and codes(failed_plays=3) == ["failed_plays"]
    assert all(alerts.LABELS[c] for c in alerts.LABELS)


def _receipt(device_id: str, seq: int, event: str, *, at: datetime, item: str | None = "s1-1") -> Receipt:
    return Receipt(
        device_id=device_id, seq=seq, event=event, item_id=item, recorded_at=at, received_at=at, envelope="{}"
    )


def test_failed_plays_are_counted_over_the_last_day_without_refused_documents(engine: Engine) -> None:
    now = T0 + timedelta(days=2)
    with Session(engine) as session:
        for seq, (hours_ago, event, item) in enumerate(
            (
                (30, "failed", "s1-1"),  # too old
                (20, "failed", "s1-2"),
                (10, "completed", "s1-3"),
                (5, "failed", None),  # a refused document, not a play
                (4, "failed", "s1-4"),
                (1, "failed", "s1-5"),
            ),
            start=1,
        ):
            append_receipt(
                session, _receipt("box-1", seq, event, at=now - timedelta(hours=hours_ago), item=item)
            )
        append_receipt(session, _receipt("box-2", 1, "failed", at=now - timedelta(hours=2)))
        session.commit()
        assert alerts.failed_play_counts(session, now=now) == {"box-1": 3, "box-2": 1}
        assert alerts.failed_play_counts(session, now=now, device_ids=["box-2"]) == {"box-2": 1}
        assert alerts.failed_play_counts(session, now=now + timedelta(days=2)) == {}


def test_the_first_receipt_of_the_window_is_found_by_binary_search_despite_gaps(engine: Engine) -> None:
    with Session(engine) as session:
        assert alerts.first_receipt_id_since(session, T0) is None
        for i in range(1, 40):
            append_receipt(session, _receipt("box-1", i, "completed", at=T0 + timedelta(minutes=i)))
        session.commit()
        for gone in session.exec(select(Receipt).where(col(Receipt.seq).in_([10, 11, 12, 20]))).all():
            session.delete(gone)
        session.commit()
        ids = {r.seq: r.id for r in session.exec(select(Receipt)).all()}
        assert alerts.first_receipt_id_since(session, T0 + timedelta(minutes=10)) == ids[13]
        assert alerts.first_receipt_id_since(session, T0 + timedelta(minutes=1)) == ids[1]
        assert alerts.first_receipt_id_since(session, T0 + timedelta(minutes=39)) == ids[39]
        assert alerts.first_receipt_id_since(session, T0 + timedelta(minutes=40)) is None


# -- the live hub ------------------------------------------------------------------------------


def test_the_hub_wakes_only_interested_pages_once_per_batch_of_changes() -> None:
    async def scenario() -> tuple[set[str], set[str], set[str]]:
        hub = DeviceHub()
        commune = hub.subscribe(zone_ids={1}, device_ids=None)
        one_box = hub.subscribe(zone_ids=None, device_ids={"box-2"})
        hub.notify("box-1", 1)
        hub.notify("box-2", 2)
        hub.notify("box-3", None)  # zone unknown here: the page's scoped re-read decides
        seen = await commune.wait(1.0), await one_box.wait(1.0)
        hub.unsubscribe(commune)
        hub.notify("box-1", 1)
        assert hub.listeners == 1
        return seen[0], seen[1], await commune.wait(0.01)

    commune, one_box, after = asyncio.run(scenario())
    assert commune == {"box-1", "box-3"} and one_box == {"box-2"} and after == set()


def test_the_hub_is_woken_from_another_thread() -> None:
    import threading

    async def scenario() -> set[str]:
        hub = DeviceHub()
        page = hub.subscribe(zone_ids=None, device_ids=None)

        def notify_all() -> None:
            for i in range(100):
                hub.notify(f"box-{i}", 1)

        thread = threading.Thread(target=notify_all)
        thread.start()
        changed = await page.wait(5.0)
        thread.join()
        return changed | page.take()

    assert asyncio.run(scenario()) == {f"box-{i}" for i in range(100)}
