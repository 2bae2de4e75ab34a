"""The soak of issue 9's fault suite: a fleet airs a compressed schedule while its broker, box
processes and controller are killed with SIGKILL and started again; afterwards no receipt may be
lost or doubled, every item must be accounted for, and the audit chain must verify.

The schedule: one province-wide daily rule (``POST /api/v1/schedules``, as the panel saves one)
with a slot every ``every_s`` seconds across the window, so every box is given the same items; the
bulletins are the fleet's 2–5 s tones. The faults are spread evenly over the window, one at a time:

* broker: ``kill -9``, 2 s down, started again on the same port and folder (what it had not saved
  yet is lost, as in a crash; boxes and controller reconnect with their backoff);
* agent: a box process is killed with ``kill -9`` (every box in it dies mid-write or mid-airing) and
  a new one started over the same box folders — keys, outboxes, timelines — as systemd would;
* controller: ``kill -9``, then ``loa serve`` again (receipts in its queue are lost with it; the
  boxes resend everything not acked).

Then every outbox must drain, and the checks of bench/faults_checks.py run on what is left.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import faults_checks as checks
from fleet import Fleet
from fleet_boxes import device_id
from fleet_world import MEDIA_SECONDS


@dataclass(frozen=True)
class SoakSize:
    boxes: int
    procs: int
    window_s: float  # the compressed schedule: slots from its start to its end
    every_s: float  # a slot this often
    broker_kills: int
    agent_kills: int
    controller_restarts: int
    drain_timeout_s: float


@dataclass
class Soak:
    """The result (JSON-ready) and what the checks were run on (for tests that tamper with it)."""

    result: dict[str, Any]
    outboxes: dict[str, tuple[int, int]]
    stored: dict[str, list[int]]
    states: dict[str, dict[str, int]]
    env: dict[str, str]
    database_url: str


def controller_env(fleet: Fleet) -> dict[str, str]:
    """The environment ``loa`` commands need to reach this fleet's controller database."""
    return {k: v for k, v in os.environ.items() if not k.startswith("LOA_")} | fleet.env


def post_daily(fleet: Fleet, instants: list[datetime], *, bulletin_id: int) -> list[int]:
    """Province-wide daily slots at these instants' local times of day, one schedule per local date
    (each ends the day it starts, so nothing fires outside the instants); returns the schedule ids."""
    from playlists.rules import Rule

    assert fleet.seeded is not None
    tz = ZoneInfo(fleet.settings.timezone)
    by_day: dict[Any, list[Any]] = {}
    for at in instants:
        local = at.astimezone(tz)
        by_day.setdefault(local.date(), []).append(local.time().replace(microsecond=0))
    rules = [
        Rule(kind="daily", start_date=day, end_date=day, times=tuple(times), timezone=str(tz))
        for day, times in sorted(by_day.items())
    ]
    return fleet.post_schedules(bulletin_id, rules)


def published_versions(fleet: Fleet) -> dict[str, int]:
    rows = fleet.rows("SELECT device_id, version FROM devicetimeline")
    return {str(name): int(version) for name, version in rows}


def wait_compiled(
    fleet: Fleet, names: list[str], before: dict[str, int], *, timeout_s: float
) -> dict[str, int]:
    """Each box's timeline version once every box has a newer one than ``before`` (or at the timeout)."""
    deadline = time.monotonic() + timeout_s
    while True:
        versions = published_versions(fleet)
        if all(versions.get(n, 0) > before.get(n, 0) for n in names) or time.monotonic() > deadline:
            return versions
        time.sleep(0.5)


