"""Commands, end to end: a real agent, a real broker, the file sink; and documents the box refuses."""

from __future__ import annotations

import json
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from playlists.wire import to_dict
from tests.edge_agent.conftest import DEVICE_ID, TOPICS, eventually, is_receipt, is_status, now_ms

pytestmark = pytest.mark.integration
ZONE = "v-demo-1"


def play_now_args(item, *, repeat=1, after="skip"):
    return {"item": to_dict(item), "repeat": repeat, "after": after}


def test_emergency_play_now_preempts_within_a_second_repeats_then_resumes_the_bulletin(
    start_agent, probe_factory, media_server, controller, audio
):
    probe = probe_factory([TOPICS.report(DEVICE_ID), TOPICS.status(DEVICE_ID)])
    agent = start_agent()
    probe.wait_for(is_status("online"))
    bulletin = media_server.add(audio(3_000, frequency=440), duration_ms=3_000)
    alarm = media_server.add(audio(300, frequency=880), duration_ms=300)
    start = now_ms() + 1_500
    timeline = controller.timeline(1, [controller.item("bulletin", start, bulletin)], now_ms=now_ms())
    probe.publish(TOPICS.timeline(DEVICE_ID), controller.sign(timeline), retain=True)
    probe.wait_for(is_receipt(agent, "started", "bulletin"), timeout_s=10)
    time.sleep(0.8)
    emergency = controller.item("alarm", 0, alarm, priority="emergency")
    command = controller.command(
        now_ms=now_ms(), name="play_now", args=play_now_args(emergency, repeat=2, after="resume")
    )

    published = probe.publish(TOPICS.command(DEVICE_ID), controller.sign(command))

    _, raw = probe.wait_for(is_receipt(agent, "interrupted", "bulletin"))
    interrupted = agent.receipt(raw)
    assert interrupted.reason == f"play_now:{command.id}"
    assert interrupted.ended_at_ms - published < 1_000
    assert 0.7 < interrupted.seconds_aired < 1.5
    _, raw = probe.wait_for(is_receipt(agent, "started", "alarm"))
    assert agent.receipt(raw).started_at_ms - published < 1_000
    _, raw = probe.wait_for(is_receipt(agent, "command_done", command_id=command.id), timeout_s=10)
    _, raw = probe.wait_for(is_receipt(agent, "completed", "bulletin"), timeout_s=10)
    receipts = [r for r in agent.receipts(probe) if r.item_id in ("bulletin", "alarm")]
    assert [(r.item_id, r.event, r.reason) for r in receipts] == [
        ("bulletin", "started", None),
        ("bulletin", "interrupted", f"play_now:{command.id}"),
        ("alarm", "started", "repeat:1/2"),
        ("alarm", "completed", None),
        ("alarm", "started", "repeat:2/2"),
        ("alarm", "completed", None),
        ("alarm", "command_done", None),
        ("bulletin", "started", "resumed"),
        ("bulletin", "completed", None),
    ]
    played = agent.played()
    assert [line["item_id"] for line in played] == ["bulletin", "alarm", "alarm", "bulletin"]
    resumed = played[-1]
    assert abs(resumed["offset_ms"] - interrupted.seconds_aired * 1000) <= 1
    assert resumed["aired_ms"] + resumed["offset_ms"] == pytest.approx(3_000, abs=100)
    assert agent.shutdown() == 0


def test_stop_silences_the_box_and_cancels_a_running_play_now(
    start_agent, probe_factory, media_server, controller, audio
):
    probe = probe_factory([TOPICS.report(DEVICE_ID), TOPICS.status(DEVICE_ID)])
    agent = start_agent()
    probe.wait_for(is_status("online"))
    tone = media_server.add(audio(1_000, frequency=300), duration_ms=1_000)
    play = controller.command(
        now_ms=now_ms(), name="play_now", args=play_now_args(controller.item("loop", 0, tone), repeat=5)
    )
    probe.publish(TOPICS.command(DEVICE_ID), controller.sign(play))
    probe.wait_for(is_receipt(agent, "started", "loop"))
    stop = controller.command(now_ms=now_ms(), name="stop")

    probe.publish(TOPICS.command(DEVICE_ID), controller.sign(stop))

    probe.wait_for(is_receipt(agent, "command_done", command_id=stop.id))
    receipts = agent.receipts(probe)
    events = [(r.event, r.item_id, r.command_id, r.reason) for r in receipts]
    assert ("interrupted", "loop", play.id, f"stopped:{stop.id}") in events
    assert ("failed", "loop", play.id, f"stopped:{stop.id}") in events
    count = len(agent.played())
    probe.wait_for(is_status("online", playing_item_id=None))
    assert len(agent.played()) == count and count < 5
    assert agent.played()[-1]["interrupted"] is True
    assert agent.shutdown() == 0


