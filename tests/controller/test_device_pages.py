"""The device list and page: scope, filters, paging, Vietnamese times, the map, live updates, scale."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from controller import devices
from controller.live import DeviceHub
from controller.models import Device, DeviceHealth, utcnow
from playlists.wire import Status, to_json
from tests.controller.conftest import PASSWORD, World


def panel_login(world: World, username: str) -> str:
    """Log the test client in to the panel; returns the session's CSRF token."""
    response = world.client.post(
        "/login", data={"username": username, "password": PASSWORD}, follow_redirects=False
    )
    assert response.status_code == 303
    match = re.search(r'name="csrf_token" value="([^"]+)"', world.client.get("/").text)
    assert match
    return match.group(1)


def report(
    world: World,
    device_id: str,
    *,
    now: datetime | None = None,
    hub: DeviceHub | None = None,
    **fields: object,
) -> None:
    """The box sends a status (written at once, as the app's status writer would)."""
    raw = to_json(Status(device_id=device_id, state="online", at_ms=int(time.time() * 1000), **fields))  # type: ignore[arg-type]
    assert devices.handle_status(
        world.services.engine, device_id=device_id, raw=raw, now=now or utcnow(), hub=hub
    )


def row_ids(html: str) -> list[str]:
    return re.findall(r'<tr id="dev-([a-z0-9-]+)"', html)


def test_the_list_shows_only_the_users_communes_in_vietnamese(world: World) -> None:
    panel_login(world, "editor_a")
    page = world.client.get("/devices")
    assert page.status_code == 200
    assert row_ids(page.text) == ["box-a1", "box-a2"]
    assert "Cụm loa" in page.text and "Chưa kết nối lần nào" in page.text and "Xã/phường" in page.text


def test_last_seen_is_shown_in_vietnam_time_and_state_and_alerts_follow_the_status(world: World) -> None:
    report(world, "box-a1", now=datetime(2026, 3, 2, 1, 5, tzinfo=UTC), disk_free_mb=120)
    report(world, "box-a2", disk_free_mb=9000)
    panel_login(world, "editor_a")
    page = world.client.get("/devices").text
    assert "02/03/2026 08:05" in page
    a1 = page[page.index('id="dev-box-a1"') : page.index('id="dev-box-a2"')]
    assert "Mất kết nối" in a1 and "Sắp hết dung lượng" in a1 and "Mất kết nối quá lâu" in a1
    a2 = page[page.index('id="dev-box-a2"') :]
    assert "Trực tuyến" in a2 and "alert-item" not in a2.split("</tr>")[0]


def test_filters_by_commune_state_alert_and_text(world: World) -> None:
    report(world, "box-a1", disk_free_mb=100)
    report(world, "box-b1")
    panel_login(world, "admin")
    assert row_ids(world.client.get(f"/devices?commune={world.commune_b}").text) == ["box-b1"]
    assert row_ids(world.client.get("/devices?state=online").text) == ["box-a1", "box-b1"]
    assert row_ids(world.client.get("/devices?state=unknown").text) == ["box-a2"]
    assert row_ids(world.client.get("/devices?alert=1").text) == ["box-a1"]
    assert row_ids(world.client.get("/devices?q=A2").text) == ["box-a2"]
    none = world.client.get("/devices?q=kh%C3%B4ng-c%C3%B3").text
    assert row_ids(none) == [] and "Không có cụm loa nào khớp bộ lọc" in none
    api = world.client.get("/api/v1/devices", params={"alert": True}, headers=world.token("admin")).json()
    assert [(d["id"], [a["code"] for a in d["alerts"]]) for d in api] == [("box-a1", ["low_disk"])]


def _many_boxes(world: World, count: int) -> None:
    with world.session() as session:
        session.add_all(
            Device(id=f"box-x{i:04d}", name=f"Loa số {i}", zone_id=world.village_a1, public_key="k")
            for i in range(count)
        )
        session.commit()


def test_pages_of_fifty_keep_the_filters(world: World) -> None:
    _many_boxes(world, 118)  # 120 in commune A with box-a1 and box-a2
    panel_login(world, "admin")
    first = world.client.get(f"/devices?commune={world.commune_a}").text
    assert len(row_ids(first)) == 50 and "Trang 1/3" in first
    assert f'href="/devices?commune={world.commune_a}&amp;page=2"' in first
    last = world.client.get(f"/devices?commune={world.commune_a}&page=3").text
    assert len(row_ids(last)) == 20 and "Trang 3/3" in last
    assert len(row_ids(world.client.get(f"/devices?commune={world.commune_a}&page=99").text)) == 20


def test_a_province_of_three_thousand_boxes_lists_in_reasonable_time(world: World) -> None:
    _many_boxes(world, 3000)
    for i in range(0, 3000, 10):
        report(world, f"box-x{i:04d}", disk_free_mb=100 if i % 100 == 0 else 5000)
    panel_login(world, "admin")
    started = time.perf_counter()
    page = world.client.get("/devices")
    elapsed = time.perf_counter() - started
    assert page.status_code == 200 and len(row_ids(page.text)) == 50 and "Trang 1/61" in page.text
    assert elapsed < 2.0, elapsed
    alerts = world.client.get("/devices?alert=1").text
    assert len(row_ids(alerts)) == 30
    started = time.perf_counter()
    markers = world.client.get("/devices/_map")
    assert markers.status_code == 200 and time.perf_counter() - started < 2.0


