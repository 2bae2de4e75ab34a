"""The week calendar: airings in the right Vietnam-time day cells, what the boxes leave out and why,
only the reader's own communes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, time
from pathlib import Path

import pytest

from controller.calendar import parse_week, week_key
from controller.errors import InvalidInput
from controller.models import Zone
from playlists.policy import Window, ZonePolicy
from playlists.rules import Rule
from tests.controller.conftest import World, make_world
from tests.controller.planning_support import approved, day_cells, login, scheduled


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from make_world(Path(tmp_path_factory.mktemp("calendar")))


def test_weeks_are_iso_weeks_starting_on_monday() -> None:
    assert parse_week("2030-W02", today=date(2026, 1, 1)) == date(2030, 1, 7)
    assert parse_week(None, today=date(2030, 1, 13)) == date(2030, 1, 7)  # a Sunday: its Monday
    assert week_key(date(2030, 12, 30)) == "2031-W01"
    with pytest.raises(InvalidInput):
        parse_week("2030-W54", today=date(2026, 1, 1))


def test_airings_fall_on_their_vietnam_day_across_the_week_boundary(world: World) -> None:
    with world.session() as session:
        bulletin = approved(session, commune_id=world.commune_a, title="Phòng chống dịch", seconds=120)
        # Sunday 06/01/2030 and Monday 07/01/2030, 00:30 and 23:30 Hà Nội time: Monday 00:30 is still
        # Sunday 17:30 in UTC, yet it belongs to the Monday of the next week.
        rule = Rule(
            kind="daily",
            start_date=date(2030, 1, 6),
            end_date=date(2030, 1, 7),
            times=(time(0, 30), time(23, 30)),
        )
        scheduled(session, bulletin_id=bulletin.id or 0, zone_id=world.village_a1, rule=rule)
    login(world, "editor_a")
    week = world.client.get("/calendar", params={"zone": world.village_a1, "week": "2030-W02"})
    assert week.status_code == 200
    cells = day_cells(week.text)
    assert list(cells) == [f"2030-01-{d:02d}" for d in range(7, 14)]
    monday = cells["2030-01-07"]
    assert "00:30–00:32" in monday and "23:30–23:32" in monday and "Phòng chống dịch" in monday
    assert all("Phòng chống dịch" not in cells[d] for d in cells if d != "2030-01-07")
    before = day_cells(world.client.get(f"/calendar?zone={world.village_a1}&week=2030-W01").text)
    assert "00:30–00:32" in before["2030-01-06"] and "23:30–23:32" in before["2030-01-06"]
    assert "Phòng chống dịch" not in before["2029-12-31"]
    # The commune's calendar holds its villages' airings; the other village's boxes do not play it.
    assert (
        "Phòng chống dịch"
        in day_cells(world.client.get(f"/calendar?zone={world.commune_a}&week=2030-W02").text)["2030-01-07"]
    )
    assert "Phòng chống dịch" not in world.client.get(f"/calendar?zone={world.village_a2}&week=2030-W02").text


def test_the_calendar_says_which_airings_boxes_leave_out_and_why(world: World) -> None:
    with world.session() as session:
        village = session.get(Zone, world.village_a2)
        assert village is not None
        village.policy_json = ZonePolicy(quiet_hours=(Window(start=time(21), end=time(5)),)).model_dump_json()
        session.add(village)
        session.commit()
        first = approved(session, commune_id=world.commune_a, title="Lịch tiêm chủng", seconds=300)
        second = approved(session, commune_id=world.commune_a, title="Thông báo thu thuế", seconds=60)
        weekly = Rule(
            kind="weekly",
            start_date=date(2030, 3, 4),
            end_date=date(2030, 3, 10),
            weekdays=(2,),
            times=(time(6), time(22)),
        )
        scheduled(session, bulletin_id=first.id or 0, zone_id=world.village_a2, rule=weekly)
        clash = Rule(
            kind="daily", start_date=date(2030, 3, 6), end_date=date(2030, 3, 6), times=(time(6, 2),)
        )
        scheduled(
            session, bulletin_id=second.id or 0, zone_id=world.commune_a, rule=clash, priority="priority"
        )
    login(world, "approver_a")
    wednesday = day_cells(world.client.get(f"/calendar?zone={world.village_a2}&week=2030-W10").text)[
        "2030-03-06"
    ]
    airings = wednesday.split('<li class="airing ')[1:]
    by_time = {re.search(r'<time datetime="[^"]+">(\d\d:\d\d)–', a)[1]: a for a in airings}  # type: ignore[index]
    assert set(by_time) == {"06:00", "06:02", "22:00"}
    # The priority schedule wins 06:02 over the normal one at 06:00 (they overlap for 3 minutes).
    assert "prio-priority state-plays" in by_time["06:02"] and "Thông báo thu thuế" in by_time["06:02"]
    assert (
        "state-dropped" in by_time["06:00"]
        and "trùng giờ với một lịch phát được ưu tiên hơn" in by_time["06:00"]
    )
    assert "state-dropped" in by_time["22:00"] and "rơi vào giờ yên tĩnh" in by_time["22:00"]


def test_only_the_readers_communes_have_a_calendar(world: World) -> None:
    login(world, "editor_b")
    own = world.client.get("/calendar")
    assert own.status_code == 200 and "Thôn B1" in own.text and "Thôn A1" not in own.text
    assert world.client.get(f"/calendar?zone={world.village_a1}").status_code == 404
    bad = world.client.get(f"/calendar?zone={world.village_b1}&week=2030-W99")
    assert bad.status_code == 422 and 'value="' in bad.text and "tuần" in bad.text.lower()
    login(world, "tech")
    assert world.client.get("/calendar").status_code == 403
    login(world, "auditor")
    assert world.client.get(f"/calendar?zone={world.village_a1}").status_code == 200


def test_titles_are_escaped_in_the_calendar(world: World) -> None:
    with world.session() as session:
        bulletin = approved(session, commune_id=world.commune_b, title="<script>alert(1)</script>")
        rule = Rule(kind="daily", start_date=date(2030, 5, 6), end_date=date(2030, 5, 6), times=(time(7),))
        scheduled(session, bulletin_id=bulletin.id or 0, zone_id=world.village_b1, rule=rule)
    login(world, "editor_b")
    page = world.client.get(f"/calendar?zone={world.village_b1}&week=2030-W19").text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
