"""The whole journey on real parts: `loa demo` (Mosquitto, controller, three agent processes),
espeak-ng and ffmpeg, driven through the HTTP API; and the login page in headless Chromium."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from loa.demo import demo_password
from tests.e2e.browser_support import Demo, eventually, launch_chromium, running_demo

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
BULLETIN = (
    "Kính thưa bà con nhân dân! Ủy ban nhân dân xã thông báo: từ ngày 1 tháng 12, "
    "xã tổ chức tiêm phòng cho trẻ em tại trạm y tế. Xin cảm ơn bà con đã lắng nghe."
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with running_demo(tmp_path_factory.mktemp("demo"), settings={}) as running:
        yield running


def test_bulletin_goes_from_panel_to_boxes_and_back(demo: Demo) -> None:
    editor, approver, auditor = demo.token("editor"), demo.token("approver"), demo.token("auditor")
    zones = httpx.get(f"{demo.url}/api/v1/zones", headers=editor).json()
    commune = next(z for z in zones if z["kind"] == "commune")
    village = next(z for z in zones if z["kind"] == "village" and z["name"] == "Xóm Đông Lộc")

    created = httpx.post(
        f"{demo.url}/api/v1/bulletins",
        headers=editor,
        json={"commune_id": commune["id"], "title": "Thông báo tiêm phòng", "body": BULLETIN},
    )
    assert created.status_code == 201, created.text
    bid = created.json()["id"]
    assert (
        httpx.post(f"{demo.url}/api/v1/bulletins/{bid}/submit", headers=editor).json()["status"]
        == "submitted"
    )
    approved = httpx.post(f"{demo.url}/api/v1/bulletins/{bid}/approve", headers=approver, timeout=120)
    assert approved.status_code == 200, approved.text
    sha = approved.json()["media_sha256"]

    # The approver can listen to exactly the approved audio.
    audio = httpx.get(f"{demo.url}/media/{sha}", headers=approver)
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/ogg"  # Opus
    assert hashlib.sha256(audio.content).hexdigest() == sha

    scheduled = httpx.post(
        f"{demo.url}/api/v1/schedules",
        headers=editor,
        json={"bulletin_id": bid, "target_zone_id": village["id"], "in_seconds": 8},
    )
    assert scheduled.status_code == 201, scheduled.text
    schedule_id = scheduled.json()["id"]

    def completed() -> list[tuple[str, str, str, str]] | None:
        with demo.db() as db:
            rows = db.execute(
                "SELECT device_id, event, scheduled_at, started_at FROM receipt WHERE schedule_id = ? "
                "ORDER BY device_id, seq",
                (schedule_id,),
            ).fetchall()
        done = {r[0] for r in rows if r[1] == "completed"}
        return rows if done == {"loa-01", "loa-02"} else None

    rows = eventually(completed, timeout=120, what="completed receipts from both boxes of the village")
    events = {(device, event) for device, event, _s, _a in rows}
    assert events == {
        ("loa-01", "started"),
        ("loa-01", "completed"),
        ("loa-02", "started"),
        ("loa-02", "completed"),
    }
    with demo.db() as db:
        # stored exactly once per (device, seq), and nothing for the box in the other village
        assert db.execute("SELECT COUNT(*) FROM receipt WHERE device_id = 'loa-03'").fetchone()[0] == 0
        dupes = db.execute(
            "SELECT COUNT(*) FROM receipt GROUP BY device_id, seq HAVING COUNT(*) > 1"
        ).fetchall()
        assert dupes == []

    for device_id in ("loa-01", "loa-02"):
        sink = demo.data_dir / "agents" / device_id / "sink"
        played = [json.loads(line) for line in (sink / "played.jsonl").read_text().splitlines()]
        assert [p["sha256"] for p in played] == [sha]
        # The file sink wrote the decoded PCM that went on air, whole, next to its line.
        pcm = sink / played[0]["pcm_file"]
        assert pcm.stat().st_size > 0 and not played[0]["interrupted"]
        assert hashlib.sha256(pcm.read_bytes()).hexdigest() == played[0]["pcm_sha256"]
    assert not (demo.data_dir / "agents" / "loa-03" / "sink" / "played.jsonl").exists()

    # The boxes started at the scheduled instant, to well within a second.
    asrun = httpx.get(f"{demo.url}/api/v1/asrun", headers=auditor).json()
    ours = [r for r in asrun if r["schedule_id"] == schedule_id]
    assert sorted(r["device_id"] for r in ours) == ["loa-01", "loa-02"]
    for row in ours:
        assert row["outcome"] == "completed"
        late = _ms(row["started_at"]) - _ms(row["scheduled_at"])
        assert 0 <= late < 1000, f"{row['device_id']} started {late} ms late"
    page = httpx.get(f"{demo.url}/asrun", headers=auditor)
    assert page.status_code == 200 and "Đã phát xong" in page.text

    # Every receipt was acknowledged, so the boxes' outboxes drain.
    def drained() -> bool:
        devices = httpx.get(f"{demo.url}/api/v1/devices", headers=auditor).json()
        return all(d["status"].get("outbox_pending") == 0 for d in devices if d["id"] in ("loa-01", "loa-02"))

    with demo.db() as db:
        acked = dict(db.execute("SELECT id, acked_seq FROM device").fetchall())
    assert acked["loa-01"] >= 2 and acked["loa-02"] >= 2
    eventually(drained, timeout=90, what="empty outboxes reported by the boxes")


def _ms(value: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(value).timestamp() * 1000)


def test_login_page_in_headless_chromium(demo: Demo) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 360, "height": 740})
            page.goto(f"{demo.url}/")
            assert page.url.endswith("/login")
            assert page.locator("html").get_attribute("lang") == "vi"
            assert page.locator("h1").inner_text() == "Đăng nhập"
            page.fill("#username", "editor")
            page.fill("#password", "sai-mat-khau")
            page.click("button[type=submit]")
            assert "Sai tên đăng nhập hoặc mật khẩu" in page.locator(".error").inner_text()
            page.fill("#password", demo_password("editor"))
            page.click("button[type=submit]")
            page.wait_for_url(f"{demo.url}/")
            assert "Xin chào" in page.locator("h1").inner_text()
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 360, f"the home page scrolls sideways on a phone ({width}px)"
        finally:
            browser.close()


LONG_BULLETIN = (
    Path(__file__).resolve().parents[3].joinpath("shared", "data", "bulletins", "01-giao-thong.txt")
)


def _approved(demo: Demo, title: str, body: str) -> tuple[int, str]:
    editor, approver = demo.token("editor"), demo.token("approver")
    zones = httpx.get(f"{demo.url}/api/v1/zones", headers=editor).json()
    commune = next(z for z in zones if z["kind"] == "commune")
    bid = httpx.post(
        f"{demo.url}/api/v1/bulletins",
        headers=editor,
        json={"commune_id": commune["id"], "title": title, "body": body},
    ).json()["id"]
    httpx.post(f"{demo.url}/api/v1/bulletins/{bid}/submit", headers=editor)
    approved = httpx.post(f"{demo.url}/api/v1/bulletins/{bid}/approve", headers=approver, timeout=180)
    assert approved.status_code == 200, approved.text
    return bid, approved.json()["media_sha256"]


def test_emergency_preempts_a_playing_bulletin_on_the_boxes(demo: Demo) -> None:
    long_body = LONG_BULLETIN.read_text() if LONG_BULLETIN.exists() else BULLETIN * 8
    long_id, _ = _approved(demo, "Luật giao thông", long_body)
    alert_id, alert_sha = _approved(
        demo, "Cảnh báo lũ", "Khẩn cấp! Nước sông Lam đang lên nhanh, bà con lên nơi cao."
    )
    editor, approver = demo.token("editor"), demo.token("approver")
    zones = httpx.get(f"{demo.url}/api/v1/zones", headers=editor).json()
    village = next(z for z in zones if z["kind"] == "village" and z["name"] == "Xóm Đông Lộc")
    scheduled = httpx.post(
        f"{demo.url}/api/v1/schedules",
        headers=editor,
        json={"bulletin_id": long_id, "target_zone_id": village["id"], "in_seconds": 8},
    )
    assert scheduled.status_code == 201, scheduled.text
    schedule_id = scheduled.json()["id"]

    def started() -> bool:
        with demo.db() as db:
            rows = db.execute(
                "SELECT device_id FROM receipt WHERE schedule_id = ? AND event = 'started'", (schedule_id,)
            ).fetchall()
        return {r[0] for r in rows} == {"loa-01", "loa-02"}

    eventually(started, timeout=60, what="the long bulletin playing on both boxes")
    time.sleep(2)
    sent_at = time.time()
    emergency = httpx.post(
        f"{demo.url}/api/v1/emergencies",
        headers=approver,
        json={"bulletin_id": alert_id, "zone_ids": [village["id"]]},
    )
    assert emergency.status_code == 201, emergency.text
    item_id = f"e{emergency.json()['id']}"

    def preempted() -> list[tuple[str, str, str | None, str | None]] | None:
        with demo.db() as db:
            rows = db.execute(
                "SELECT device_id, event, item_id, started_at, ended_at FROM receipt "
                "WHERE (schedule_id = ? AND event = 'interrupted') OR (item_id = ? AND event = 'started')",
                (schedule_id, item_id),
            ).fetchall()
        kinds = {(r[0], r[1]) for r in rows}
        wanted = {(d, e) for d in ("loa-01", "loa-02") for e in ("interrupted", "started")}
        return rows if wanted <= kinds else None

    rows = eventually(preempted, timeout=30, what="the emergency interrupting the bulletin on both boxes")
    for device, event, _item, started_at, _ended in rows:
        if event == "started":
            late = _ms(started_at) / 1000 - sent_at
            assert late < 1.5, f"{device} started the emergency {late:.2f} s after the confirm"

    def emergency_completed() -> bool:
        with demo.db() as db:
            rows = db.execute(
                "SELECT device_id FROM receipt WHERE item_id = ? AND event = 'completed'", (item_id,)
            ).fetchall()
        return {r[0] for r in rows} == {"loa-01", "loa-02"}

    eventually(emergency_completed, timeout=60, what="the emergency played to its end on both boxes")
    for device_id in ("loa-01", "loa-02"):
        played = [
            json.loads(line)
            for line in (demo.data_dir / "agents" / device_id / "sink" / "played.jsonl")
            .read_text()
            .splitlines()
        ]
        assert alert_sha in [p["sha256"] for p in played]
    with demo.db() as db:
        far = db.execute(
            "SELECT COUNT(*) FROM receipt WHERE device_id = 'loa-03' AND item_id = ?", (item_id,)
        )
        assert far.fetchone()[0] == 0  # the other village heard nothing


def test_a_new_box_enrols_with_a_code_and_is_cut_off_when_revoked(demo: Demo) -> None:
    import tomllib

    import paho.mqtt.client as mqtt

    technician = demo.token("technician")
    zones = httpx.get(f"{demo.url}/api/v1/zones", headers=technician).json()
    village = next(z for z in zones if z["kind"] == "village" and z["name"] == "Xóm Tây Lộc")
    registered = httpx.post(
        f"{demo.url}/api/v1/devices",
        headers=technician,
        json={"device_id": "loa-99", "name": "Loa nhà văn hóa", "zone_id": village["id"]},
    )
    assert registered.status_code == 201, registered.text
    box = demo.data_dir / "enrolled-box"
    config = box / "agent.toml"
    code = registered.json()["enrolment_code"]
    command = [sys.executable, "-m", "loa", "agent", "enroll", "--controller", demo.url, "--code", code]
    enrolled = subprocess.run(
        [*command, "--config", str(config), "--data-dir", str(box / "data"), "--sink", "file"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert enrolled.returncode == 0, enrolled.stderr
    assert oct(config.stat().st_mode & 0o777) == "0o600"
    settings = tomllib.loads(config.read_text())
    with (box / "agent.log").open("wb") as log:
        agent = subprocess.Popen(
            [sys.executable, "-m", "loa", "agent", "--config", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:

        def state(wanted: str) -> bool:
            devices = httpx.get(f"{demo.url}/api/v1/devices", headers=technician).json()
            return any(d["id"] == "loa-99" and d["state"] == wanted for d in devices)

        eventually(lambda: state("online"), timeout=30, what="the enrolled box online on its own account")
        revoked = httpx.post(f"{demo.url}/api/v1/devices/loa-99/revoke", headers=technician, json={})
        assert revoked.status_code == 200, revoked.text
        eventually(lambda: state("offline"), timeout=10, what="the revoked box shown offline")

        refused: list[object] = []
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="loa-99", protocol=mqtt.MQTTv5)
        client.username_pw_set(settings["mqtt_username"], settings["mqtt_password"])
        client.on_connect = lambda _c, _u, _f, reason, _p: refused.append(reason)
        client.connect(settings["mqtt_host"], settings["mqtt_port"])
        client.loop_start()
        try:
            eventually(lambda: refused, timeout=10, what="the broker's answer to the revoked box")
        finally:
            client.loop_stop()
            client.disconnect()
        assert refused[0].is_failure, f"a revoked box must not get back in: {refused[0]}"
    finally:
        agent.terminate()
        agent.wait(timeout=10)
