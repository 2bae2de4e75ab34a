"""``loa install-systemd``: the dry run changes nothing; a run into a root folder puts every file in
place with its mode; a second run changes nothing; the operator's edits of config files are kept."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from loa.install import CONTROLLER_CONFIGS, CONTROLLER_UNITS, InstallError, default_source, plan, run

ROOT = Path(__file__).resolve().parents[2]


def install(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "loa", "install-systemd", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ,
    )


def snapshot(folder: Path) -> dict[str, tuple[int, bytes]]:
    return {
        str(path.relative_to(folder)): (path.stat().st_mode, path.read_bytes() if path.is_file() else b"")
        for path in sorted(folder.rglob("*"))
    }


def test_dry_run_prints_the_plan_and_changes_nothing(tmp_path: Path) -> None:
    done = install("--root", str(tmp_path), "--dry-run")

    assert done.returncode == 0, done.stderr
    assert list(tmp_path.iterdir()) == []
    assert f"would      install {tmp_path}/etc/systemd/system/loa-controller.service" in done.stdout
    assert "would      folder /var/lib/loa mode 750" in done.stdout
    assert "would      folder /etc/mosquitto/loa mode 2750" in done.stdout


def test_run_into_a_root_folder_installs_units_configs_and_folders(tmp_path: Path) -> None:
    done = install("--root", str(tmp_path))

    assert done.returncode == 0, done.stderr
    for src, dest, mode in (*CONTROLLER_UNITS, *CONTROLLER_CONFIGS):
        installed = tmp_path / dest
        assert installed.read_bytes() == (ROOT / src).read_bytes(), dest
        assert installed.stat().st_mode & 0o7777 == mode, dest
    assert (tmp_path / "etc/systemd/system/mosquitto.service.d/loa.conf").is_file()
    assert (tmp_path / "etc/mosquitto/conf.d/loa.conf").is_file()
    assert (tmp_path / "var/lib/loa").stat().st_mode & 0o7777 == 0o750
    assert (tmp_path / "etc/mosquitto/loa").stat().st_mode & 0o7777 == 0o2750
    assert (tmp_path / "etc/loa/controller.env").stat().st_mode & 0o777 == 0o640
    assert "daemon-reload" not in done.stdout  # not the live system


def test_second_run_changes_nothing(tmp_path: Path) -> None:
    assert install("--root", str(tmp_path)).returncode == 0
    before = snapshot(tmp_path)

    again = install("--root", str(tmp_path))

    assert again.returncode == 0, again.stderr
    assert snapshot(tmp_path) == before
    assert "done" not in again.stdout and "would" not in again.stdout
    assert again.stdout.count("unchanged") == len(again.stdout.splitlines())


def test_edited_config_is_kept_and_an_old_unit_replaced(tmp_path: Path) -> None:
    assert install("--root", str(tmp_path)).returncode == 0
    env = tmp_path / "etc/loa/controller.env"
    env.write_text("LOA_MQTT_PASSWORD=the-operators-secret\n")
    unit = tmp_path / "etc/systemd/system/loa-controller.service"
    unit.write_text("[Service]\nExecStart=/old\n")

    again = install("--root", str(tmp_path))

    assert again.returncode == 0, again.stderr
    assert env.read_text() == "LOA_MQTT_PASSWORD=the-operators-secret\n"
    assert "kept as you edited it" in again.stdout
    assert unit.read_bytes() == (ROOT / "systemd/loa-controller.service").read_bytes()


def test_agent_role_installs_the_agent_unit_only(tmp_path: Path) -> None:
    lines: list[str] = []
    run(plan(root=tmp_path, source=default_source(), role="agent"), dry_run=False, say=lines.append)

    assert (tmp_path / "etc/systemd/system/loa-agent.service").is_file()
    assert not (tmp_path / "etc/systemd/system/loa-controller.service").exists()
    assert (tmp_path / "var/lib/loa").stat().st_mode & 0o7777 == 0o700


def test_a_source_tree_without_units_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InstallError, match="no systemd/ folder"):
        plan(root=tmp_path / "root", source=tmp_path, role="controller")
    done = install("--root", str(tmp_path / "root"), "--source", str(tmp_path))
    assert done.returncode == 1 and done.stderr.startswith("loa install-systemd: ")


def test_dry_run_on_this_machine_plans_the_user_and_changes_nothing() -> None:
    done = install("--dry-run")  # root /: only looks

    assert done.returncode == 0, done.stderr
    assert "system user loa" in done.stdout
    assert "done " not in done.stdout
