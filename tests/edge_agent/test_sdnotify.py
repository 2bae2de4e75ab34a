"""sd_notify over a real unix datagram socket: READY, WATCHDOG from the main loop, STOPPING."""

from __future__ import annotations

import os
import signal
import socket

import pytest

from edge_agent.sdnotify import Notifier
from tests.edge_agent.conftest import DEVICE_ID, TOPICS, is_status


@pytest.fixture
def notify_socket(tmp_path):
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(10)
    yield path, sock
    sock.close()


def test_notifier_sends_datagrams_to_the_notify_socket(notify_socket):
    path, sock = notify_socket
    notifier = Notifier.from_env({"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "30000000"})

    assert notifier.ready("up") and notifier.watchdog() and notifier.stopping()

    assert [sock.recv(256) for _ in range(3)] == [b"READY=1\nSTATUS=up", b"WATCHDOG=1", b"STOPPING=1"]
    assert notifier.watchdog_interval_s == 15.0


def test_without_systemd_the_notifier_does_nothing():
    notifier = Notifier.from_env({})

    assert not notifier.enabled and not notifier.ready() and notifier.watchdog_interval_s is None


def test_watchdog_meant_for_another_process_is_ignored():
    notifier = Notifier.from_env({"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"})

    assert notifier.watchdog_interval_s is None


@pytest.mark.integration
def test_agent_process_is_ready_feeds_the_watchdog_and_says_it_stops(
    notify_socket, spawn_agent, probe_factory
):
    path, sock = notify_socket
    probe = probe_factory([TOPICS.status(DEVICE_ID)])

    box = spawn_agent(env={"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "400000"})
    messages = [sock.recv(256) for _ in range(4)]
    probe.wait_for(is_status("online"))
    assert box.process is not None
    box.process.send_signal(signal.SIGTERM)
    message = sock.recv(256)
    while message == b"WATCHDOG=1":  # keep-alives may still be queued before the goodbye
        message = sock.recv(256)

    assert messages[0].startswith(b"READY=1")
    assert messages[1:] == [b"WATCHDOG=1"] * 3
    assert message == b"STOPPING=1"
    assert box.process.wait(15) == 0
    assert os.path.exists(path)
