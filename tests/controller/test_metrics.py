"""``/metrics`` counts what the controller does; ``/readyz`` says whether a replica can serve."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import paho.mqtt.client as mqtt
import pytest
from alembic.script import ScriptDirectory
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlmodel import create_engine

from controller.db import alembic_config
from controller.metrics import readiness
from loa.mosquitto import Mosquitto, free_port
from playlists.signing import sign
from playlists.wire import Receipt, Status, to_json
from tests.controller.conftest import World, approved_bulletin, make_world


def scrape(world: World) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = world.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def eventually(world: World, check: object, timeout: float = 10.0) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    while True:
        samples = scrape(world)
        if check(samples):  # type: ignore[operator]
            return samples
        assert time.monotonic() < deadline, f"metrics never matched: {samples}"
        time.sleep(0.1)


def test_boxes_by_state_leader_and_broker_flags(world: World) -> None:
    samples = scrape(world)

    assert value(samples, "loa_boxes", state="unknown") == 3  # registered, never heard from
    assert value(samples, "loa_boxes", state="online") == 0
    assert value(samples, "loa_leader") == 0  # this app runs no jobs, so never takes the lock
    assert value(samples, "loa_mqtt_connected") == 0


def test_renders_timeline_refreshes_and_logged_errors_are_counted(world: World) -> None:
    bulletin = approved_bulletin(world)  # speaks it: one text render
    saved = world.client.post(
        "/api/v1/schedules",
        headers=world.token("editor_a"),
        json={"bulletin_id": bulletin["id"], "target_zone_id": world.village_a1, "in_seconds": 600},
    )
    assert saved.status_code == 201, saved.text
    logging.getLogger("controller.gateway").error("a failure the operator should see")

    samples = scrape(world)

    assert value(samples, "loa_render_seconds_count", kind="text") >= 1
    assert value(samples, "loa_renders_in_progress") == 0
    assert value(samples, "loa_timeline_refresh_seconds_count") >= 1
    assert value(samples, "loa_timelines_published_total") >= 1  # box-a1's new timeline
    assert value(samples, "loa_errors_total", kind="controller.gateway") == 1


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[World, Mosquitto]]:
    with Mosquitto(tmp_path / "broker") as broker:
        for world in make_world(tmp_path, mqtt_port=broker.port):
            yield world, broker


def test_statuses_and_receipts_from_boxes_are_counted(live: tuple[World, Mosquitto]) -> None:
    world, broker = live
    eventually(world, lambda s: value(s, "loa_mqtt_connected") == 1)
    box = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    box.connect("127.0.0.1", broker.port)
    box.loop_start()
    try:
        now_ms = time.time_ns() // 1_000_000
        status = to_json(Status(device_id="box-a1", state="online", at_ms=now_ms))
        box.publish("loa/v1/devices/box-a1/status", status, qos=1, retain=True).wait_for_publish(5)
        receipt = Receipt(
            device_id="box-a1", seq=1, event="started", item_id="s1-1000", recorded_at_ms=now_ms
        )
        good = sign(receipt, world.device_keys["box-a1"], "box-a1")
        forged = sign(receipt, Ed25519PrivateKey.generate(), "box-a1")
        for payload in (good, forged):
            box.publish("loa/v1/devices/box-a1/report", payload, qos=1).wait_for_publish(5)

        samples = eventually(
            world,
            lambda s: (
                value(s, "loa_receipts_total", outcome="refused") == 1
                and value(s, "loa_boxes", state="online") == 1
            ),
        )
    finally:
        box.loop_stop()
        box.disconnect()

    assert value(samples, "loa_statuses_total") == 1
    assert value(samples, "loa_receipts_total", outcome="acked") == 1
    assert value(samples, "loa_boxes", state="unknown") == 2


def test_ready_when_database_migrations_and_broker_are(live: tuple[World, Mosquitto]) -> None:
    world, _broker = live
    deadline = time.monotonic() + 10
    while (response := world.client.get("/readyz")).status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.1)

    assert response.status_code == 200, response.text
    checks = response.json()["checks"]
    assert checks["database"]["ok"] and checks["mqtt"]["ok"]
    assert checks["migrations"]["current"] == checks["migrations"]["head"]


def test_not_ready_while_the_broker_is_unreachable(tmp_path: Path) -> None:
    for world in make_world(tmp_path, mqtt_port=free_port()):  # nothing listens there
        response = world.client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["checks"]["mqtt"] == {"ok": False}
        assert world.client.get("/healthz").status_code == 200  # alive, just not ready


def test_not_ready_when_migrations_are_behind(world: World) -> None:
    url = str(world.services.engine.url.render_as_string(hide_password=False))
    first = ScriptDirectory.from_config(alembic_config(url)).get_base()
    with world.services.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": first})

    response = world.client.get("/readyz")

    assert response.status_code == 503
    migrations = response.json()["checks"]["migrations"]
    assert migrations["ok"] is False and migrations["current"] == [first]


def test_not_ready_when_the_database_is_unreachable(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'missing' / 'no.db'}")  # its folder does not exist
    services = SimpleNamespace(engine=engine, gateway=None)

    ready, checks = readiness(services, ("head",))  # type: ignore[arg-type]

    assert not ready
    assert checks["database"]["ok"] is False and "error" in checks["database"]
