"""Hijack: thousands of generated forged, replayed, expired, rolled-back and cross-commune documents
and commands, published straight to the broker, with a stolen box account and with an account that
reaches the boxes: none plays, each is reported. Then each verdict is shown to fail when one thing
the attack achieved, or one report that went missing, is planted in what was observed."""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path

import faults
import pytest
from faults_forge import CODES
from faults_hijack import problems, run_hijack

from tests.databases import on_postgresql

pytestmark = [
    pytest.mark.integration,
    pytest.mark.faults,
    pytest.mark.timeout(faults.TEST_TIMEOUT_S[faults.env_size()]),
    pytest.mark.skipif(on_postgresql(), reason="the fleet's controller runs on its own SQLite database"),
]


def test_no_forged_replayed_expired_or_foreign_document_plays_and_each_is_reported(tmp_path: Path) -> None:
    size = faults.size_for_tests("hijack")
    hijack = run_hijack(tmp_path, size, log=faults.log)
    result, seen = hijack.result, hijack.seen
    assert result["problems"] == []
    assert result["attempts"] == size.attempts >= 1000
    ways = {key.split(":")[1] for key in result["by_kind_and_way"]}
    assert ways == set(CODES)  # every way: forged … cross_commune
    assert result["plays"] == 0 and result["timelines_adopted"] == 0 and result["control_played"]
    assert result["refusals_stored_by_controller"] == result["deliveries"] >= size.attempts
    # Every code, "empty" included: the agent did not report empty messages before this suite.
    assert set(result["security_codes"]) == {f"security:{code}" for code in CODES.values()}
    box = result["box_account"]
    assert box["refused_by_broker"] == box["foreign_topics"] > size.box_account_attempts
    assert box["refused_by_controller"] == box["forged_receipts"] > 0 and box["stored"] == 0
    assert result["passed"]

    name = sorted(seen.counted)[0]
    planted = {
        "an airing": {"plays": [[name, "attack-1", 0.0, 0, None]]},
        "an adopted timeline": {"adopted": [[name, 99, 0.0]]},
        "a receipt naming an attack": {"attack_receipts": 1},
        "a refusal the box did not count": {"counted": seen.counted | {name: seen.counted[name] - 1}},
        "a refusal the controller never heard of": {"stored": seen.stored | {name: seen.stored[name] - 1}},
        "a missing security receipt": {"reported": seen.reported | {name: seen.reported[name] - 1}},
        "a wrong reason": {
            "codes": seen.codes | {name: seen.codes[name] + Counter(["security:clock_not_sane"])}
        },
        "a publish the broker let through": {"box_account": seen.box_account | {"accepted_by_broker": 1}},
        "a forged receipt stored": {"box_account": seen.box_account | {"stored": 1}},
        "a blind airing check": {"control_played": False},
    }
    for what, change in planted.items():
        assert len(problems(dataclasses.replace(seen, **change))) == 1, what
