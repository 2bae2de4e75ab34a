"""The agent's entry points: a bad config is one clear line and exit code 2, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from edge_agent.main import EXIT_CONFIG, main

ROOT = Path(__file__).resolve().parents[2]


def test_missing_config_file_exits_with_code_2_and_names_the_file(tmp_path, caplog):
    assert main(["--config", str(tmp_path / "absent.toml")]) == EXIT_CONFIG
    assert "absent.toml: cannot read config file" in caplog.text


def test_config_option_is_required(capsys):
    with pytest.raises(SystemExit) as caught:
        main([])

    assert caught.value.code == 2
    assert "--config" in capsys.readouterr().err


def test_python_dash_m_edge_agent_reports_a_bad_config_in_one_line(tmp_path):
    config = tmp_path / "agent.toml"
    config.write_text('device_id = "box-1"\n')

    result = subprocess.run(
        [sys.executable, "-m", "edge_agent", "--config", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert result.returncode == EXIT_CONFIG
    assert "missing key 'controller_url'" in result.stderr
    assert "Traceback" not in result.stderr
