"""Logs as JSON lines (LOA_LOG_FORMAT=json): one object per line, with the structured context."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from loa.logs import JsonFormatter


def test_json_line_keeps_message_level_logger_and_extra_context() -> None:
    record = logging.LogRecord(
        "controller.receipts", logging.WARNING, __file__, 1, "refused %s", ("x",), None
    )
    record.device = "box-a1"
    record.seq = 7

    entry = json.loads(JsonFormatter().format(record))

    assert entry["message"] == "refused x" and entry["level"] == "WARNING"
    assert entry["logger"] == "controller.receipts"
    assert entry["device"] == "box-a1" and entry["seq"] == 7
    assert entry["ts"].endswith("+00:00")


def test_exception_goes_into_one_field_of_the_same_line() -> None:
    try:
        raise RuntimeError("broken")
    except RuntimeError:
        record = logging.LogRecord("loa", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())

    line = JsonFormatter().format(record)

    assert "\n" not in line
    assert "RuntimeError: broken" in json.loads(line)["exc"]


def test_cli_logs_json_when_asked_by_the_setting(tmp_path: Path) -> None:
    env = {**os.environ, "LOA_DATA_DIR": str(tmp_path), "LOA_LOG_FORMAT": "json"}
    done = subprocess.run(
        [sys.executable, "-m", "loa", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )

    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    assert lines and all({"ts", "level", "logger", "message"} <= entry.keys() for entry in lines)
    assert any(entry["logger"].startswith("alembic") for entry in lines)
