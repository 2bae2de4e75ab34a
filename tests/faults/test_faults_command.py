"""``loa fleet faults`` runs bench/faults.py: the sizes it offers, and the one tests/faults/ runs at."""

from __future__ import annotations

import subprocess
import sys

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
