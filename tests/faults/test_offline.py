"""Offline: boxes cut from the broker for 72 simulated hours play every item on their own, and once
reconnected every receipt drains, stored once. The checks are then shown to fail on planted faults."""

from __future__ import annotations

import copy
from pathlib import Path

import faults
import pytest
from faults_checks import check_receipts
from faults_offline import check_played, run_offline

from tests.databases import on_postgresql

pytestmark = [
    pytest.mark.integration,
    pytest.mark.faults,
    pytest.mark.timeout(faults.TEST_TIMEOUT_S[faults.env_size()]),
    pytest.mark.skipif(on_postgresql(), reason="the fleet's controller runs on its own SQLite database"),
]


def test_seventy_two_hours_offline_then_every_receipt_drains(tmp_path: Path) -> None:
    size = faults.size_for_tests("offline")
    offline = run_offline(tmp_path, size, log=faults.log)
    result = offline.result
    assert result["problems"] == {"receipts": [], "played": []}
    assert result["drain_s"] is not None and result["audit_verify"], result["audit_verify_output"]
    assert result["items_due_per_box"]["min"] >= 150
    # Nothing could leave while cut off: everything written offline waited, then was stored.
    assert result["waiting_before_reconnect"] == result["receipts_written_offline"]
    assert result["receipts_stored"] >= result["receipts_written_offline"] >= size.boxes * 150 * 2
    assert offline.completed == offline.expected and result["passed"]

    box = sorted(offline.outboxes)[0]
    last = offline.outboxes[box][0]
    lost = copy.deepcopy(offline.stored)
    lost[box].pop()
    assert check_receipts(offline.outboxes, lost) == [f"{box}: receipts lost {last} (outbox gave 1…{last})"]
    undrained = dict(offline.outboxes) | {box: (last, 3)}
    assert check_receipts(undrained, offline.stored) == [f"{box}: 3 receipt(s) still waiting in the outbox"]
    played = dict(offline.completed) | {box: offline.completed[box] - 1}
    due = offline.expected[box]
    assert check_played(offline.expected, played) == [f"{box}: {due - 1} of {due} items reported completed"]
    assert check_played(offline.expected, offline.completed, least=due + 1)
