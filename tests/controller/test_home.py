"""The home page: today's and tomorrow's broadcasts, what is on air, boxes and alerts, and the bulletins
waiting for the user, each within the user's communes.

    s_a  commune A's bulletin, daily at 06:00 from today     → today and tomorrow, for A's people
    s_b  commune B's bulletin, once tomorrow at 17:00         → only for B's people and the province
    box-a1 online, playing s_a; box-a2 last heard 2 h ago (an alert); box-b1 online, playing s_b
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from controller import devices
from controller.models import Bulletin, Schedule, User, utcnow
from playlists.rules import Rule
from playlists.wire import Status, to_json
from tests.controller.asrun_support import HCM, item_id
from tests.controller.conftest import PASSWORD, World, make_world


def _status(world: World, device_id: str, *, at: datetime, playing: str | None = None) -> None:
    raw = to_json(Status(device_id=device_id, state="online", playing_item_id=playing))
    assert devices.handle_status(world.services.engine, device_id=device_id, raw=raw, now=at)


def _bulletin(world: World, *, title: str, commune: int, author: str, status: str) -> int:
    with world.session() as session:
        user = session.exec(select(User).where(User.username == author)).one()
        row = Bulletin(commune_id=commune, title=title, body=title, status=status, author_id=user.id or 0)
        session.add(row)
        session.commit()
        return row.id or 0


def _schedule(world: World, *, bulletin_id: int, zone_id: int, rule: Rule, starts_at: datetime) -> int:
    with world.session() as session:
        admin = session.exec(select(User).where(User.username == "admin")).one()
        row = Schedule(
            bulletin_id=bulletin_id,
            target_zone_id=zone_id,
            rule_json=rule.model_dump_json(),
            starts_at=starts_at,
            created_by=admin.id or 0,
        )
        session.add(row)
        session.commit()
        return row.id or 0


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    worlds = make_world(Path(tmp_path_factory.mktemp("home")))
    world = next(worlds)
    today = utcnow().astimezone(HCM).date()
    six = datetime.combine(today, time(6), tzinfo=HCM)
    tomorrow_five = datetime.combine(today + timedelta(days=1), time(17), tzinfo=HCM)
    a = _bulletin(
        world, title="Lịch tiêm phòng xã A", commune=world.commune_a, author="editor_a", status="approved"
    )
    b = _bulletin(
        world, title="Tin riêng xã B", commune=world.commune_b, author="editor_b", status="approved"
    )
    _bulletin(world, title="Bản nháp của A", commune=world.commune_a, author="editor_a", status="draft")
    _bulletin(world, title="Bị trả lại của A", commune=world.commune_a, author="editor_a", status="rejected")
    _bulletin(world, title="Chờ duyệt của A", commune=world.commune_a, author="editor_a", status="submitted")
    _bulletin(world, title="Chờ duyệt của B", commune=world.commune_b, author="editor_b", status="submitted")
    daily = Rule(kind="daily", start_date=today, times=(time(6),), timezone="Asia/Ho_Chi_Minh")
    s_a = _schedule(world, bulletin_id=a, zone_id=world.commune_a, rule=daily, starts_at=six)
    once = Rule(kind="once", at=tomorrow_five)
    s_b = _schedule(world, bulletin_id=b, zone_id=world.village_b1, rule=once, starts_at=tomorrow_five)
    now = utcnow()
    _status(world, "box-a1", at=now, playing=item_id(s_a, six))
    _status(world, "box-a2", at=now - timedelta(hours=2))
    _status(world, "box-b1", at=now, playing=item_id(s_b, tomorrow_five))
    yield world
    with contextlib.suppress(StopIteration):
        next(worlds)


def _home(world: World, username: str) -> str:
    world.client.cookies.clear()
    response = world.client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code in (200, 303)
    page = world.client.get("/")
    assert page.status_code == 200
    return page.text


def _section(html: str, heading_id: str) -> str:
    match = re.search(rf'<section class="card" aria-labelledby="{heading_id}">(.*?)</section>', html, re.S)
    assert match, heading_id
    return match.group(1)


def test_an_editor_sees_their_communes_broadcasts_boxes_and_unfinished_bulletins(world: World) -> None:
    html = _home(world, "editor_a")
    today = utcnow().astimezone(HCM).date()
    day1, day2 = _section(html, "day1"), _section(html, "day2")
    assert f"Hôm nay, {today:%d/%m/%Y}" in day1 and "06:00" in day1 and "Lịch tiêm phòng xã A" in day1
    assert f"Ngày mai, {today + timedelta(days=1):%d/%m/%Y}" in day2 and "Lịch tiêm phòng xã A" in day2
    assert "Tin riêng xã B" not in html
    playing = _section(html, "h-playing")
    assert "Lịch tiêm phòng xã A" in playing and "box-a1" in playing and "box-b1" not in playing
    boxes = _section(html, "h-boxes")
    assert re.search(r'<p class="big">1 / 2</p>', boxes) and "1 cụm loa mất kết nối" in boxes
    alerts = _section(html, "h-alerts")
    assert "box-a2" in alerts and "Mất kết nối quá lâu" in alerts and "box-a1" not in alerts
    mine = _section(html, "h-mine")
    assert "Bản nháp của A" in mine and "Bị trả lại của A" in mine and "Chờ duyệt của A" not in mine
    assert 'aria-labelledby="h-waiting"' not in html  # editors approve nothing


def test_an_approver_sees_what_waits_for_their_approval(world: World) -> None:
    html = _home(world, "approver_a")
    waiting = _section(html, "h-waiting")
    assert "Chờ duyệt của A" in waiting and "Chờ duyệt của B" not in waiting
    assert 'aria-labelledby="h-mine"' not in html


def test_the_province_sees_every_commune_and_a_technician_only_boxes(world: World) -> None:
    html = _home(world, "admin")
    assert "Tin riêng xã B" in _section(html, "day2") and "17:00" in _section(html, "day2")
    assert "Chờ duyệt của B" in _section(html, "h-waiting")
    assert "box-b1" in _section(html, "h-playing")
    tech = _home(world, "tech")
    assert re.search(r'<p class="big">2 / 3</p>', tech) and 'aria-labelledby="day1"' not in tech


def test_now_playing_is_served_alone_for_live_redraws(world: World) -> None:
    _home(world, "editor_a")
    part = world.client.get("/home/_playing")
    assert part.status_code == 200 and "<html" not in part.text
    assert "Lịch tiêm phòng xã A" in part.text and "box-b1" not in part.text
    home = world.client.get("/").text
    assert 'data-src="/home/_playing"' in home and '<script src="/static/home.js" defer>' in home
    world.client.cookies.clear()
    assert world.client.get("/home/_playing", follow_redirects=False).status_code == 303
