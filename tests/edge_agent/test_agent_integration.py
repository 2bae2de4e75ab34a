"""The whole agent through ``run()``: a real Mosquitto, a real HTTP media server, the file sink."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge_agent import __version__
from edge_agent.config import AgentConfig, write_config
from edge_agent.identity import load_or_create_device_key
from edge_agent.main import run
from loa.mosquitto import Mosquitto
from playlists.signing import public_key_b64, verify
from playlists.wire import Receipt, Status, Topics

pytestmark = pytest.mark.integration

DEVICE_ID = "box-1"
MEDIA_TOKEN = "media-token-for-tests"
TOPICS = Topics()
T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def eventually(probe: Callable[[], T | None], timeout_s: float = 10.0, what: str = "condition") -> T:
    """Poll ``probe`` until it returns something truthy, or fail at the deadline."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what} not met within {timeout_s}s")


@dataclass
class RunningAgent:
    config: AgentConfig
    stop: threading.Event
    thread: threading.Thread
    exit_codes: list[int] = field(default_factory=list)

    def played(self) -> list[dict[str, Any]]:
        log = self.config.file_sink_dir / "played.jsonl"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    def outbox_pending(self) -> int:
        db = sqlite3.connect(self.config.data_dir / "outbox.db")
        try:
            (count,) = db.execute("SELECT COUNT(*) FROM receipts").fetchone()
        finally:
            db.close()
        return int(count)

    def receipt(self, raw: bytes) -> Receipt:
        key = load_or_create_device_key(self.config.data_dir).public_key()
        return verify(raw, Receipt, {DEVICE_ID: key})[0]

    def shutdown(self) -> int:
        self.stop.set()
        self.thread.join(15)
        assert not self.thread.is_alive(), "agent did not stop"
        return self.exit_codes[0]


@pytest.fixture
def start_agent(tmp_path, broker, media_server, controller) -> Iterator[Callable[..., RunningAgent]]:
    agents: list[RunningAgent] = []

    def start(*, port: int | None = None) -> RunningAgent:
        config = AgentConfig(
            device_id=DEVICE_ID,
            controller_url=media_server.url,
            media_token=MEDIA_TOKEN,
            controller_public_key=public_key_b64(controller.key.public_key()),
            mqtt_port=port or broker.port,
            data_dir=tmp_path / "box",
            sink="file",
        )
        path = tmp_path / "agent.toml"
        write_config(path, config)
        agent = RunningAgent(config=config, stop=threading.Event(), thread=threading.Thread())
        agent.thread = threading.Thread(
            target=lambda: agent.exit_codes.append(run(path, stop_event=agent.stop)), name="agent-under-test"
        )
        agent.thread.start()
        agents.append(agent)
        return agent

    yield start
    for agent in agents:
        agent.stop.set()
        agent.thread.join(15)


def is_status(state: str, **fields: Any) -> Callable[[str, bytes], bool]:
    def match(topic: str, payload: bytes) -> bool:
        if topic != TOPICS.status(DEVICE_ID) or not payload:
            return False
        status = Status.model_validate_json(payload)
        return status.state == state and all(getattr(status, k) == v for k, v in fields.items())

    return match


def is_receipt(agent: RunningAgent, event: str, item_id: str) -> Callable[[str, bytes], bool]:
    def match(topic: str, payload: bytes) -> bool:
        if topic != TOPICS.report(DEVICE_ID):
            return False
        receipt = agent.receipt(payload)  # raises if the signature does not verify
        return receipt.event == event and receipt.item_id == item_id

    return match


