"""The web panel: Vietnamese pages, login, CSRF on every change, escaping, errors that keep input."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from tests.controller.conftest import PASSWORD, World, approved_bulletin


def _login(world: World, username: str) -> str:
    response = world.client.post(
        "/login", data={"username": username, "password": PASSWORD}, follow_redirects=False
    )
    assert response.status_code == 303
    home = world.client.get("/")
    match = re.search(r'name="csrf_token" value="([^"]+)"', home.text)
    assert match, home.text
    return match.group(1)


def test_pages_redirect_to_a_vietnamese_login(world: World) -> None:
    response = world.client.get("/bulletins", follow_redirects=True)
    assert response.url.path == "/login"
    assert '<html lang="vi">' in response.text and "Đăng nhập" in response.text


def test_wrong_password_says_so_in_vietnamese_and_keeps_the_username(world: World) -> None:
    response = world.client.post("/login", data={"username": "editor_a", "password": "nope"})
    assert response.status_code == 401
    assert "Sai tên đăng nhập hoặc mật khẩu" in response.text
    assert 'value="editor_a"' in response.text


def test_state_changes_need_the_csrf_token(world: World) -> None:
    _login(world, "editor_a")
    response = world.client.post(
        "/bulletins/new",
        data={"csrf_token": "forged", "commune_id": world.commune_a, "title": "T", "body": "B"},
    )
    assert response.status_code == 403
    assert world.client.get("/api/v1/bulletins", headers=world.token("editor_a")).json() == []


def test_bulletin_text_is_escaped(world: World) -> None:
    csrf = _login(world, "editor_a")
    response = world.client.post(
        "/bulletins/new",
        data={
            "csrf_token": csrf,
            "commune_id": world.commune_a,
            "title": "<script>alert(1)</script>",
            "body": "<img src=x onerror=alert(1)>",
        },
    )
    assert response.status_code == 200
    assert "<script>alert(1)</script>" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text
    assert "<img src=x" not in response.text


def test_a_form_error_keeps_what_was_typed(world: World) -> None:
    csrf = _login(world, "editor_a")
    response = world.client.post(
        "/bulletins/new",
        data={"csrf_token": csrf, "commune_id": world.commune_a, "title": "", "body": "Nội dung đã gõ dài"},
    )
    assert response.status_code == 422
    assert "Vui lòng nhập tiêu đề" in response.text
    assert "Nội dung đã gõ dài" in response.text


def test_editor_schedules_an_approved_bulletin_one_minute_ahead(world: World) -> None:
    bulletin = approved_bulletin(world)
    csrf = _login(world, "editor_a")
    page = world.client.get(f"/bulletins/{bulletin['id']}")
    assert "Lên lịch phát" in page.text and "Sau 1 phút nữa" in page.text
    response = world.client.post(
        f"/bulletins/{bulletin['id']}/schedule",
        data={"csrf_token": csrf, "target_zone_id": world.village_a1, "when": "soon"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert any(topic.endswith("box-a1/timeline") for topic, _p, _r in world.published)
    bad = world.client.post(
        f"/bulletins/{bulletin['id']}/schedule",
        data={
            "csrf_token": csrf,
            "target_zone_id": world.village_a1,
            "when": "at",
            "date": "01/01/2020",
            "time": "06:30",
        },
    )
    assert bad.status_code == 422 and "tương lai" in bad.text, re.findall(r"role=.alert.>([^<]*)", bad.text)
    typo = world.client.post(
        f"/bulletins/{bulletin['id']}/schedule",
        data={
            "csrf_token": csrf,
            "target_zone_id": world.village_a1,
            "when": "at",
            "date": "31/02/2030",
            "time": "25:00",
        },
    )
    assert typo.status_code == 422 and "dd/mm/yyyy" in typo.text
    assert 'value="31/02/2030"' in typo.text  # what was typed stays in the form


def test_wall_clock_schedule_is_read_in_vietnam_time(world: World) -> None:
    bulletin = approved_bulletin(world)
    csrf = _login(world, "editor_a")
    response = world.client.post(
        f"/bulletins/{bulletin['id']}/schedule",
        data={
            "csrf_token": csrf,
            "target_zone_id": world.village_a1,
            "when": "at",
            "date": "01/01/2099",
            "time": "06:30",
        },
    )
    assert response.status_code == 422 and "ngày tới" in response.text  # beyond the horizon, but parsed
    far = (datetime.now(UTC) + timedelta(days=2)).astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
    response = world.client.post(
        f"/bulletins/{bulletin['id']}/schedule",
        data={
            "csrf_token": csrf,
            "target_zone_id": world.village_a1,
            "when": "at",
            "date": far.strftime("%d/%m/%Y"),
            "time": "06:30",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    schedules = world.client.get("/api/v1/schedules", headers=world.token("editor_a")).json()
    starts = datetime.fromisoformat(schedules[0]["starts_at"])
    assert starts.astimezone(UTC).strftime("%H:%M") == "23:30"  # 06:30 in Hà Nội is 23:30 UTC the day before


def test_logout_ends_the_session(world: World) -> None:
    csrf = _login(world, "auditor")
    assert world.client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    assert world.client.get("/asrun", follow_redirects=False).status_code == 303
