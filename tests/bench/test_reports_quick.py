"""bench/reports.py at a smoke size: the sample goes through the real fold, the bulk SQL agrees with it
grain by grain, every report runs, and the JSON has what bench/README.md promises."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def test_the_reports_benchmark_builds_a_consistent_province_and_times_every_report(tmp_path: Path) -> None:
    out = tmp_path / "reports.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOA_")}
    size = ["--boxes", "60", "--communes", "3", "--days", "9", "--repeat", "1", "--databases", "sqlite"]
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "reports.py"), *size, "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    result = json.loads(out.read_text())
    sqlite = result["sqlite"]
    assert result["receipts"] == sqlite["rows"]["receipt"] > 60 * 9 * 9
    assert sqlite["sample_consistent"] is True
    assert set(sqlite["reports"]) >= {
        "airtime_by_commune",
        "reconciliation_first_page",
        "uptime_by_box",
        "targets",
    }
    assert all(r["rows"] > 0 for r in sqlite["reports"].values())
    assert 0 < sqlite["slowest_report_s"] < 30
