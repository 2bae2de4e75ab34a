"""The whole agent through ``run()``: a real Mosquitto, a real HTTP media server, the file sink."""

from __future__ import annotations

import hashlib
import itertools
import signal
import subprocess
import sys
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge_agent import __version__
from edge_agent.clock import SystemClock
from edge_agent.config import AgentConfig, write_config
from edge_agent.identity import load_or_create_device_key
from edge_agent.outbox import Outbox
from loa.mosquitto import Mosquitto
from playlists.signing import public_key_b64
from playlists.wire import Status, decode_json
from tests.edge_agent.conftest import (
    DEVICE_ID,
    MEDIA_TOKEN,
    ROOT,
    TOPICS,
    eventually,
    is_receipt,
    is_status,
    now_ms,
)

pytestmark = pytest.mark.integration


def test_box_plays_a_signed_timeline_at_its_instant_and_reports_until_acked(
    start_agent, probe_factory, media_server, controller, audio
):
    probe = probe_factory([TOPICS.report(DEVICE_ID), TOPICS.status(DEVICE_ID)])
    agent = start_agent()
    probe.wait_for(is_status("online"))
    media = media_server.add(audio(300), duration_ms=300)
    start = now_ms() + 2_000
    timeline = controller.timeline(1, [controller.item("bulletin-1", start, media)], now_ms=now_ms())

    probe.publish(TOPICS.timeline(DEVICE_ID), controller.sign(timeline), retain=True)

    probe.wait_for(is_status("online", timeline_version=1, missing_media=()))
    [line] = eventually(agent.played, what="item played")
    assert line["item_id"] == "bulletin-1"
    assert line["sha256"] == media.sha256
    assert abs(line["first_sample_ms"] - start) <= 50
    pcm = agent.config.file_sink_dir / line["pcm_file"]
    assert hashlib.sha256(pcm.read_bytes()).hexdigest() == line["pcm_sha256"]
    _, started_raw = probe.wait_for(is_receipt(agent, "started", "bulletin-1"))
    _, completed_raw = probe.wait_for(is_receipt(agent, "completed", "bulletin-1"))
    started, completed = agent.receipt(started_raw), agent.receipt(completed_raw)
    assert (started.seq, completed.seq) == (1, 2)
    assert started.started_at_ms == line["first_sample_ms"]
    assert (completed.scheduled_at_ms, completed.timeline_version, completed.media_sha256) == (
        start,
        1,
        media.sha256,
    )
    assert completed.ended_at_ms >= started.started_at_ms + 290
    assert agent.outbox_pending() == 2

    probe.publish(TOPICS.ack(DEVICE_ID), controller.ack(completed.seq), retain=True)

    eventually(lambda: agent.outbox_pending() == 0, what="outbox emptied by the ack")
    assert agent.shutdown() == 0
    probe.wait_for(is_status("offline"))


def test_box_plays_alone_while_the_broker_is_down_and_reports_once_it_is_back(
    start_agent, probe_factory, broker, media_server, controller, audio
):
    probe = probe_factory([TOPICS.status(DEVICE_ID)])
    agent = start_agent()
    media = media_server.add(audio(200, frequency=500), duration_ms=200)
    start = now_ms() + 1_500
    timeline = controller.timeline(1, [controller.item("alone", start, media)], now_ms=now_ms())
    probe.publish(TOPICS.timeline(DEVICE_ID), controller.sign(timeline), retain=True)
    probe.wait_for(is_status("online", timeline_version=1, missing_media=()))
    probe.close()

    broker.kill()
    [line] = eventually(agent.played, what="item played without a broker")
    assert abs(line["first_sample_ms"] - start) <= 50
    eventually(lambda: agent.outbox_pending() == 2, what="receipts kept in the outbox")
    broker.start()
    listener = probe_factory([TOPICS.report(DEVICE_ID)])

    listener.wait_for(is_receipt(agent, "completed", "alone"), timeout_s=25)
    assert agent.shutdown() == 0


def test_agent_reloads_its_stored_timeline_and_does_not_replay_handled_items(
    start_agent, probe_factory, media_server, controller, audio
):
    probe = probe_factory([TOPICS.status(DEVICE_ID)])
    agent = start_agent()
    media = media_server.add(audio(100, frequency=600), duration_ms=100)
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
    start_agent, probe_factory, media_server, controller, audio
):
    probe = probe_factory([TOPICS.report(DEVICE_ID), TOPICS.status(DEVICE_ID)])
    agent = start_agent()
    media = media_server.add(audio(300, frequency=700), served=audio(300, frequency=701))
    timeline = controller.timeline(1, [controller.item("tampered", now_ms() + 1_500, media)], now_ms=now_ms())

    probe.publish(TOPICS.timeline(DEVICE_ID), controller.sign(timeline), retain=True)

    probe.wait_for(is_status("online", timeline_version=1, missing_media=(media.sha256,)))
    _, raw = probe.wait_for(is_receipt(agent, "failed", "tampered"))
    assert agent.receipt(raw).reason in ("media_missing", "hash_mismatch")
    assert agent.played() == []
    assert not (agent.config.data_dir / "media" / media.sha256).exists()
    assert agent.shutdown() == 0


