"""The panel in both languages: Vietnamese by default, English after the switch in the page header."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from babel.messages.pofile import read_po

from controller.i18n import LOCALE_DIR
from tests.controller.conftest import PASSWORD, World, approved_bulletin

PAGES = [
    "/",
    "/bulletins",
    "/bulletins/new",
    "/bulletins/{id}",
    "/schedules",
    "/asrun",
    "/devices",
    "/devices/box-a1",
    "/groups",
    "/villages",
    "/registry",
    "/lexicon",
    "/emergency",
    "/voices",
]


@cache
def phrases() -> tuple[tuple[str, str], ...]:
    """(English, Vietnamese) sentences of the catalogue long enough not to occur by chance in data."""
    with (LOCALE_DIR / "vi" / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po, locale="vi")
    pairs = []
    for message in catalog:
        if not isinstance(message.id, str) or not message.id or "%" in message.id or "<" in message.id:
            continue
        if len(message.id) >= 12 and " " in message.id and message.string != message.id:
            pairs.append((message.id, str(message.string)))
    return tuple(pairs)


def _login(world: World, username: str) -> str:
    response = world.client.post(
        "/login", data={"username": username, "password": PASSWORD}, follow_redirects=False
    )
    assert response.status_code == 303
    match = re.search(r'name="csrf_token" value="([^"]+)"', world.client.get("/").text)
    assert match
    return match.group(1)


def _switch(world: World, language: str, next_url: str = "/") -> None:
    response = world.client.get(f"/language/{language}", params={"next": next_url}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == next_url


def test_the_login_page_is_vietnamese_and_offers_english(world: World) -> None:
    page = world.client.get("/login")
    assert '<html lang="vi">' in page.text and "Tên đăng nhập" in page.text
    assert 'href="/language/en?next=%2Flogin" lang="en" hreflang="en">English</a>' in page.text
    switched = world.client.get("/language/en", params={"next": "/login"}, follow_redirects=False)
    assert switched.status_code == 303 and switched.headers["location"] == "/login"
    cookie = switched.headers["set-cookie"]
    assert cookie.startswith("loa_lang=en;") and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    page = world.client.get("/login")
    assert '<html lang="en">' in page.text and "Username" in page.text and "Tên đăng nhập" not in page.text
    assert 'lang="vi" hreflang="vi">Tiếng Việt</a>' in page.text
    wrong = world.client.post("/login", data={"username": "editor_a", "password": "nope"})
    assert wrong.status_code == 401 and "Wrong username or password." in wrong.text


def test_every_main_page_speaks_the_chosen_language(world: World) -> None:
    bulletin = approved_bulletin(world)
    _login(world, "admin")
    for language, other in (("vi", 0), ("en", 1)):
        _switch(world, language)
        for path in PAGES:
            page = world.client.get(path.format(id=bulletin["id"]))
            assert page.status_code == 200, (language, path)
            assert f'<html lang="{language}">' in page.text, (language, path)
            # Sentences of the other language's side of the catalogue: none may show.
            leaks = [pair[other] for pair in phrases() if pair[other] in page.text]
            assert leaks == [], (language, path)
    english = world.client.get("/devices").text
    assert "3 speaker boxes · 0 online" in english and "Never connected" in english
    markers = world.client.get("/devices/_map").json()
    assert markers == [] or all(m["state_label"] == "Never connected" for m in markers)


def test_errors_follow_the_language(world: World) -> None:
    csrf = _login(world, "editor_a")
    _switch(world, "en")
    form = world.client.post(
        "/bulletins/new",
        data={"csrf_token": csrf, "commune_id": world.commune_a, "title": "", "body": "Nội dung đã gõ"},
    )
    assert form.status_code == 422 and "Please type the bulletin&#39;s title." in form.text
    assert "Nội dung đã gõ" in form.text  # what was typed stays
    missing = world.client.get("/bulletins/99999")
    assert missing.status_code == 404 and "<h1>Not found</h1>" in missing.text
    assert "Bulletin not found." in missing.text and "Back to the home page" in missing.text
    forged = world.client.post("/bulletins/new", data={"csrf_token": "forged", "title": "t", "body": "b"})
    assert forged.status_code == 403 and "Your session has changed" in forged.text
    _switch(world, "vi")
    missing = world.client.get("/bulletins/99999")
    assert "<h1>Không tìm thấy</h1>" in missing.text and "Không tìm thấy bản tin." in missing.text


def test_english_pages_keep_vietnamese_dates_and_24_hour_times(world: World) -> None:
    bulletin = approved_bulletin(world)
    csrf = _login(world, "editor_a")
    _switch(world, "en")
    day = (
        (datetime.now(UTC) + timedelta(days=2)).astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).strftime("%d/%m/%Y")
    )
    response = world.client.post(
        f"/bulletins/{bulletin['id']}/schedule",
        data={
            "csrf_token": csrf,
            "target_zone_id": world.village_a1,
            "when": "at",
            "date": day,
            "time": "18:30",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    listed = world.client.get("/schedules").text
    assert f"<td>{day} 18:30</td><td>Once, 18:30 {day}</td>" in listed
    assert "PM" not in listed and "Normal" in listed and "In force" in listed
    detail = world.client.get(f"/bulletins/{bulletin['id']}").text
    assert f"Once, 18:30 {day} · Thôn A1 · Normal" in detail


def test_the_api_speaks_vietnamese_to_clients_without_the_cookie(world: World) -> None:
    response = world.client.post(
        "/api/v1/bulletins",
        json={"commune_id": world.commune_a, "title": "", "body": "x"},
        headers=world.token("editor_a"),
    )
    assert response.status_code == 422
    assert response.json()["title"] == "Dữ liệu không hợp lệ"
    assert response.json()["detail"] == "Vui lòng nhập tiêu đề bản tin."


def test_the_switch_only_sets_a_cookie_and_never_leaves_the_site(world: World) -> None:
    for target in ("https://evil.example/x", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"):
        response = world.client.get("/language/en", params={"next": target}, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/", target
    assert world.client.get("/language/fr", follow_redirects=False).status_code == 404
    kept = world.client.get(
        "/language/en", params={"next": "/devices?state=online&q=a"}, follow_redirects=False
    )
    assert kept.headers["location"] == "/devices?state=online&q=a"
    assert world.client.post("/language/en").status_code == 405  # a GET link, nothing else
