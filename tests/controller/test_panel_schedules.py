"""The schedule form: for the writing roles of the commune only, the rule in plain words as it is
built, clashes and policy breaks shown before saving, nothing typed lost on an error."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from controller.models import Schedule, Zone
from playlists.policy import Window, ZonePolicy
from tests.controller.conftest import World, make_world
from tests.controller.planning_support import approved, daily_form, login

VN = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from make_world(Path(tmp_path_factory.mktemp("schedule-form")))


def _schedules(world: World) -> int:
    with world.session() as session:
        return len(session.exec(select(Schedule)).all())


def test_the_form_is_for_the_writing_roles_and_offers_only_their_communes(world: World) -> None:
    with world.session() as session:
        ours = approved(session, commune_id=world.commune_a, title="Tin của xã A")
        theirs = approved(session, commune_id=world.commune_b, title="<b>Tin của xã B</b>")
    login(world, "editor_a")
    form = world.client.get(f"/schedules/new?bulletin_id={ours.id}")
    assert form.status_code == 200
    assert f'<option value="bulletin:{ours.id}" selected>Tin của xã A</option>' in form.text
    assert "Tin của xã B" not in form.text and "Thôn B1" not in form.text and "Thôn A2" in form.text
    # Monday, Wednesday and Friday at 06:00 and 17:00 to begin with, in plain words.
    assert "Hằng tuần (Thứ Hai, Thứ Tư, Thứ Sáu), lúc 06:00, 17:00" in form.text
    assert world.client.get(f"/schedules/new?bulletin_id={theirs.id}").status_code == 404
    for username in ("auditor", "tech"):
        login(world, username)
        assert world.client.get("/schedules/new").status_code == 403
    login(world, "editor_b")
    page = world.client.get("/schedules/new").text
    assert "&lt;b&gt;Tin của xã B&lt;/b&gt;" in page and "<b>Tin" not in page


def test_the_rule_is_said_in_plain_words_as_it_is_built(world: World) -> None:
    login(world, "editor_a")
    words = world.client.get(
        "/schedules/_words",
        params={
            "when": "repeat",
            "freq": "weekly",
            "weekdays": ["0", "2", "4"],
            "times": "17:00, 06:00",
            "interval": "1",
            "start_date": "01/12/2030",
            "end_date": "31/12/2030",
        },
    )
    assert words.status_code == 200
    assert (
        "Hằng tuần (Thứ Hai, Thứ Tư, Thứ Sáu), lúc 06:00, 17:00, từ 01/12/2030 đến 31/12/2030" in words.text
    )
    assert "<html" not in words.text  # a fragment for htmx to swap in
    monthly = world.client.get(
        "/schedules/_words",
        params={"when": "repeat", "freq": "monthly", "monthly_mode": "nth", "nth_n": "-1", "nth_weekday": "6"}
        | {"times": "19:30", "interval": "2", "start_date": "01/12/2030"},
    )
    assert "Chủ Nhật cuối cùng của mỗi 2 tháng, lúc 19:30" in monthly.text
    unfinished = world.client.get(
        "/schedules/_words", params={"when": "repeat", "freq": "weekly", "times": "06:00"}
    )
    assert "Chọn ít nhất một ngày trong tuần" in unfinished.text


def test_check_shows_a_quiet_hours_break_and_a_clash_before_anything_is_saved(world: World) -> None:
    with world.session() as session:
        village = session.get(Zone, world.village_a1)
        assert village is not None
        village.policy_json = ZonePolicy(quiet_hours=(Window(start=time(21), end=time(5)),)).model_dump_json()
        session.add(village)
        session.commit()
        morning = approved(session, commune_id=world.commune_a, title="Bản tin buổi sáng", seconds=600)
        notice = approved(session, commune_id=world.commune_a, title="Thông báo họp dân", seconds=120)
    csrf = login(world, "editor_a")
    base = daily_form(world, csrf)
    first = world.client.post(
        "/schedules/new",
        data={**base, "what": f"bulletin:{morning.id}", "times": "06:00", "op": "save"},
        follow_redirects=False,
    )
    assert first.status_code == 303 and first.headers["location"].startswith(
        f"/calendar?zone={world.village_a1}"
    )
    saved = _schedules(world)
    second = {**base, "what": f"bulletin:{notice.id}", "times": "06:05, 22:15"}
    checked = world.client.post(
        "/schedules/new", data={**second, "op": "check"}, headers={"HX-Request": "true"}
    )
    assert checked.status_code == 200 and "<html" not in checked.text
    assert "giờ yên tĩnh" in checked.text and "21:00–05:00" in checked.text
    assert "Trùng lịch với các lịch phát khác" in checked.text
    first_id = re.findall(r"lịch số (\d+)", checked.text)
    assert first_id and first_id[0] != "2147483647"
    assert _schedules(world) == saved  # checking saves nothing
    refused = world.client.post("/schedules/new", data={**second, "op": "save"})
    assert refused.status_code == 422 and "giờ yên tĩnh" in refused.text
    assert 'value="06:05, 22:15"' in refused.text and f'value="{base["start_date"]}"' in refused.text  # kept
    only_clash = {**second, "times": "06:05"}
    clashing = world.client.post("/schedules/new", data={**only_clash, "op": "save"})
    assert clashing.status_code == 422 and 'name="accept_clashes"' in clashing.text
    assert _schedules(world) == saved
    accepted = world.client.post(
        "/schedules/new", data={**only_clash, "op": "save", "accept_clashes": "1"}, follow_redirects=False
    )
    assert accepted.status_code == 303 and _schedules(world) == saved + 1


def test_a_typing_mistake_is_explained_next_to_its_field(world: World) -> None:
    with world.session() as session:
        bulletin = approved(session, commune_id=world.commune_a, title="Tin sửa lỗi")
    csrf = login(world, "editor_a")
    wrong = world.client.post(
        "/schedules/new",
        data={
            "csrf_token": csrf,
            "what": f"bulletin:{bulletin.id}",
            "target": f"zone:{world.village_a2}",
            "when": "at",
            "date": "31/02/2031",
            "time": "06:30",
            "op": "save",
        },
    )
    assert wrong.status_code == 422
    assert re.search(r'id="date" name="date" value="31/02/2031"[^>]*aria-invalid="true"', wrong.text)
    assert '<p class="field-error" id="date-error">' in wrong.text and "dd/mm/yyyy" in wrong.text
    assert world.client.post("/schedules/new", data={"csrf_token": "forged", "op": "save"}).status_code == 403