def test_status_carries_the_health_fields(start_agent, probe_factory):
    probe = probe_factory([TOPICS.status(DEVICE_ID)])
    agent = start_agent(volume=70)

    _, raw = probe.wait_for(is_status("online", volume=70, clock_sane=True))

    status = decode_json(Status, raw)
    assert status.uptime_s is not None and status.uptime_s >= 0
    assert status.disk_free_mb is not None and status.disk_free_mb > 0
    assert status.cache_mb == 0 and status.media_quota_mb == 2048
    assert status.outbox_pending == 0 and status.rejected_documents == 0
    assert status.link_quality is None or 0 <= status.link_quality <= 100  # this machine's wifi, if any
    assert agent.shutdown() == 0


def test_unused_key_guard(controller):
    # A sanity check of the fixture: a forged key is not the controller's.
    assert public_key_b64(Ed25519PrivateKey.generate().public_key()) != public_key_b64(
        controller.key.public_key()
    )


def test_a_receipt_is_sent_again_only_once_it_has_waited_the_resend_interval(
    start_agent, probe_factory, media_server, controller, audio
):
    """Unacknowledged receipts go again, but never sooner than ``resend_interval_s`` after their last
    send (a burst of receipts is not doubled by a periodic flush that happens to fall right after
    it), the lowest seq first, and each timeout doubles the wait (edge_agent/sender.py)."""
    probe = probe_factory([TOPICS.report(DEVICE_ID), TOPICS.status(DEVICE_ID)])
    agent = start_agent(resend_interval_s=2)
    probe.wait_for(is_status("online"))
    media = media_server.add(audio(300), duration_ms=300)
    timeline = controller.timeline(1, [controller.item("b-1", now_ms() + 1_500, media)], now_ms=now_ms())
    probe.publish(TOPICS.timeline(DEVICE_ID), controller.sign(timeline), retain=True)
    probe.wait_for(is_receipt(agent, "completed", "b-1"))
    time.sleep(7.5)  # the first wait (2 s), then twice that: seq 1 is sent again once or twice
    probe.drain()
    sends: dict[int, list[int]] = {}
    for topic, payload, _retain, at in probe.seen:
        if topic == TOPICS.report(DEVICE_ID):
            sends.setdefault(agent.receipt(payload).seq, []).append(at)
    assert set(sends) == {1, 2}
    assert 2 <= len(sends[1]) <= 3, sends  # the lowest, which the ack waits for, is sent again
    assert len(sends[2]) == 1, sends  # after a timeout one is in flight: the lowest
    gaps = [b - a for a, b in itertools.pairwise(sends[1])]
    assert gaps[0] >= 1_900, gaps  # never within the interval
    assert all(gap >= 3_900 for gap in gaps[1:]), gaps  # then the wait doubled, to 4 s

    probe.publish(TOPICS.ack(DEVICE_ID), controller.ack(2), retain=True)
    eventually(lambda: agent.outbox_pending() == 0, what="outbox emptied by the ack")
    probe.drain()
    count = len(probe.seen)
    time.sleep(2.5)
    assert [m for m in probe.drain()[count:] if m[0] == TOPICS.report(DEVICE_ID)] == []  # acked: quiet


def test_a_backlog_starts_with_four_and_each_round_of_acks_opens_the_window(
    tmp_path, start_agent, probe_factory, controller
):
    """A box back after days offline does not flood the broker's queue for the controller: four
    receipts go first, each ack lets more go at once (twice as many per round of acks) and at most
    ``receipt_window`` are in flight."""
    data_dir = tmp_path / "box"
    outbox = Outbox(
        data_dir / "outbox.db",
        device_id=DEVICE_ID,
        private_key=load_or_create_device_key(data_dir),
        clock=SystemClock(),
    )
    for n in range(25):
        outbox.append(event="failed", reason=f"offline-{n}")
    outbox.close()
    probe = probe_factory([TOPICS.report(DEVICE_ID)])
    agent = start_agent(receipt_window=10, resend_interval_s=60)

    def sent_after(seconds: float) -> list[int]:
        time.sleep(seconds)
        return [agent.receipt(payload).seq for _topic, payload in probe.drain()]

    probe.wait_for(lambda topic, _payload: topic == TOPICS.report(DEVICE_ID))
    assert sent_after(1.5) == list(range(1, 5))  # four, then it waits for the controller
    probe.publish(TOPICS.ack(DEVICE_ID), controller.ack(4))
    assert sent_after(1.5) == list(range(1, 13))  # four acked: the window doubles to eight
    probe.publish(TOPICS.ack(DEVICE_ID), controller.ack(12))
    assert sent_after(1.5) == list(range(1, 23))  # and again, but never above the window of ten
    probe.publish(TOPICS.ack(DEVICE_ID), controller.ack(22))
    assert sent_after(1.5) == list(range(1, 26))  # the last three
    probe.publish(TOPICS.ack(DEVICE_ID), controller.ack(25))
    eventually(lambda: agent.outbox_pending() == 0, what="outbox emptied by the acks")
    assert sent_after(0.5) == list(range(1, 26))  # each sent once: none waited the resend interval