def test_the_map_has_markers_for_located_boxes_and_no_tiles_unless_configured(world: World) -> None:
    with world.session() as session:
        box = session.get(Device, "box-a1")
        assert box is not None
        box.lat, box.lon = 18.6796, 105.6813
        session.add(box)
        session.commit()
    panel_login(world, "editor_a")
    page = world.client.get("/devices").text
    assert 'data-tiles=""' in page and "Bản đồ nền chưa được cấu hình" in page
    assert "/static/vendor/leaflet-1.9.4/leaflet.js" in page and "unpkg" not in page
    assert world.client.get("/devices/_map").json() == [
        {
            "id": "box-a1",
            "name": "box-a1",
            "lat": 18.6796,
            "lon": 105.6813,
            "state": "unknown",
            "state_label": "Chưa kết nối lần nào",
            "alerts": 0,
        }
    ]
    panel_login(world, "editor_b")
    assert world.client.get("/devices/_map").json() == []
    world.services.settings = world.services.settings.model_copy(
        update={"map_tile_url": "https://tiles.example/{z}/{x}/{y}.png"}
    )
    panel_login(world, "admin")
    detail = world.client.get("/devices/box-a1").text
    assert 'data-tiles="https://tiles.example/{z}/{x}/{y}.png"' in detail
    assert '"lat": 18.6796' in detail and "Bản đồ nền chưa được cấu hình" not in detail


def test_the_device_page_shows_status_history_and_is_scoped(world: World) -> None:
    report(world, "box-a1", agent_version="0.3.1", volume=65, cpu_temp_c=48.5, clock_offset_ms=2500.0)
    with world.session() as session:
        for hours in range(1, 4):
            session.add(
                DeviceHealth(
                    device_id="box-a1", at=utcnow() - timedelta(hours=hours), cpu_temp_c=40.0 + hours
                )
            )
        session.commit()
    panel_login(world, "editor_a")
    page = world.client.get("/devices/box-a1")
    assert page.status_code == 200
    for text in (
        "0.3.1",
        "65 %",
        "48.5 °C",
        "Đồng hồ lệch",
        "Lịch sử 24 giờ",
        "<polyline",
        "Chỉ quản trị và kỹ thuật viên",
    ):
        assert text in page.text, text
    assert world.client.get("/devices/box-b1").status_code == 404
    assert world.client.get("/devices/no-such-box").status_code == 404
    api = world.client.get("/api/v1/devices/box-a1", headers=world.token("editor_a")).json()
    assert len(api["health"]) == 4 and [a["code"] for a in api["device"]["alerts"]] == ["clock_offset"]
    assert world.client.get("/api/v1/devices/box-b1", headers=world.token("editor_a")).status_code == 404


def test_the_home_page_counts_boxes_with_alerts(world: World) -> None:
    report(world, "box-a1", rejected_documents=3)
    panel_login(world, "approver_a")
    home = world.client.get("/").text
    assert "1 / 2" in home and "1 cụm loa có cảnh báo" in home


def _events(lines: Iterator[str], until: float) -> list[dict[str, Any]]:
    """Read server-sent events until one named ``devices`` arrives (or the stream ends)."""
    event = None
    for line in lines:
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: ") and event == "devices":
            return [json.loads(line[6:])]
        if time.monotonic() > until:
            break
    return []


def test_a_status_reaches_an_open_list_as_a_server_sent_event(world: World) -> None:
    hub: DeviceHub = world.client.app.state.device_hub  # type: ignore[attr-defined]
    hub.stream_seconds, hub.coalesce_seconds = 10.0, 0.0
    panel_login(world, "editor_a")
    with world.client.stream("GET", "/devices/_events?ids=box-a1,box-a2") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.iter_lines()
        assert next(lines).startswith(": ")  # subscribed
        report(world, "box-a1", hub=hub, outbox_pending=500)
        [data] = _events(lines, until=time.monotonic() + 10)
    [row] = data["devices"]
    assert row["id"] == "box-a1" and row["state"] == "online" and row["state_label"] == "Trực tuyến"
    assert [a["code"] for a in row["alerts"]] == ["outbox_backlog"]
    assert re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d", row["last_seen"])


def test_a_live_page_never_hears_of_boxes_outside_its_users_communes(world: World) -> None:
    hub: DeviceHub = world.client.app.state.device_hub  # type: ignore[attr-defined]
    hub.stream_seconds, hub.coalesce_seconds = 1.5, 0.0
    panel_login(world, "editor_b")
    with world.client.stream("GET", "/devices/_events?ids=box-a1") as response:
        lines = response.iter_lines()
        assert next(lines).startswith(": ")
        report(world, "box-a1", hub=hub)
        assert _events(lines, until=time.monotonic() + 5) == []  # the stream ends after 1.5 s, silent
