"""The broker files can be given to Mosquitto's group (LOA_BROKER_FILES_GROUP), so a broker that runs
as another user than the controller can still read them when it reloads."""

from __future__ import annotations

import grp
import os
from pathlib import Path

from sqlmodel import Session

from controller import registry
from controller.settings import Settings
from tests.controller.conftest import World


def _settings(world: World, tmp_path: Path, group: str | None) -> Settings:
    return world.services.settings.model_copy(
        update={
            "broker_password_file": tmp_path / "passwords",
            "broker_acl_file": tmp_path / "acl",
            "broker_files_group": group,
            "mqtt_username": "loa_controller",
            "mqtt_password": "test-only-controller-password",
        }
    )


def test_files_are_group_readable_by_the_broker_group(world: World, tmp_path: Path) -> None:
    group = grp.getgrgid(os.getgid()).gr_name  # a group this process may give files to
    with Session(world.services.engine) as session:
        assert registry.BrokerSync(_settings(world, tmp_path, group)).apply(session)

    for name in ("passwords", "acl"):
        info = (tmp_path / name).stat()
        assert info.st_mode & 0o777 == 0o640, name
        assert info.st_gid == grp.getgrnam(group).gr_gid, name


def test_without_a_group_only_the_controller_reads_them(world: World, tmp_path: Path) -> None:
    with Session(world.services.engine) as session:
        assert registry.BrokerSync(_settings(world, tmp_path, None)).apply(session)

    assert (tmp_path / "passwords").stat().st_mode & 0o777 == 0o600
