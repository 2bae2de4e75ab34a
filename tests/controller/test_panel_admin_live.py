"""Live pages over server-sent events: the emergency page's tally of boxes that started playing, and
the home page's "on air now"."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

from controller.emergency_tally import tallies
from controller.live import DeviceHub
from controller.models import Emergency, utcnow
from playlists.signing import sign
from playlists.wire import Receipt as ReceiptDoc
from tests.controller.conftest import World, approved_bulletin
from tests.controller.test_device_pages import panel_login, report


def _tally(lines: Iterator[str], until: float) -> dict[str, Any] | None:
    """The next ``tally`` event's data (None if the stream ends or time runs out first)."""
    event = None
    for line in lines:
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: ") and event == "tally":
            return dict(json.loads(line[6:]))
        if time.monotonic() > until:
            break
    return None


def _receipt(
    world: World, device_id: str, seq: int, event: str, item_id: str, reason: str | None = None
) -> bytes:
    now = int(utcnow().timestamp() * 1000)
    doc = ReceiptDoc(
        device_id=device_id,
        seq=seq,
        event=event,  # type: ignore[arg-type]
        item_id=item_id,
        scheduled_at_ms=now,
        started_at_ms=now,
        recorded_at_ms=now,
        reason=reason,
    )
    return sign(doc, world.device_keys[device_id], device_id)


def _emergency(world: World, zone_ids: list[int]) -> int:
    bulletin = approved_bulletin(world)
    made = world.client.post(
        "/api/v1/emergencies",
        headers=world.token("approver_a"),
        json={"bulletin_id": bulletin["id"], "zone_ids": zone_ids},
    )
    assert made.status_code == 201 and made.json()["status"] == "sent", made.text
    return int(made.json()["id"])


def test_a_box_that_starts_an_emergency_reaches_the_open_page_as_an_event(world: World) -> None:
    emergency_id = _emergency(world, [world.commune_a])  # box-a1 and box-a2
    hub: DeviceHub = world.client.app.state.device_hub  # type: ignore[attr-defined]
    hub.stream_seconds, hub.coalesce_seconds = 5.0, 0.0
    panel_login(world, "approver_a")
    page = world.client.get("/emergency").text
    assert 'data-tally-events="/emergency/_events"' in page and "0/2 cụm loa đã bắt đầu phát" in page
    writer = world.services.receipt_writer
    assert writer is not None
    with world.client.stream("GET", "/emergency/_events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.iter_lines()
        first = _tally(lines, until=time.monotonic() + 10)
        assert first is not None and first["tallies"][0]["started"] == 0
        # The real way in: the receipt writer stores it, acks it and tells the live pages.
        writer.submit("box-a1", _receipt(world, "box-a1", 1, "started", f"e{emergency_id}"))
        update = _tally(lines, until=time.monotonic() + 10)
    assert update is not None
    [tally] = update["tallies"]
    assert tally["emergency_id"] == emergency_id and (tally["started"], tally["boxes"]) == (1, 2)
    assert tally["label"] == "1/2 cụm loa đã bắt đầu phát"


def test_failures_are_counted_and_other_communes_orders_never_reach_the_stream(world: World) -> None:
    ours = _emergency(world, [world.village_a1])
    for seq, event in ((1, "started"), (2, "failed")):
        writer = world.services.receipt_writer
        assert writer is not None
        writer.submit("box-a1", _receipt(world, "box-a1", seq, event, f"e{ours}"))
    writer.stop()  # stores what is queued
    hub: DeviceHub = world.client.app.state.device_hub  # type: ignore[attr-defined]
    hub.stream_seconds = 0.0
    panel_login(world, "approver_b")
    with world.client.stream("GET", "/emergency/_events") as response:
        assert _tally(response.iter_lines(), until=time.monotonic() + 5) == {"tallies": []}
    panel_login(world, "auditor")
    with world.client.stream("GET", "/emergency/_events") as response:
        data = _tally(response.iter_lines(), until=time.monotonic() + 5)
    assert data is not None
    assert data["tallies"][0]["label"] == "1/1 cụm loa đã bắt đầu phát, 1 cụm lỗi"
    panel_login(world, "tech")
    assert world.client.get("/emergency/_events").status_code == 403


def test_the_home_pages_on_air_list_follows_a_box_that_starts_playing(world: World) -> None:
    emergency_id = _emergency(world, [world.village_a1])
    hub: DeviceHub = world.client.app.state.device_hub  # type: ignore[attr-defined]
    hub.stream_seconds, hub.coalesce_seconds = 5.0, 0.0
    panel_login(world, "editor_a")
    home = world.client.get("/").text
    events = re.search(r'id="now-playing"[^>]*data-src="([^"]+)" data-events="([^"]+)"', home)
    assert events is not None
    assert "Tiêm phòng" not in world.client.get(events[1]).text
    with world.client.stream("GET", events[2]) as response:
        lines = response.iter_lines()
        assert next(lines).startswith(": ")  # subscribed
        report(world, "box-a1", hub=hub, playing_item_id=f"e{emergency_id}")
        assert any(line == "event: devices" for line in _until(lines, "event: devices"))
    redrawn = world.client.get(events[1]).text  # what home.js fetches on that event
    assert "Tiêm phòng" in redrawn and "box-a1" in redrawn


def _until(lines: Iterator[str], wanted: str, seconds: float = 10.0) -> list[str]:
    read, until = [], time.monotonic() + seconds
    for line in lines:
        read.append(line)
        if line == wanted or time.monotonic() > until:
            break
    return read


def test_repeats_cancelled_by_a_stop_are_not_counted_as_failures(world: World) -> None:
    ours = _emergency(world, [world.village_a1])
    writer = world.services.receipt_writer
    assert writer is not None
    receipts = [("started", None), ("interrupted", "stopped:c1"), ("failed", "stopped:c1")]
    for seq, (event, reason) in enumerate(receipts, start=1):
        writer.submit("box-a1", _receipt(world, "box-a1", seq, event, f"e{ours}", reason))
    writer.stop()
    with world.session() as session:
        emergency = session.get(Emergency, ours)
        assert emergency is not None
        tally = tallies(session, [emergency])[ours]
    assert (tally.started, tally.failed) == (1, 0)
    assert tally.label() == "1/1 cụm loa đã bắt đầu phát"  # no ", 1 cụm lỗi"