def test_zone_commands_reach_a_box_of_the_zone_and_set_volume_persists(
    start_agent, probe_factory, media_server, controller, audio
):
    probe = probe_factory([TOPICS.report(DEVICE_ID), TOPICS.status(DEVICE_ID)])
    agent = start_agent(zones=(ZONE, "w17329"))
    probe.wait_for(is_status("online"))
    volume = controller.command(
        now_ms=now_ms(), name="set_volume", args={"volume": 40}, target=f"zone:{ZONE}"
    )
    tone = controller.command(
        now_ms=now_ms(), name="test_tone", args={"seconds": 1, "frequency_hz": 1000}, target="zone:w17329"
    )

    probe.publish(TOPICS.zone_command(ZONE), controller.sign(volume))
    probe.publish(TOPICS.zone_command("w17329"), controller.sign(tone))

    probe.wait_for(is_receipt(agent, "command_done", command_id=volume.id))
    probe.wait_for(is_status("online", volume=40))
    _, raw = probe.wait_for(is_receipt(agent, "command_done", command_id=tone.id), timeout_s=10)
    done = agent.receipt(raw)
    assert 900 <= done.ended_at_ms - done.started_at_ms <= 1_500
    [line] = agent.played()
    assert (line["kind"], line["volume"], line["aired_ms"]) == ("tone", 40, 1_000)
    assert json.loads((agent.config.data_dir / "volume.json").read_text()) == {"volume": 40}
    assert agent.shutdown() == 0

    restarted = start_agent(zones=(ZONE,))
    probe.wait_for(lambda t, p: is_status("online", volume=40)(t, p) and b'"uptime_s":0' in p)
    assert restarted.shutdown() == 0


def test_resync_republishes_the_status_and_answers(start_agent, probe_factory, controller):
    probe = probe_factory([TOPICS.report(DEVICE_ID), TOPICS.status(DEVICE_ID)])
    agent = start_agent()
    probe.wait_for(is_status("online"))
    command = controller.command(now_ms=now_ms(), name="resync")

    probe.publish(TOPICS.command(DEVICE_ID), controller.sign(command))

    probe.wait_for(is_receipt(agent, "command_done", command_id=command.id))
    assert len([t for t, _ in probe.drain() if t == TOPICS.status(DEVICE_ID)]) >= 2
    assert agent.shutdown() == 0


def test_forged_expired_rolled_back_and_replayed_documents_play_nothing_and_are_reported(
    start_agent, probe_factory, media_server, controller, audio
):
    probe = probe_factory([TOPICS.report(DEVICE_ID), TOPICS.status(DEVICE_ID)])
    agent = start_agent(zones=(ZONE,))
    probe.wait_for(is_status("online"))
    media = media_server.add(audio(200, frequency=990), duration_ms=200)
    rogue = Ed25519PrivateKey.generate()
    soon = now_ms() + 1_500

    def timeline(version, item_id, **kwargs):
        return controller.timeline(
            version, [controller.item(item_id, soon, media)], now_ms=now_ms(), **kwargs
        )

    def play_now(item_id, **kwargs):
        args = play_now_args(controller.item(item_id, 0, media, priority="emergency"))
        return controller.command(now_ms=now_ms(), name="play_now", args=args, **kwargs)

    genuine_v2 = controller.sign(timeline(2, "genuine"))
    probe.publish(TOPICS.timeline(DEVICE_ID), genuine_v2, retain=True)
    probe.wait_for(is_status("online", timeline_version=2))
    accepted = controller.sign(play_now("accepted"))
    probe.publish(TOPICS.command(DEVICE_ID), accepted)
    probe.wait_for(is_receipt(agent, "command_done"))
    refused = {
        "forged timeline": (TOPICS.timeline(DEVICE_ID), controller.sign(timeline(9, "forged"), key=rogue)),
        "expired timeline": (
            TOPICS.timeline(DEVICE_ID),
            controller.sign(timeline(8, "stale", valid_for_ms=-1)),
        ),
        "rolled-back timeline": (TOPICS.timeline(DEVICE_ID), controller.sign(timeline(1, "old"))),
        "forged command": (TOPICS.command(DEVICE_ID), controller.sign(play_now("forged-cmd"), key=rogue)),
        "expired command": (
            TOPICS.command(DEVICE_ID),
            controller.sign(play_now("stale-cmd", expires_in_ms=-1)),
        ),
        "replayed command": (TOPICS.command(DEVICE_ID), accepted),
        "other zone": (
            TOPICS.zone_command(ZONE),
            controller.sign(play_now("elsewhere", target="zone:v-other")),
        ),
    }

    for topic, payload in refused.values():
        probe.publish(topic, payload)
    probe.publish(TOPICS.timeline(DEVICE_ID), genuine_v2, retain=True)  # the broker's retained copy back

    probe.wait_for(is_status("online", rejected_documents=len(refused)), timeout_s=10)
    eventually(
        lambda: [line["item_id"] for line in agent.played()] == ["accepted", "genuine"], what="genuine"
    )
    reasons = sorted(r.reason for r in agent.receipts(probe) if r.reason and r.reason.startswith("security:"))
    assert reasons == sorted(
        [
            "security:unknown_key",
            "security:expired",
            "security:rollback",
            "security:unknown_key",
            "security:expired",
            "security:replay",
            "security:wrong_device",
        ]
    )
    security = [r for r in agent.receipts(probe) if r.reason and r.reason.startswith("security:")]
    assert all(r.event == "failed" and r.item_id is None for r in security)
    assert agent.shutdown() == 0
