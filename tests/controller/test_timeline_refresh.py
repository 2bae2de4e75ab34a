"""A request that changes schedules does not wait for a province's compile: the timelines follow in
the background, changes made meanwhile are gathered into the next compile, and nothing is lost."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

import pytest

from controller import timelines
from tests.controller.conftest import World, approved_bulletin


class Gate:
    """A broker whose PUBACKs wait until the test opens the gate."""

    def __init__(self, world: World) -> None:
        self.world, self.open = world, threading.Event()
        self.topics: list[str] = []

    def publish(self, topic: str, payload: bytes, retain: bool) -> Gate:
        self.topics.append(topic)
        self.world.published.append((topic, payload, retain))
        return self

    def wait_for_publish(self, timeout: float | None = None) -> None:
        self.open.wait(timeout)


def _calls(world: World) -> list[list[str] | None]:
    """Record the device lists each compile is asked for."""
    publisher = world.services.publisher
    calls: list[list[str] | None] = []
    refresh = publisher.refresh

    def recording(now: object = None, *, device_ids: Iterable[str] | None = None) -> int:
        calls.append(None if device_ids is None else sorted(device_ids))
        return refresh(device_ids=device_ids)

    publisher.refresh = recording  # type: ignore[method-assign]
    return calls


def _eventually(check: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_slow_compile_does_not_hold_the_request(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(timelines, "REQUEST_WAIT_S", 0.3)
    bulletin = approved_bulletin(world)
    gate = Gate(world)
    world.services.publisher.publish = gate.publish
    started = time.monotonic()
    response = world.client.post(
        "/api/v1/schedules",
        json={"bulletin_id": bulletin["id"], "target_zone_id": world.village_a1, "in_seconds": 600},
        headers=world.token("editor_a"),
    )
    took = time.monotonic() - started
    assert response.status_code == 201, response.text
    assert took < 3.0  # the broker has not acknowledged anything yet
    assert "loa/v1/devices/box-a1/timeline" in gate.topics  # the compile ran, and waits for the broker
    gate.open.set()
    assert world.services.publisher.changed([], wait_s=10)  # it ends before the test does


def test_changes_during_a_compile_are_gathered_into_the_next(world: World) -> None:
    publisher = world.services.publisher
    gate = Gate(world)
    publisher.publish = gate.publish
    calls = _calls(world)
    assert publisher.changed(["box-a1"], wait_s=0.2) is False  # waiting for its PUBACK
    assert publisher.changed(["box-a2"], wait_s=0) is False
    assert publisher.changed(["box-b1"], wait_s=0) is False
    gate.open.set()
    assert publisher.changed(["box-a2"], wait_s=10) is True  # joins the pending one
    assert calls == [["box-a1"], ["box-a2", "box-b1"]]
    published = {topic.split("/")[3] for topic in gate.topics}
    assert published == {"box-a1", "box-a2", "box-b1"}


def test_a_change_for_all_boxes_covers_a_pending_one(world: World) -> None:
    publisher = world.services.publisher
    gate = Gate(world)
    publisher.publish = gate.publish
    calls = _calls(world)
    publisher.changed(["box-a1"], wait_s=0.2)
    publisher.changed(["box-a2"], wait_s=0)
    publisher.changed(None, wait_s=0)
    gate.open.set()
    _eventually(lambda: len(calls) == 2 and not publisher._pending)
    assert publisher.changed([], wait_s=10)  # the second compile has ended too
    assert calls == [["box-a1"], None, []]


def test_a_failed_compile_is_logged_and_the_next_change_still_runs(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    publisher = world.services.publisher
    refresh = publisher.refresh
    failures = [RuntimeError("database gone")]

    def flaky(now: object = None, *, device_ids: Iterable[str] | None = None) -> int:
        if failures:
            raise failures.pop()
        return refresh(device_ids=device_ids)

    publisher.refresh = flaky  # type: ignore[method-assign]
    world.published.clear()
    assert publisher.changed(["box-a1"], wait_s=10) is True
    assert "periodic compile will retry" in caplog.text
    assert world.published == []
    assert publisher.changed(["box-a1"], wait_s=10) is True
    assert [t for t, _p, _r in world.published] == ["loa/v1/devices/box-a1/timeline"]


def test_stop_ends_the_worker_and_later_changes_are_refused(world: World) -> None:
    publisher = world.services.publisher
    assert publisher.changed(["box-a1"], wait_s=10) is True
    worker = publisher._worker
    assert worker is not None and worker.is_alive()
    publisher.stop()
    assert not worker.is_alive()
    assert publisher.changed(["box-a2"], wait_s=0.1) is False
