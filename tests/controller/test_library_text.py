"""The pure library's sentences (clashes, policy breaches, playlist problems) in the reader's language:
Vietnamese as before by default, English for a reader who chose it, in pages, API answers and errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select

from controller import i18n
from controller.library_text import MESSAGES, words
from controller.models import AuditEvent, Playlist, Zone
from playlists.policy import Window, ZonePolicy
from playlists.texts import ENGLISH, Text
from tests.controller.conftest import World, make_world
from tests.controller.i18n_support import vietnamese_literals
from tests.controller.planning_support import approved, daily_form, login, user_id

VN = ZoneInfo("Asia/Ho_Chi_Minh")
DAY = date(2026, 12, 1)
# One text of each code, with its Vietnamese wording as the library wrote it before it had codes.
BEFORE = [
    (Text.of("compile.quiet_hours", window="21:00–05:30"), "Trùng giờ yên tĩnh 21:00–05:30."),
    (Text("compile.clash"), "Trùng giờ với một lịch phát được ưu tiên hơn."),
    (
        Text.of("policy.quiet_hours", at=datetime(2026, 12, 1, 22, 15, tzinfo=VN), window="21:00–05:30"),
        "Buổi phát lúc 22:15 01/12/2026 trùng giờ yên tĩnh 21:00–05:30.",
    ),
    (Text.of("policy.max_sessions", day=DAY, limit=3), "Ngày 01/12/2026 vượt quá 3 buổi phát."),
    (Text.of("policy.max_minutes", day=DAY, limit=30), "Ngày 01/12/2026 vượt quá 30 phút phát."),
    (Text("playlist.too_deep"), "Danh sách phát lồng nhau quá sâu."),
    (Text.of("playlist.bulletin_missing", id=7), "Không tìm thấy bản tin số 7."),
    (Text.of("playlist.bulletin_unapproved", id=7), "Bản tin số 7 chưa được duyệt nên chưa phát được."),
    (Text("playlist.chime_missing"), "Không tìm thấy nhạc hiệu."),
    (Text("playlist.loop"), "Danh sách phát chứa chính nó (vòng lặp)."),
    (Text.of("playlist.playlist_missing", id=9), "Không tìm thấy danh sách phát số 9."),
]


def test_every_code_of_the_library_has_a_message_id_and_a_sample_here() -> None:
    assert set(MESSAGES) == set(ENGLISH) == {text.code for text, _vi in BEFORE}


@pytest.mark.parametrize(("text", "vietnamese"), BEFORE, ids=lambda v: getattr(v, "code", ""))
def test_library_texts_read_as_before_in_vietnamese_and_as_their_english_in_english(
    text: Text, vietnamese: str
) -> None:
    assert words(text) == vietnamese  # outside a request: Vietnamese
    with i18n.use_language("en"):
        assert words(text) == str(text)


def test_the_library_itself_writes_no_vietnamese_sentence() -> None:
    root = Path(__file__).resolve().parents[2] / "playlists"
    for name in ("compiler.py", "policy.py", "playlist.py", "texts.py"):
        assert vietnamese_literals(root / name) == []


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from make_world(Path(tmp_path_factory.mktemp("library-text")))


@pytest.fixture
def quiet_noon(world: World) -> Iterator[int]:
    """Village A1 keeps quiet hours 11:30–13:30; yields an approved bulletin of commune A."""
    policy = ZonePolicy(quiet_hours=(Window(start=time(11, 30), end=time(13, 30)),))
    with world.session() as session:
        village = session.get(Zone, world.village_a1)
        assert village is not None
        village.policy_json = policy.model_dump_json()
        session.add(village)
        session.commit()
        bulletin = approved(session, commune_id=world.commune_a, title="Lịch tiêm phòng", seconds=60)
    yield bulletin.id or 0
    world.client.cookies.delete(i18n.COOKIE)


def _tomorrow() -> str:
    return ((datetime.now(UTC) + timedelta(hours=7)).date() + timedelta(days=1)).isoformat()


def test_the_api_says_a_policy_break_in_the_readers_language(world: World, quiet_noon: int) -> None:
    rule = {"kind": "daily", "start_date": _tomorrow(), "times": ["12:00"]}
    body = {"bulletin_id": quiet_noon, "target_zone_id": world.village_a1, "rule": rule}
    editor = world.token("editor_a")
    checked = world.client.post("/api/v1/schedules/check", headers=editor, json=body).json()
    assert checked["violations"][0]["message"] == "Trùng giờ yên tĩnh 11:30–13:30."
    world.client.cookies.set(i18n.COOKIE, "en")
    checked = world.client.post("/api/v1/schedules/check", headers=editor, json=body).json()
    assert checked["violations"][0]["message"] == "Falls in quiet hours 11:30–13:30."
    refused = world.client.post("/api/v1/schedules", headers=editor, json=body)
    assert refused.status_code == 422
    assert (
        refused.json()["detail"] == "The schedule breaks the area's rules: Falls in quiet hours 11:30–13:30."
    )
    assert refused.json()["report"]["violations"][0]["message"] == "Falls in quiet hours 11:30–13:30."


def test_the_schedule_form_shows_a_policy_break_in_english(world: World, quiet_noon: int) -> None:
    csrf = login(world, "editor_a")
    world.client.cookies.set(i18n.COOKIE, "en")
    form = daily_form(world, csrf, what=f"bulletin:{quiet_noon}", times="12:00")
    checked = world.client.post(
        "/schedules/new", data={**form, "op": "check"}, headers={"HX-Request": "true"}
    )
    assert checked.status_code == 200 and "(Falls in quiet hours 11:30–13:30.)" in checked.text
    assert "yên tĩnh" not in checked.text
    refused = world.client.post("/schedules/new", data={**form, "op": "save"})
    assert refused.status_code == 422 and "Falls in quiet hours 11:30–13:30." in refused.text


def test_an_emergencys_override_is_logged_in_vietnamese_whoever_saves_it(
    world: World, quiet_noon: int
) -> None:
    world.client.cookies.set(i18n.COOKIE, "en")
    rule = {"kind": "once", "at": f"{_tomorrow()}T12:30:00+07:00"}
    body = {
        "bulletin_id": quiet_noon,
        "target_zone_id": world.village_a1,
        "rule": rule,
        "priority": "emergency",
    }
    saved = world.client.post("/api/v1/schedules", headers=world.token("approver_a"), json=body)
    assert saved.status_code == 201, saved.text
    with world.session() as session:
        created = select(AuditEvent).where(AuditEvent.action == "schedule.create")
        event = session.exec(created.order_by(col(AuditEvent.id).desc())).first()
    assert event is not None
    assert json.loads(event.detail or "{}")["policy_override"] == ["Trùng giờ yên tĩnh 11:30–13:30."]


def test_a_playlist_that_cannot_play_is_refused_in_the_readers_language(world: World) -> None:
    editor = world.token("editor_a")
    playlist = {
        "name": "Thiếu bản tin",
        "commune_id": world.commune_a,
        "entries": [{"kind": "bulletin", "bulletin_id": 99999}],
    }
    refused = world.client.post("/api/v1/playlists", headers=editor, json=playlist)
    assert refused.status_code == 422 and refused.json()["detail"] == "Không tìm thấy bản tin số 99999."
    world.client.cookies.set(i18n.COOKIE, "en")
    try:
        refused = world.client.post("/api/v1/playlists", headers=editor, json=playlist)
    finally:
        world.client.cookies.delete(i18n.COOKIE)
    assert refused.status_code == 422 and refused.json()["detail"] == "Bulletin no. 99999 not found."


def test_the_playlist_page_says_why_an_item_cannot_air_in_the_readers_language(world: World) -> None:
    chime = {"kind": "chime", "media_sha256": "f" * 64}  # a chime file that is no longer stored
    with world.session() as session:
        playlist = Playlist(
            name="Nhạc hiệu cũ",
            commune_id=world.commune_a,
            created_by=user_id(session, "editor_a"),
            entries_json=json.dumps([chime]),
        )
        session.add(playlist)
        session.commit()
        path = f"/playlists/{playlist.id}"
    login(world, "editor_a")
    assert "Không tìm thấy nhạc hiệu." in world.client.get(path).text
    world.client.cookies.set(i18n.COOKIE, "en")
    try:
        page = world.client.get(path)
    finally:
        world.client.cookies.delete(i18n.COOKIE)
    assert page.status_code == 200 and '<span class="problem">Chime not found.</span>' in page.text
