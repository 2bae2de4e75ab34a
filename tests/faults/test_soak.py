"""The soak: a fleet airs a compressed schedule through broker, box-process and controller kill -9s;
no receipt is lost or doubled, every item is accounted for, the audit chain verifies. Then each of
those checks is shown to fail on evidence with one fault planted in it."""

from __future__ import annotations

import contextlib
import copy
import sqlite3
from pathlib import Path

import faults
import pytest
from faults_checks import audit_verify, check_as_run, check_receipts
from faults_soak import Soak, run_soak

from tests.databases import on_postgresql

pytestmark = [
    pytest.mark.integration,
    pytest.mark.faults,
    pytest.mark.timeout(faults.TEST_TIMEOUT_S[faults.env_size()]),
    pytest.mark.skipif(on_postgresql(), reason="the fleet's controller runs on its own SQLite database"),
]


def test_nothing_is_lost_doubled_or_unaccounted_for_through_kill_9s(tmp_path: Path) -> None:
    size = faults.size_for_tests("soak")
    soak = run_soak(tmp_path, size, log=faults.log)
    result = soak.result
    assert [f["kind"] for f in result["faults"]].count("agent") == size.agent_kills
    assert [f["kind"] for f in result["faults"]].count("broker") == size.broker_kills
    assert [f["kind"] for f in result["faults"]].count("controller") == size.controller_restarts
    assert result["timelines_accepted"] == size.boxes
    assert result["drain_s"] is not None, "every outbox drained"
    assert result["problems"] == {"receipts": [], "as_run": []}
    assert result["audit_verify"], result["audit_verify_output"]
    assert result["receipts_stored"] >= size.boxes * result["slots"] * 2  # started + completed at least
    assert sum(result["as_run"].values()) == size.boxes * result["slots"]
    assert result["as_run"].get("aired", 0) > 0 and result["passed"]
    _each_check_fails_on_a_planted_fault(soak, tmp_path)


def _each_check_fails_on_a_planted_fault(soak: Soak, tmp_path: Path) -> None:
    box, other = sorted(soak.outboxes)[:2]
    last = soak.outboxes[box][0]
    assert last >= 2
    lost = copy.deepcopy(soak.stored)
    lost[box].remove(2)
    assert check_receipts(soak.outboxes, lost) == [f"{box}: receipts lost 2 (outbox gave 1…{last})"]
    doubled = copy.deepcopy(soak.stored)
    doubled[box].insert(0, 1)
    assert check_receipts(soak.outboxes, doubled) == [f"{box}: receipts doubled 1 (outbox gave 1…{last})"]
    waiting = dict(soak.outboxes) | {other: (soak.outboxes[other][0] + 1, 1)}
    found = check_receipts(waiting, soak.stored)
    assert f"{other}: 1 receipt(s) still waiting in the outbox" in found and len(found) == 2

    missing = copy.deepcopy(soak.states)
    states = missing[box]
    state = next(s for s in states if states[s])
    states[state] -= 1
    states["missing"] = states.get("missing", 0) + 1
    slots = sum(soak.states[box].values())
    assert check_as_run(missing, list(soak.states), slots) == [f"{box}: unaccounted for: {{'missing': 1}}"]
    assert check_as_run(soak.states, [*soak.states, "fleet-99999"], slots) == [
        f"fleet-99999: 0 item(s) in the as-run, {slots} scheduled"
    ]

    # A receipt deleted from a copy of the controller's database: loa audit verify refuses it.
    database = Path(soak.database_url.removeprefix("sqlite:///"))
    copied = tmp_path / "tampered.db"
    with (
        contextlib.closing(sqlite3.connect(database)) as source,
        contextlib.closing(sqlite3.connect(copied)) as to,
    ):
        source.backup(to)
    with contextlib.closing(sqlite3.connect(copied)) as db:
        db.execute("DELETE FROM receipt WHERE device_id = ? AND seq = 2", (box,))
        db.commit()
    passed, output = audit_verify(soak.env | {"LOA_DATABASE_URL": f"sqlite:///{copied}"})
    assert not passed, output
    assert audit_verify(soak.env)[0], "the untouched database still verifies"
