"""``loa fleet faults`` runs bench/faults.py: the sizes it offers, and the one tests/faults/ runs at."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import faults
import pytest


def test_the_command_offers_the_ci_the_issue_and_the_large_sizes() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "loa", "fleet", "faults", "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "{ci,issue,large}" in done.stdout and "--only" in done.stdout
    issue = faults.SIZES["issue"]["soak"]
    assert (issue.boxes, issue.window_s, issue.broker_kills, issue.agent_kills) == (200, 600, 5, 20)
    assert issue.controller_restarts == 2 and faults.SIZES["large"]["soak"].boxes == 1000
    assert faults.SIZES["large"]["soak"].window_s == 3600


def test_faults_size_chooses_the_size_and_refuses_unknown_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAULTS_SIZE", "issue")
    assert faults.env_size() == "issue"
    monkeypatch.delenv("FAULTS_SIZE")
    assert faults.env_size() == "ci"
    monkeypatch.setenv("FAULTS_SIZE", "huge")
    with pytest.raises(SystemExit, match="ci, issue, large"):
        faults.env_size()


def test_the_results_are_written_after_each_scenario(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A long run stopped in its second scenario keeps the first one's verdict on disk."""
    out = tmp_path / "faults.json"

    def run(name: str, size: object, work: object, log: object) -> dict[str, object]:
        if name == "offline":
            raise KeyboardInterrupt
        return {"size": {"boxes": 3}, "passed": True, "problems": [], "seconds": 1.0}

    monkeypatch.setattr(faults, "run", run)
    monkeypatch.setattr(faults, "exit_on_sigterm", lambda: None)
    with pytest.raises(KeyboardInterrupt):
        faults.main(["--only", "soak,offline,hijack", "--out", str(out)])
    written = json.loads(out.read_text())
    assert list(written["scenarios"]) == ["soak"]
    assert written["passed"] is True and written["complete"] is False
