"""The fault suite's verdicts (bench/faults.py, tests/faults/): each returns what it found wrong, as
sentences, so that a run can list every problem and a test can show that each check fails when it
should (a receipt deleted, an outbox left undrained, an item left unaccounted for, a chain edited).

* receipts: every box's seqs in the controller's database are 1…last with no gap and no repeat,
  where last is the highest seq its outbox ever gave (``meta.last_seq``), and nothing waits in it;
* as-run: every item the boxes were given in a window ended aired, partial, failed or skipped
  (never pending nor missing), after the as-run fold has run to a time past every item's grace;
* the audit chain: ``loa audit verify`` exits 0.
"""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

ROOT = Path(__file__).resolve().parents[1]
ACCOUNTED = ("aired", "partial", "failed", "skipped")  # an item's final states other than missing


def outbox_state(box_root: Path, names: Iterable[str]) -> dict[str, tuple[int, int]]:
    """Each box's (last seq ever given, receipts still waiting for an ack), read from its outbox."""
    found = {}
    for name in names:
        path = box_root / "boxes" / name / "outbox.db"
        with contextlib.closing(sqlite3.connect(path, timeout=30)) as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'last_seq'").fetchone()
            (pending,) = db.execute("SELECT COUNT(*) FROM receipts").fetchone()
        found[name] = (int(row[0]) if row else 0, int(pending))
    return found


def stored_seqs(engine: Engine, names: Iterable[str]) -> dict[str, list[int]]:
    """Each box's receipt seqs as the controller stored them, in order (repeats kept)."""
    wanted = set(names)
    found: dict[str, list[int]] = {name: [] for name in wanted}
    with engine.connect() as db:
        for device_id, seq in db.execute(text("SELECT device_id, seq FROM receipt ORDER BY device_id, seq")):
            if device_id in wanted:
                found[device_id].append(int(seq))
    return found


def check_receipts(outboxes: dict[str, tuple[int, int]], stored: dict[str, list[int]]) -> list[str]:
    """Zero lost, zero doubled: the stored seqs of each box are exactly 1…last of its outbox."""
    problems = []
    for name, (last, pending) in sorted(outboxes.items()):
        seqs = stored.get(name, [])
        if pending:
            problems.append(f"{name}: {pending} receipt(s) still waiting in the outbox")
        if seqs == list(range(1, last + 1)):
            continue
        counts = Counter(seqs)
        lost = sorted(set(range(1, last + 1)) - set(counts))
        doubled = sorted(seq for seq, n in counts.items() if n > 1)
        unknown = sorted(seq for seq in counts if not 1 <= seq <= last)
        parts = [
            f"{label} {_few(seqs_)}"
            for label, seqs_ in (("lost", lost), ("doubled", doubled), ("beyond the outbox", unknown))
            if seqs_
        ]
        problems.append(f"{name}: receipts {', '.join(parts)} (outbox gave 1…{last})")
    return problems


def _few(values: list[int]) -> str:
    return ", ".join(map(str, values[:5])) + (f" … ({len(values)})" if len(values) > 5 else "")


def fold(engine: Engine, settings: Any, *, at: datetime) -> dict[str, int]:
    """Run the as-run fold once, as of ``at`` (the controller's job would, given time)."""
    from controller.asrun_fold import AsRunFold

    report = AsRunFold.from_settings(engine, settings).run(now=at)
    return {"items_added": report.items_added, "receipts": report.receipts, "missing": report.missing}


def as_run_states(engine: Engine, schedule_ids: Iterable[int]) -> dict[str, dict[str, int]]:
    """Per box: how many of the items of these schedules ended in each state."""
    ids = sorted(set(schedule_ids))
    found: dict[str, dict[str, int]] = defaultdict(dict)
    if not ids:
        return found
    sql = text(
        "SELECT device_id, state, COUNT(*) FROM occurrence WHERE source = 'schedule' "
        f"AND source_id IN ({', '.join(str(int(i)) for i in ids)}) GROUP BY device_id, state"
    )
    with engine.connect() as db:
        for device_id, state, count in db.execute(sql):
            found[device_id][state] = int(count)
    return found


def check_as_run(states: dict[str, dict[str, int]], names: Iterable[str], expected: int) -> list[str]:
    """Every box was given ``expected`` items and each ended aired, partial, failed or skipped."""
    problems = []
    for name in sorted(names):
        by_state = states.get(name, {})
        given = sum(by_state.values())
        if given != expected:
            problems.append(f"{name}: {given} item(s) in the as-run, {expected} scheduled")
        loose = {state: n for state, n in by_state.items() if state not in ACCOUNTED}
        if loose:
            problems.append(f"{name}: unaccounted for: {loose}")
    return problems


def audit_verify(env: dict[str, str]) -> tuple[bool, str]:
    """``loa audit verify`` against the controller these settings name: (passed, its output)."""
    done = subprocess.run(
        [sys.executable, "-m", "loa", "audit", "verify"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return done.returncode == 0, (done.stdout + done.stderr).strip()[-2000:]


def state_totals(states: dict[str, dict[str, int]]) -> dict[str, int]:
    totals: Counter[str] = Counter()
    for by_state in states.values():
        totals.update(by_state)
    return dict(sorted(totals.items()))


def later(hours: float = 1.0) -> datetime:
    """A time past every item's grace: the fold marks what was never reported as missing."""
    from controller.models import utcnow

    return utcnow() + timedelta(hours=hours)
