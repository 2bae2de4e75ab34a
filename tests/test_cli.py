"""The `loa` command: errors are one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _loa(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "loa", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=cwd,
        timeout=60,
    )


def test_unknown_setting_is_refused_in_one_line(tmp_path: Path) -> None:
    result = _loa("migrate", env={"LOA_DATA_DIR": str(tmp_path), "LOA_DATABSE_URL": "typo"}, cwd=tmp_path)
    assert result.returncode == 1
    assert "LOA_DATABSE_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_production_refuses_demo_grade_settings(tmp_path: Path) -> None:
    result = _loa("serve", env={"LOA_DATA_DIR": str(tmp_path), "LOA_ENVIRONMENT": "production"}, cwd=tmp_path)
    assert result.returncode == 1
    assert "LOA_MQTT_USERNAME" in result.stderr and "Traceback" not in result.stderr


def test_migrate_creates_the_schema(tmp_path: Path) -> None:
    result = _loa("migrate", env={"LOA_DATA_DIR": str(tmp_path)}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "loa.db").exists()


def test_agent_with_a_broken_config_exits_non_zero_with_a_clear_message(tmp_path: Path) -> None:
    config = tmp_path / "agent.toml"
    config.write_text('device_id = "box-1"\n')
    result = _loa("agent", "--config", str(config), env={}, cwd=tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "controller_url" in result.stderr or "missing" in result.stderr


def test_normalize_speaks_stdin_and_lists_unknown_abbreviations(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "loa", "normalize", "--accent", "south"],
        input="UBND và XYZ họp ngày 5/6.",
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "Ủy ban nhân dân" in result.stdout and not any(ch.isdigit() for ch in result.stdout)
    assert "XYZ" in result.stderr


def test_render_writes_a_file_and_one_json_line(tmp_path: Path) -> None:
    import json

    (tmp_path / "in.txt").write_text("Kính thưa bà con.")
    result = _loa(
        "render", str(tmp_path / "in.txt"), "--out", str(tmp_path / "out.ogg"), env={}, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    line = json.loads(result.stdout.strip().splitlines()[-1])
    assert (
        line["codec"] == "opus"
        and line["duration_ms"] > 500
        and (tmp_path / "out.ogg").stat().st_size == line["bytes"]
    )


def test_audit_checkpoint_then_verify_and_a_forged_checkpoint_fails_in_one_line(tmp_path: Path) -> None:
    import sqlite3

    env = {"LOA_DATA_DIR": str(tmp_path)}
    assert _loa("migrate", env=env, cwd=tmp_path).returncode == 0
    made = _loa("--log-level", "WARNING", "audit", "checkpoint", env=env, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "checkpoints").is_dir() and "audit seq 0" in made.stdout
    ok = _loa("--log-level", "WARNING", "audit", "verify", env=env, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("audit log intact: 0 events") and "2 checkpoints match" in ok.stdout
    with sqlite3.connect(tmp_path / "loa.db") as db:
        db.execute("UPDATE auditcheckpoint SET envelope = replace(envelope, '\"seq\":0', '\"seq\":1')")
    bad = _loa("--log-level", "WARNING", "audit", "verify", env=env, cwd=tmp_path)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert bad.stderr.startswith("loa audit verify: checkpoint ") and bad.stderr.count("\n") == 1
