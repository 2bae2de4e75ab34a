"""Each issue-9 benchmark at its --quick size: it runs end to end on the real parts (Mosquitto with the
registry's accounts, the controller, enrolled boxes running the agent) and writes sane JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def run_quick(tmp_path: Path, name: str, *extra: str) -> dict[str, Any]:
    out = tmp_path / f"{name}.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOA_")}
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / f"{name}.py"), "--quick", "--out", str(out), *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    result: dict[str, Any] = json.loads(out.read_text())
    assert result["host"]["cpus"] >= 1 and "load_average_end" in result["host"]
    return result


def test_emergency_reaches_every_box_and_the_floor_is_measured_alongside(tmp_path: Path) -> None:
    result = run_quick(tmp_path, "emergency_fanout", "--offsets-ms", "30")  # box clocks off by ±30 ms
    (row,) = result["rows"]
    emergency, floor = row["emergency"], row["floor"]
    assert row["boxes"] == result["boxes"] == 20
    assert emergency["n"] == floor["n"] == 20 and emergency["missing"] == floor["missing"] == 0
    assert 0 < emergency["p50_s"] <= emergency["p99_s"] <= emergency["max_s"] < 30
    assert 0 < floor["p50_s"] <= floor["p99_s"] < emergency["max_s"]  # a bare publish is quicker
    assert 0 < emergency["confirm_http_s"] < 30  # the answer may come after the first boxes started
    assert emergency["arrival"]["n"] == 20 and emergency["command_bytes"] > 200
    assert row["ratio_p99_to_floor"] == pytest.approx(emergency["p99_s"] / floor["p99_s"], rel=0.01)
    assert row["drain_s"] is not None, "every box's started, completed and command_done receipts acked"
    assert set(result["targets_met"]) == {"p99_s", "ratio_to_floor"} and result["offsets_ms"] == 30


def test_timeline_push_counts_every_box_and_the_bytes(tmp_path: Path) -> None:
    result = run_quick(tmp_path, "timeline_push")
    change, floor = result["change"], result["floor"]
    assert change["missing"] == floor["missing"] == 0 and change["n"] == result["boxes"]
    assert change["messages"] >= result["boxes"]
    assert change["bytes"] == result["bytes"] > result["boxes"] * 4000  # 7 days of items, signed
    assert 0 < change["http_s"] <= result["push_s"] < 120
    assert floor["all_s"] > 0 and result["ratio_to_floor"] > 0


def test_receipts_throughput_stores_exactly_what_it_acks(tmp_path: Path) -> None:
    result = run_quick(tmp_path, "receipts_throughput", "--databases", "sqlite")
    (row,) = result["rows"]
    controller, floor = row["controller"], row["floor"]
    assert controller["acked"] > 0 and controller["receipts_per_s"] > 0 and floor["receipts_per_s"] > 0
    assert controller["rows_stored"] == controller["acked_by_then"] >= controller["acked"]
    assert controller["ack_latency"]["n"] > 0 and controller["connection_drops"] == 0
    assert result["ratio_to_floor"]["sqlite"] == row["ratio_to_floor"] > 0


def test_panel_pages_answer_under_load_and_idle(tmp_path: Path) -> None:
    result = run_quick(tmp_path, "panel_under_load")
    loaded, idle = result["loaded"], result["idle"]
    assert not loaded["errors"] and not idle["errors"]
    assert set(loaded["pages"]) == set(idle["pages"]) and "/devices" in loaded["pages"]
    assert all(page["n"] == result["rounds"] and page["p50_s"] > 0 for page in loaded["pages"].values())
    assert result["reporting"]["online"] == result["boxes"]
    assert result["reporting"]["receipts_acked_per_s"] > 0
    assert 0 < result["p50_s"] <= result["p99_s"]


def test_loa_fleet_hands_its_options_to_the_simulator() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "loa", "fleet", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and "--boxes" in done.stdout and "--database" in done.stdout
