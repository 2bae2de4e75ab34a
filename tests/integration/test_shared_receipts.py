"""Several controller replicas: each receipt reaches exactly one of them (MQTT 5 shared subscription)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from controller.gateway import MqttGateway
from loa.mosquitto import Mosquitto
from playlists.wire import Topics

TOPICS = Topics()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    with Mosquitto(tmp_path / "broker") as running:
        yield running


def test_each_receipt_reaches_one_replica_and_every_status_reaches_all(broker: Mosquitto) -> None:
    reports: dict[str, list[bytes]] = {"a": [], "b": []}
    statuses: dict[str, list[bytes]] = {"a": [], "b": []}
    lock = threading.Lock()

    def gateway(name: str) -> MqttGateway:
        def on_report(_device: str, raw: bytes) -> None:
            with lock:
                reports[name].append(raw)

        def on_status(_device: str, raw: bytes) -> None:
            with lock:
                statuses[name].append(raw)

        return MqttGateway(
            host="127.0.0.1",
            port=broker.port,
            client_id=f"controller-{name}",
            topics=TOPICS,
            on_report=on_report,
            on_status=on_status,
        )

    replicas = [gateway("a"), gateway("b")]
    for replica in replicas:
        replica.start()
    box = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="box-1", protocol=mqtt.MQTTv5)
    try:
        deadline = time.monotonic() + 10
        while not all(r.connected for r in replicas) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # subscriptions settle
        box.connect("127.0.0.1", broker.port)
        box.loop_start()
        for n in range(40):
            box.publish(TOPICS.report("box-1"), f"r{n}".encode(), qos=1).wait_for_publish(5)
        box.publish(TOPICS.status("box-1"), b"s", qos=1).wait_for_publish(5)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with lock:
                if len(reports["a"]) + len(reports["b"]) >= 40 and all(statuses.values()):
                    break
            time.sleep(0.05)
        got = sorted(reports["a"] + reports["b"])
        assert got == sorted(f"r{n}".encode() for n in range(40)), "every receipt exactly once"
        assert reports["a"] and reports["b"], "the broker shares receipts between the replicas"
        assert statuses["a"] == statuses["b"] == [b"s"], "statuses go to every replica"
    finally:
        box.loop_stop()
        box.disconnect()
        for replica in replicas:
            replica.stop()
