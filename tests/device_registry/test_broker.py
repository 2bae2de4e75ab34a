"""The broker files built from the registry: Mosquitto's hash format, the lines, the refusals."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from device_registry.broker import (
    BoxAccount,
    BrokerAccounts,
    BrokerConfigError,
    ControllerAccount,
    acl_file_text,
    apply_broker_accounts,
    mosquitto_hash,
    password_file_text,
    password_matches,
    reload_broker,
    write_broker_files,
)

HASH = mosquitto_hash("pw", salt=b"0123456789ab")
ACCOUNTS = BrokerAccounts(
    controller=ControllerAccount(username="loa_controller", password_hash=HASH),
    boxes=(
        BoxAccount(device_id="box-b", password_hash=HASH, zones=("w1", "p40", "w1")),
        BoxAccount(device_id="box-a", password_hash=HASH),
        BoxAccount(device_id="box-gone", password_hash=HASH, zones=("w1",), revoked=True),
    ),
)


def test_hash_has_mosquitto_passwd_format_and_checks_the_password() -> None:
    stored = mosquitto_hash("s3cret")
    kind, iterations, salt, digest = stored.split("$")[1:]
    assert (kind, iterations, len(salt), len(digest)) == ("7", "101", 16, 88)
    assert password_matches("s3cret", stored)
    assert not password_matches("s3cret!", stored)
    assert mosquitto_hash("s3cret") != stored  # salted


@pytest.mark.skipif(shutil.which("mosquitto_passwd") is None, reason="mosquitto_passwd not installed")
def test_hash_agrees_with_mosquitto_passwd(tmp_path: Path) -> None:
    passwd = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(passwd), "box-a", "sécret"], check=True)
    stored = passwd.read_text().strip().split(":", 1)[1]
    assert stored.startswith("$7$")
    assert password_matches("sécret", stored)
    assert not password_matches("secret", stored)


@pytest.mark.parametrize(
    "stored", ["", "plain", "$7$101$@@$@@", "$7$0$YWJj$YWJj", "$7$101$YWJ$YWJj", "$5$YWJj$YWJj"]
)
def test_malformed_hash_matches_nothing(stored: str) -> None:
    assert not password_matches("", stored)


def test_password_file_lists_controller_then_active_boxes_sorted() -> None:
    assert password_file_text(ACCOUNTS) == f"loa_controller:{HASH}\nbox-a:{HASH}\nbox-b:{HASH}\n"


def test_acl_gives_boxes_their_own_topics_and_their_zones_only() -> None:
    rules = [line for line in acl_file_text(ACCOUNTS).splitlines() if line and not line.startswith("#")]
    assert rules == [
        "pattern read loa/v1/devices/%u/timeline",
        "pattern read loa/v1/devices/%u/command",
        "pattern read loa/v1/devices/%u/ack",
        "pattern write loa/v1/devices/%u/status",
        "pattern write loa/v1/devices/%u/report",
        "user loa_controller",
        "topic read loa/v1/devices/+/status",
        "topic read loa/v1/devices/+/report",
        "topic write loa/v1/devices/+/timeline",
        "topic write loa/v1/devices/+/command",
        "topic write loa/v1/devices/+/ack",
        "topic write loa/v1/zones/+/command",
        "user box-b",
        "topic read loa/v1/zones/p40/command",
        "topic read loa/v1/zones/w1/command",
    ]


def test_acl_follows_the_topic_root() -> None:
    text = acl_file_text(replace(ACCOUNTS, topic_root="tinh/nghe-an"))
    assert "pattern read tinh/nghe-an/devices/%u/timeline" in text
    assert "loa/v1" not in text


@pytest.mark.parametrize(
    ("accounts", "complaint"),
    [
        (replace(ACCOUNTS, controller=ControllerAccount(username="box-c", password_hash=HASH)), "device id"),
        (
            replace(ACCOUNTS, controller=ControllerAccount(username="a\nuser x", password_hash=HASH)),
            "username",
        ),
        (replace(ACCOUNTS, boxes=(BoxAccount(device_id="Box A", password_hash=HASH),)), "not valid"),
        (
            replace(ACCOUNTS, boxes=(*ACCOUNTS.boxes, BoxAccount(device_id="box-a", password_hash=HASH))),
            "twice",
        ),
        (replace(ACCOUNTS, boxes=(BoxAccount(device_id="box-a", password_hash="pw"),)), "hash"),
        (replace(ACCOUNTS, boxes=(BoxAccount(device_id="box-a", password_hash=HASH + "\nx:y"),)), "hash"),
        (replace(ACCOUNTS, boxes=(BoxAccount(device_id="box-a", password_hash=HASH, zones=("#",)),)), "zone"),
        (
            replace(
                ACCOUNTS, boxes=(BoxAccount(device_id="box-a", password_hash=HASH, zones=("w1\ntopic",)),)
            ),
            "zone",
        ),
        (replace(ACCOUNTS, topic_root="loa/+"), "topic root"),
    ],
)
def test_values_that_could_break_out_of_their_line_are_refused(
    accounts: BrokerAccounts, complaint: str
) -> None:
    with pytest.raises(BrokerConfigError, match=complaint):
        acl_file_text(accounts)
    with pytest.raises(BrokerConfigError):
        password_file_text(accounts)


def test_files_are_written_private_and_whole(tmp_path: Path) -> None:
    passwd, acl = tmp_path / "etc" / "passwd", tmp_path / "etc" / "acl"
    write_broker_files(ACCOUNTS, password_file=passwd, acl_file=acl, owner=(os.getuid(), os.getgid()))

    assert passwd.read_text() == password_file_text(ACCOUNTS)
    assert acl.read_text() == acl_file_text(ACCOUNTS)
    for path in (passwd, acl):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in passwd.parent.iterdir()) == ["acl", "passwd"]  # no temp files left


def test_files_may_be_shared_with_the_broker_group_but_never_with_others(tmp_path: Path) -> None:
    passwd, acl = tmp_path / "passwd", tmp_path / "acl"
    write_broker_files(ACCOUNTS, password_file=passwd, acl_file=acl, owner=(-1, os.getgid()), mode=0o640)
    assert stat.S_IMODE(passwd.stat().st_mode) == 0o640

    with pytest.raises(BrokerConfigError, match="644"):
        write_broker_files(ACCOUNTS, password_file=passwd, acl_file=acl, mode=0o644)


def test_refused_registry_leaves_the_old_files(tmp_path: Path) -> None:
    passwd, acl = tmp_path / "passwd", tmp_path / "acl"
    write_broker_files(ACCOUNTS, password_file=passwd, acl_file=acl)
    broken = replace(ACCOUNTS, boxes=(BoxAccount(device_id="box-a", password_hash="x"),))
    reloads: list[str] = []

    with pytest.raises(BrokerConfigError):
        apply_broker_accounts(
            broken, password_file=passwd, acl_file=acl, reload=lambda: reloads.append("hup")
        )

    assert passwd.read_text() == password_file_text(ACCOUNTS)
    assert reloads == []


def test_reload_signals_the_pid_in_a_pid_file(tmp_path: Path) -> None:
    # SIGHUP as the default would have it: under nohup (a CI runner) the child would inherit "ignore".
    sleeper = subprocess.Popen(
        ["sleep", "30"], preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL)
    )
    try:
        pid_file = tmp_path / "mosquitto.pid"
        pid_file.write_text(f"{sleeper.pid}\n")
        reload_broker(pid_file)
        assert sleeper.wait(timeout=5) == -1  # SIGHUP ends sleep
    finally:
        sleeper.kill()
