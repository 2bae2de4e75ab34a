"""A schedule change reaches the boxes' retained timelines on a real Mosquitto."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from loa.mosquitto import Mosquitto
from playlists.signing import public_key_from_b64, verify
from playlists.wire import Timeline
from tests.controller.conftest import World, approved_bulletin, make_world

pytestmark = pytest.mark.integration


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    with Mosquitto(tmp_path / "broker") as running:
        yield running


@pytest.fixture
def live(tmp_path: Path, broker: Mosquitto) -> Iterator[World]:
    yield from make_world(tmp_path, mqtt_port=broker.port)


def retained_timeline(world: World, port: int, device_id: str, *, min_version: int) -> Timeline:
    """Connect a fresh client, as a box would after a restart, and read the retained timeline."""
    key = {world.services.signer.kid: public_key_from_b64(world.services.signer.public_key_b64)}
    deadline = time.monotonic() + 10
    while True:
        payload = _read_retained(port, f"loa/v1/devices/{device_id}/timeline")
        if payload:
            timeline, _kid = verify(payload, Timeline, key)
            if timeline.version >= min_version:
                return timeline
        if time.monotonic() > deadline:
            raise AssertionError(f"no retained timeline v{min_version}+ for {device_id}")
        time.sleep(0.2)


def _read_retained(port: int, topic: str) -> bytes | None:
    got: list[bytes] = []
    done = threading.Event()
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.on_message = lambda _c, _u, m: (got.append(m.payload), done.set())
    client.connect("127.0.0.1", port)
    client.subscribe(topic, qos=1)
    client.loop_start()
    done.wait(2)
    client.loop_stop()
    client.disconnect()
    return got[-1] if got else None


def test_schedule_and_cancel_update_the_retained_timeline(live: World, broker: Mosquitto) -> None:
    assert _wait(lambda: live.services.gateway is not None and live.services.gateway.connected)
    bulletin = approved_bulletin(live)
    editor = live.token("editor_a")
    saved = live.client.post(
        "/api/v1/schedules",
        headers=editor,
        json={"bulletin_id": bulletin["id"], "target_zone_id": live.village_a1, "in_seconds": 600},
    )
    assert saved.status_code == 201, saved.text
    first = retained_timeline(live, broker.port, "box-a1", min_version=1)
    assert [i.schedule_id for i in first.items] == [saved.json()["id"]]

    live.client.post(f"/api/v1/schedules/{saved.json()['id']}/cancel", headers=editor)
    second = retained_timeline(live, broker.port, "box-a1", min_version=first.version + 1)
    assert second.items == ()


def _wait(check: object, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(check) and check():
            return True
        time.sleep(0.05)
    return False
