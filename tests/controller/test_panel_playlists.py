"""Playlist pages: the commune's playlists only, composing without JavaScript (add, move, remove),
a saved order that stays, the total playing time, errors that keep the list, guarded deletion."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.models import Playlist
from tests.controller.conftest import World, make_world
from tests.controller.planning_support import approved, login


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from make_world(Path(tmp_path_factory.mktemp("playlists")))


def _entries(html: str) -> list[dict[str, object]]:
    """The items of the editor, in their order on the page."""
    return [json.loads(v.replace("&#34;", '"')) for v in re.findall(r'name="entry" value="([^"]*)"', html)]


def _stored(world: World, playlist_id: int) -> list[dict[str, object]]:
    with world.session() as session:
        playlist = session.get(Playlist, playlist_id)
        assert playlist is not None
        return list(json.loads(playlist.entries_json))


def test_composing_a_playlist_without_javascript_and_saving_its_order(world: World) -> None:
    with world.session() as session:
        first = approved(session, commune_id=world.commune_a, title="Luật Đất đai", seconds=60)
        second = approved(session, commune_id=world.commune_a, title="<i>Phòng cháy</i>", seconds=30)
        approved(session, commune_id=world.commune_b, title="Tin xã khác")
    csrf = login(world, "editor_a")
    new = world.client.get("/playlists/new")
    assert new.status_code == 200 and "Luật Đất đai" in new.text and "Tin xã khác" not in new.text
    form = {"csrf_token": csrf, "name": "Buổi sáng thứ Hai", "commune_id": str(world.commune_a)}
    page = world.client.post("/playlists/new", data={**form, "op": "add", "add_bulletin_id": str(first.id)})
    items = [json.dumps(e) for e in _entries(page.text)]
    page = world.client.post(
        "/playlists/new", data={**form, "entry": items, "op": "add", "add_bulletin_id": str(second.id)}
    )
    items = [json.dumps(e) for e in _entries(page.text)]
    page = world.client.post(
        "/playlists/new", data={**form, "entry": items, "op": "pause", "pause_seconds": "5"}
    )
    assert 'value="Buổi sáng thứ Hai"' in page.text and "1:35" in page.text  # 60 s + 30 s + 5 s
    assert "&lt;i&gt;Phòng cháy&lt;/i&gt;" in page.text and "<i>Phòng cháy" not in page.text
    items = [json.dumps(e) for e in _entries(page.text)]
    moved = world.client.post("/playlists/new", data={**form, "entry": items, "op": "up-1"})
    assert "vị trí 1/3" in moved.text  # said in the aria-live status line
    assert [e.get("bulletin_id") for e in _entries(moved.text)] == [second.id, first.id, None]
    items = [json.dumps(e) for e in _entries(moved.text)]
    saved = world.client.post(
        "/playlists/new", data={**form, "entry": items, "op": "save"}, follow_redirects=False
    )
    assert saved.status_code == 303
    playlist_id = int(saved.headers["location"].split("/")[2].split("?")[0])
    assert [e.get("bulletin_id") for e in _stored(world, playlist_id)] == [second.id, first.id, None]
    # A drag and drop only reorders the page; saving sends the new order, which stays.
    dragged = [items[2], items[1], items[0]]
    resaved = world.client.post(
        f"/playlists/{playlist_id}", data={**form, "entry": dragged, "op": "save"}, follow_redirects=False
    )
    assert resaved.status_code == 303
    assert [e.get("kind") for e in _stored(world, playlist_id)] == ["silence", "bulletin", "bulletin"]
    shown = world.client.get(f"/playlists/{playlist_id}")
    assert [e.get("bulletin_id") for e in _entries(shown.text)] == [None, first.id, second.id]
    listed = world.client.get("/playlists").text
    assert "Buổi sáng thứ Hai" in listed and "1:35" in listed


def test_errors_keep_the_list_and_say_what_to_fix(world: World) -> None:
    with world.session() as session:
        bulletin = approved(session, commune_id=world.commune_a, title="Tin giữ lại", seconds=45)
    csrf = login(world, "editor_a")
    entry = json.dumps({"kind": "bulletin", "bulletin_id": bulletin.id})
    form = {"csrf_token": csrf, "name": "  ", "commune_id": str(world.commune_a), "entry": [entry]}
    unnamed = world.client.post("/playlists/new", data={**form, "op": "save"})
    assert unnamed.status_code == 422 and "Vui lòng đặt tên" in unnamed.text
    assert re.search(r'id="name" name="name" value="  "[^>]*aria-invalid="true"', unnamed.text)
    assert [e["bulletin_id"] for e in _entries(unnamed.text)] == [bulletin.id]
    empty = world.client.post("/playlists/new", data={**form, "name": "Trống", "entry": [], "op": "save"})
    assert empty.status_code == 422 and "ít nhất một mục" in empty.text
    long_pause = world.client.post("/playlists/new", data={**form, "op": "pause", "pause_seconds": "9999"})
    assert long_pause.status_code == 422 and 'value="9999"' in long_pause.text
    assert (
        world.client.post("/playlists/new", data={**form, "csrf_token": "x", "op": "save"}).status_code == 403
    )


def test_playlists_belong_to_their_commune_and_deletion_is_guarded(world: World) -> None:
    with world.session() as session:
        bulletin = approved(session, commune_id=world.commune_b, title="Tin xã B", seconds=20)
    editor_b = world.token("editor_b")
    created = world.client.post(
        "/api/v1/playlists",
        json={
            "name": "Danh sách xã B",
            "commune_id": world.commune_b,
            "entries": [{"kind": "bulletin", "bulletin_id": bulletin.id}],
        },
        headers=editor_b,
    )
    assert created.status_code == 201
    playlist_id = created.json()["id"]
    csrf = login(world, "editor_a")
    assert "Danh sách xã B" not in world.client.get("/playlists").text
    assert world.client.get(f"/playlists/{playlist_id}").status_code == 404
    assert world.client.post(f"/playlists/{playlist_id}/delete", data={"csrf_token": csrf}).status_code == 404
    login(world, "auditor")
    read_only = world.client.get(f"/playlists/{playlist_id}")
    assert (
        read_only.status_code == 200 and "Tin xã B" in read_only.text and 'name="entry"' not in read_only.text
    )
    login(world, "tech")
    assert world.client.get("/playlists").status_code == 403
    csrf = login(world, "editor_b")
    schedule = world.client.post(
        "/api/v1/schedules",
        json={"playlist_id": playlist_id, "target_zone_id": world.village_b1, "in_seconds": 3600},
        headers=editor_b,
    )
    assert schedule.status_code == 201, schedule.text
    refused = world.client.post(f"/playlists/{playlist_id}/delete", data={"csrf_token": csrf})
    assert refused.status_code == 422 and "hủy lịch phát đó trước" in refused.text
    spare = world.client.post(
        "/api/v1/playlists",
        json={
            "name": "Nháp",
            "commune_id": world.commune_b,
            "entries": [{"kind": "silence", "duration_ms": 1000}],
        },
        headers=editor_b,
    ).json()["id"]
    gone = world.client.post(f"/playlists/{spare}/delete", data={"csrf_token": csrf}, follow_redirects=False)
    assert gone.status_code == 303 and world.client.get(f"/playlists/{spare}").status_code == 404
