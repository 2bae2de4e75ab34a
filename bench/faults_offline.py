"""Offline, from issue 9's fault suite: boxes cut from the broker for 72 simulated hours play every
item of their timeline on their own and keep every receipt; once reconnected, all of them drain.

The boxes hold a real timeline first: a province-wide daily rule with a slot every 28 min 48 s
(50 a day, 150 in 72 hours), saved through ``POST /api/v1/schedules``, compiled, signed and
published by the controller (its horizon set to 80 hours). Then each box is cut from the broker
(its connection closed, no reconnecting) and 72 hours pass for it at once: its clock is the agent's
clock interface with simulated time (``fleet_parts.LoopClock.fast``: waits return at once having
moved time forward, as ``edge_agent.testing.FakeClock``'s do), and its real player plays each item
(null sink) and writes its receipts in the real outbox. Reconnected, the boxes send everything; the
controller must store every receipt exactly once and ack them all.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faults_checks as checks
from faults_soak import controller_env, published_versions, wait_compiled, wait_outboxes_drained
from fleet import Fleet
from fleet_boxes import device_id

SLOT_S = 1728  # 50 slots a day: 150 in 72 hours
HORIZON_HOURS = 80


@dataclass(frozen=True)
class OfflineSize:
    boxes: int
    procs: int
    hours: float
    drain_timeout_s: float


@dataclass
class Offline:
    result: dict[str, Any]
    outboxes: dict[str, tuple[int, int]]
    stored: dict[str, list[int]]
    expected: dict[str, int]  # items due in each box's offline stretch
    completed: dict[str, int]  # of those, how many the controller holds a ``completed`` receipt for


def run_offline(work: Path, size: OfflineSize, *, log: Any) -> Offline:
    from sqlalchemy import create_engine, text

    names = [device_id(n) for n in range(size.boxes)]
    with Fleet(work / "offline", boxes=size.boxes, procs=size.procs, status_every_s=30, log=log) as fleet:
        seeded = fleet.seed()
        fleet.start_controller({"LOA_TIMELINE_HORIZON_HOURS": str(HORIZON_HOURS)})
        fleet.grow(size.boxes)
        before = published_versions(fleet)
        schedule_ids = post_daily_forever(fleet, bulletin_id=seeded.bulletin_ids[0])
        # The request answers before a large compile ends (controller/timelines.py): wait for it.
        versions = wait_compiled(fleet, names, before, timeout_s=60 + size.boxes * 0.3)
        fleet.wait_timelines(min(versions[n] for n in names), timeout_s=120 + size.boxes * 0.1)
        timelines = stored_timelines(fleet)
        log(f"cutting {size.boxes} boxes off for {size.hours} simulated hours")
        started = time.monotonic()
        rows = []
        for n, worker in enumerate(fleet.workers):
            mine = [device_id(i) for lo, count in fleet.ranges[n] for i in range(lo, lo + count)]
            worker.send({"cmd": "offline", "boxes": mine, "hours": size.hours})
        for worker in fleet.workers:
            rows += worker.wait_for("offline", 600)["rows"]
        offline_s = time.monotonic() - started
        expected = {
            row["box"]: sum(row["from_ms"] < start <= row["until_ms"] for start in timelines[row["box"]])
            for row in rows
        }
        written = sum(row["receipts"] for row in rows)
        waiting = sum(pending for _last, pending in checks.outbox_state(fleet.box_root, names).values())
        log(f"{written} receipts written offline ({waiting} waiting); reconnecting")
        reconnect = time.monotonic()
        for n, worker in enumerate(fleet.workers):
            mine = [device_id(i) for lo, count in fleet.ranges[n] for i in range(lo, lo + count)]
            worker.send({"cmd": "online", "boxes": mine})
        drain_s = wait_outboxes_drained(fleet, names, size.drain_timeout_s)
        drained_at = time.monotonic() - reconnect
        fleet.stop_boxes()
        outboxes = checks.outbox_state(fleet.box_root, names)
        fleet.stop_controller()
        engine = create_engine(fleet.settings.resolved_database_url)
        try:
            stored = checks.stored_seqs(engine, names)
            completed: dict[str, int] = {}
            with engine.connect() as db:
                for row in rows:
                    completed[row["box"]] = int(
                        db.execute(
                            text(
                                "SELECT COUNT(DISTINCT item_id) FROM receipt WHERE device_id = :d "
                                "AND event = 'completed' AND started_at > :a AND started_at <= :b"
                            ),
                            {"d": row["box"], "a": _utc(row["from_ms"]), "b": _utc(row["until_ms"])},
                        ).scalar_one()
                    )
        finally:
            engine.dispose()
        verified, verify_output = checks.audit_verify(controller_env(fleet))
        problems = checks.check_receipts(outboxes, stored)
        played = check_played(expected, completed)
        result = {
            "boxes": size.boxes,
            "hours": size.hours,
            "schedules": schedule_ids,
            "items_due_per_box": {"min": min(expected.values()), "max": max(expected.values())},
            "receipts_written_offline": written,
            "waiting_before_reconnect": waiting,
            "simulated_s": round(offline_s, 2),
            "drain_s": drain_s if drain_s is not None else None,
            "drain_wall_s": round(drained_at, 2),
            "receipts_per_s": round(written / drained_at, 1) if drain_s is not None and drained_at else None,
            "receipts_stored": sum(len(s) for s in stored.values()),
            "audit_verify": verified,
            "audit_verify_output": verify_output[-500:],
            "problems": {"receipts": problems[:20], "played": played[:20]},
            "passed": verified and drain_s is not None and not problems and not played,
        }
        return Offline(result, outboxes, stored, expected, completed)


def check_played(expected: dict[str, int], completed: dict[str, int], *, least: int = 150) -> list[str]:
    """Each box had at least ``least`` items due while offline and reported every one completed."""
    found = [f"{name}: only {n} items due offline" for name, n in sorted(expected.items()) if n < least]
    found += [
        f"{name}: {completed.get(name, 0)} of {n} items reported completed"
        for name, n in sorted(expected.items())
        if completed.get(name, 0) != n
    ]
    return found


def post_daily_forever(fleet: Fleet, *, bulletin_id: int) -> list[int]:
    """One province-wide daily rule with a slot every ``SLOT_S`` from midnight (the controller's time
    zone), from today on, no end date."""
    from datetime import time as clock_time
    from zoneinfo import ZoneInfo

    from playlists.rules import Rule

    assert fleet.seeded is not None
    tz = ZoneInfo(fleet.settings.timezone)
    times = tuple(
        clock_time(k * SLOT_S // 3600, k * SLOT_S // 60 % 60, k * SLOT_S % 60) for k in range(86400 // SLOT_S)
    )
    rule = Rule(kind="daily", start_date=datetime.now(tz).date(), times=times, timezone=str(tz))
    return fleet.post_schedules(bulletin_id, [rule])


def stored_timelines(fleet: Fleet) -> dict[str, list[int]]:
    """Each box's published timeline: its items' start instants (ms)."""
    rows = fleet.rows("SELECT device_id, envelope FROM devicetimeline")
    return {
        str(name): [int(item["start_ms"]) for item in json.loads(envelope)["payload"]["items"]]
        for name, envelope in rows
    }


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)