def wait_outboxes_drained(fleet: Fleet, names: list[str], timeout_s: float) -> float | None:
    """Seconds until no outbox holds a receipt (None: not within the timeout)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        if all(pending == 0 for _last, pending in checks.outbox_state(fleet.box_root, names).values()):
            return round(time.monotonic() - start, 2)
        time.sleep(1.0)
    return None


def fault_plan(size: SoakSize) -> list[str]:
    """The faults in the order they happen, the kinds interleaved."""
    timed = [(k / size.broker_kills, "broker") for k in range(size.broker_kills)]
    timed += [((k + 0.5) / size.agent_kills, "agent") for k in range(size.agent_kills)]
    timed += [((k + 0.75) / size.controller_restarts, "controller") for k in range(size.controller_restarts)]
    return [kind for _at, kind in sorted(timed)]


def run_soak(work: Path, size: SoakSize, *, log: Any) -> Soak:
    """The whole soak; raises only when the world could not be built (verdicts are in the result)."""
    from sqlalchemy import create_engine

    names = [device_id(n) for n in range(size.boxes)]
    with Fleet(work / "soak", boxes=size.boxes, procs=size.procs, status_every_s=30, log=log) as fleet:
        seeded = fleet.seed()
        fleet.start_controller()
        online_s = fleet.grow(size.boxes)
        lead_s = 6 + size.boxes / 20  # the POST compiles and publishes every box's timeline first
        first = datetime.now().astimezone() + timedelta(seconds=lead_s)
        slots = max(1, int(size.window_s // size.every_s))
        instants = [first + timedelta(seconds=k * size.every_s) for k in range(slots)]
        before = published_versions(fleet)
        post_started = time.monotonic()
        schedule_ids = post_daily(fleet, instants, bulletin_id=seeded.bulletin_ids[0])
        post_s = time.monotonic() - post_started
        # The request answers before a large compile ends (controller/timelines.py): wait for it.
        versions = wait_compiled(fleet, names, before, timeout_s=lead_s)
        accepted, _arrivals = fleet.wait_timelines(min(versions[n] for n in names), timeout_s=60 + lead_s)
        plan = fault_plan(size)
        done: list[dict[str, Any]] = []
        window_start = time.time()
        start_at = first.timestamp()
        for n, kind in enumerate(plan):
            at = start_at + (n + 0.5) * size.window_s / len(plan)
            time.sleep(max(0.0, at - time.time()))
            done.append(inject(fleet, kind, sum(f["kind"] == kind for f in done)))
            log(f"fault {n + 1}/{len(plan)}: {done[-1]}")
        end = instants[-1].timestamp() + max(MEDIA_SECONDS) + 5
        time.sleep(max(0.0, end - time.time()))
        drain_s = wait_outboxes_drained(fleet, names, size.drain_timeout_s)
        fleet.stop_boxes()
        outboxes = checks.outbox_state(fleet.box_root, names)
        fleet.stop_controller()
        engine = create_engine(fleet.settings.resolved_database_url)
        try:
            stored = checks.stored_seqs(engine, names)
            folded = checks.fold(engine, fleet.settings, at=checks.later())
            states = checks.as_run_states(engine, schedule_ids)
        finally:
            engine.dispose()
        env = controller_env(fleet)
        verified, verify_output = checks.audit_verify(env)
        receipt_problems = checks.check_receipts(outboxes, stored)
        as_run_problems = checks.check_as_run(states, names, slots)
        result = {
            "boxes": size.boxes,
            "procs": size.procs,
            "window_s": size.window_s,
            "slots": slots,
            "every_s": size.every_s,
            "online_s": round(online_s, 2),
            "schedule_post_s": round(post_s, 2),
            "timelines_accepted": len(accepted),
            "faults": done,
            "faults_window_s": round(time.time() - window_start, 1),
            "drain_s": drain_s,
            "receipts_stored": sum(len(s) for s in stored.values()),
            "fold": folded,
            "as_run": checks.state_totals(states),
            "audit_verify": verified,
            "audit_verify_output": verify_output[-500:],
            "problems": {"receipts": receipt_problems[:20], "as_run": as_run_problems[:20]},
            "passed": verified and drain_s is not None and not receipt_problems and not as_run_problems,
        }
        return Soak(result, outboxes, stored, states, env, fleet.settings.resolved_database_url)


def inject(fleet: Fleet, kind: str, n: int) -> dict[str, Any]:
    """The ``n``-th fault of its kind, and how long until the fleet was whole again."""
    started = time.monotonic()
    if kind == "broker":
        fleet.kill_broker()
        time.sleep(2)
        fleet.start_broker()
        target = "mosquitto"
    elif kind == "agent":
        index = n % len(fleet.workers)
        fleet.kill_worker(index)
        time.sleep(1)
        fleet.restart_worker(index)
        target = f"box process {index} ({sum(c for _f, c in fleet.ranges[index])} boxes)"
    else:
        fleet.kill_controller()
        fleet.start_controller()
        target = "loa serve"
    return {"kind": kind, "target": target, "recovered_s": round(time.monotonic() - started, 2)}