def test_box_plays_a_signed_timeline_at_its_instant_and_reports_until_acked(
    start_agent, probe_factory, media_server, controller
):
    probe = probe_factory([TOPICS.report(DEVICE_ID), TOPICS.status(DEVICE_ID)])
    agent = start_agent()
    probe.wait_for(is_status("online"))
    data = os.urandom(20_000)
    media = media_server.add(data, duration_ms=300)
    start = now_ms() + 2_000
    timeline = controller.timeline(1, [controller.item("bulletin-1", start, media)], now_ms=now_ms())

    probe.publish(TOPICS.timeline(DEVICE_ID), controller.sign(timeline), retain=True)

    probe.wait_for(is_status("online", timeline_version=1, missing_media=()))
    [line] = eventually(agent.played, what="item played")
    assert line["item_id"] == "bulletin-1"
    assert line["sha256"] == media.sha256
    assert abs(line["started_at_ms"] - start) <= 500
    _, started_raw = probe.wait_for(is_receipt(agent, "started", "bulletin-1"))
    _, completed_raw = probe.wait_for(is_receipt(agent, "completed", "bulletin-1"))
    started, completed = agent.receipt(started_raw), agent.receipt(completed_raw)
    assert (started.seq, completed.seq) == (1, 2)
    assert abs(started.started_at_ms - start) <= 500
    assert (completed.scheduled_at_ms, completed.timeline_version, completed.media_sha256) == (
        start,
        1,
        media.sha256,
    )
    assert completed.ended_at_ms >= started.started_at_ms + 300
    assert agent.outbox_pending() == 2

    probe.publish(TOPICS.ack(DEVICE_ID), controller.ack(completed.seq), retain=True)

    eventually(lambda: agent.outbox_pending() == 0, what="outbox emptied by the ack")
    assert agent.shutdown() == 0
    probe.wait_for(is_status("offline"))


def test_timeline_with_a_bad_signature_on_the_broker_plays_nothing(
    start_agent, probe_factory, media_server, controller
):
    probe = probe_factory([TOPICS.report(DEVICE_ID), TOPICS.status(DEVICE_ID)])
    agent = start_agent()
    probe.wait_for(is_status("online"))
    media = media_server.add(os.urandom(5_000), duration_ms=200)
    forged = controller.timeline(99, [controller.item("forged", now_ms() + 1_000, media)], now_ms=now_ms())
    genuine = controller.timeline(1, [controller.item("genuine", now_ms() + 1_800, media)], now_ms=now_ms())

    probe.publish(
        TOPICS.timeline(DEVICE_ID), controller.sign(forged, key=Ed25519PrivateKey.generate()), retain=True
    )
    probe.publish(TOPICS.timeline(DEVICE_ID), controller.sign(genuine), retain=True)

    # The genuine timeline, one item later, shows the agent was listening and playing all along.
    eventually(agent.played, what="genuine item played")
    probe.wait_for(is_receipt(agent, "completed", "genuine"))
    assert [line["item_id"] for line in agent.played()] == ["genuine"]
    probe.wait_for(is_status("online", timeline_version=1, rejected_documents=1))
    items = {
        agent.receipt(payload).item_id
        for topic, payload in probe.drain()
        if topic == TOPICS.report(DEVICE_ID)
    }
    assert items == {"genuine"}
    assert agent.shutdown() == 0


def test_box_plays_alone_while_the_broker_is_down_and_reports_once_it_is_back(
    start_agent, probe_factory, broker, media_server, controller
):
    probe = probe_factory([TOPICS.status(DEVICE_ID)])
    agent = start_agent()
    media = media_server.add(os.urandom(5_000), duration_ms=200)
    start = now_ms() + 1_500
    timeline = controller.timeline(1, [controller.item("alone", start, media)], now_ms=now_ms())
    probe.publish(TOPICS.timeline(DEVICE_ID), controller.sign(timeline), retain=True)
    probe.wait_for(is_status("online", timeline_version=1, missing_media=()))
    probe.close()

    broker.kill()
    [line] = eventually(agent.played, what="item played without a broker")
    assert abs(line["started_at_ms"] - start) <= 500
    eventually(lambda: agent.outbox_pending() == 2, what="receipts kept in the outbox")
    broker.start()
    listener = probe_factory([TOPICS.report(DEVICE_ID)])

    listener.wait_for(is_receipt(agent, "completed", "alone"), timeout_s=25)
    assert agent.shutdown() == 0


def test_agent_reloads_its_stored_timeline_and_does_not_replay_handled_items(
    start_agent, probe_factory, media_server, controller
):
    probe = probe_factory([TOPICS.status(DEVICE_ID)])
    agent = start_agent()
    media = media_server.add(os.urandom(5_000), duration_ms=100)
    first, second = now_ms() + 1_000, now_ms() + 2_500
    items = [controller.item("first", first, media), controller.item("second", second, media)]
    probe.publish(
        TOPICS.timeline(DEVICE_ID),
        controller.sign(controller.timeline(1, items, now_ms=now_ms())),
        retain=True,
    )
    eventually(agent.played, what="first item played")
    assert agent.shutdown() == 0
    # Without the retained copy, the box must rely on its own stored timeline.
    probe.publish(TOPICS.timeline(DEVICE_ID), b"", retain=True)

    restarted = start_agent()

    eventually(lambda: len(restarted.played()) == 2, what="second item played after the restart")
    assert [line["item_id"] for line in restarted.played()] == ["first", "second"]
    assert restarted.shutdown() == 0


def test_agent_starts_while_the_broker_is_down_and_connects_when_it_comes_up(
    tmp_path, start_agent, probe_factory, caplog
):
    late_broker = Mosquitto(tmp_path / "late-broker")
    agent = start_agent(port=late_broker.port)
    try:
        eventually(lambda: "cannot reach broker" in caplog.text, what="a failed first connection")
        late_broker.start()
        probe = probe_factory([TOPICS.status(DEVICE_ID)], port=late_broker.port)

        probe.wait_for(is_status("online", agent_version=__version__), timeout_s=15)
        assert agent.shutdown() == 0
        probe.close()
    finally:
        late_broker.stop()


def test_sigterm_stops_the_agent_process_cleanly_and_leaves_an_offline_status(
    tmp_path, broker, media_server, controller, probe_factory
):
    config = tmp_path / "agent.toml"
    write_config(
        config,
        AgentConfig(
            device_id=DEVICE_ID,
            controller_url=media_server.url,
            media_token=MEDIA_TOKEN,
            controller_public_key=public_key_b64(controller.key.public_key()),
            mqtt_port=broker.port,
            data_dir=tmp_path / "box",
        ),
    )
    probe = probe_factory([TOPICS.status(DEVICE_ID)])
    process = subprocess.Popen(
        [sys.executable, "-m", "edge_agent", "--config", str(config)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        probe.wait_for(is_status("online"), timeout_s=15)
        process.send_signal(signal.SIGTERM)
        _, errors = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert process.returncode == 0, errors.decode()
    assert b"Traceback" not in errors
    probe.wait_for(is_status("offline"))


def test_media_served_with_other_bytes_is_reported_missing_and_never_played(
    start_agent, probe_factory, media_server, controller
):
    probe = probe_factory([TOPICS.report(DEVICE_ID), TOPICS.status(DEVICE_ID)])
    agent = start_agent()
    media = media_server.add(os.urandom(5_000), served=os.urandom(5_000))
    timeline = controller.timeline(1, [controller.item("tampered", now_ms() + 1_500, media)], now_ms=now_ms())

    probe.publish(TOPICS.timeline(DEVICE_ID), controller.sign(timeline), retain=True)

    probe.wait_for(is_status("online", timeline_version=1, missing_media=(media.sha256,)))
    _, raw = probe.wait_for(is_receipt(agent, "failed", "tampered"))
    assert agent.receipt(raw).reason in ("media_missing", "hash_mismatch")
    assert agent.played() == []
    assert not (agent.config.data_dir / "media" / media.sha256).exists()
    assert agent.shutdown() == 0
