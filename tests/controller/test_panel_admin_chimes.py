"""Chimes uploaded in the panel: checked by ffmpeg, kept by hash, used for the commune's bulletins."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sqlmodel import select

from controller import chimes
from controller.errors import InvalidInput
from controller.models import Media, Zone, ZoneChime
from tests.controller.conftest import World, approved_bulletin
from tests.controller.test_device_pages import panel_login


def _tone(path: Path, seconds: float, *, silent: bool = False) -> Path:
    source = "anullsrc=r=48000:cl=mono" if silent else "sine=frequency=880:sample_rate=48000"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", source, "-t", str(seconds), str(path)],
        check=True,
    )
    return path


def _upload(world: World, csrf: str, zone_id: int, data: bytes, *, which: str = "opening") -> object:
    return world.client.post(
        "/chimes",
        data={"csrf_token": csrf, "zone_id": str(zone_id), "which": which},
        files={"file": ("chuong.wav", data, "audio/wav")},
        follow_redirects=False,
    )


def _rows(world: World) -> list[ZoneChime]:
    with world.session() as session:
        return list(session.exec(select(ZoneChime)).all())


def test_a_communes_own_chime_opens_its_bulletins(world: World, tmp_path: Path) -> None:
    csrf = panel_login(world, "editor_a")
    chime = _tone(tmp_path / "chime.wav", 4.0).read_bytes()
    response = _upload(world, csrf, world.commune_a, chime)
    assert response.status_code == 303, response.text  # type: ignore[attr-defined]
    [row] = _rows(world)
    assert (row.zone_id, row.which, row.name) == (world.commune_a, "opening", "chuong.wav")
    assert 3900 <= row.duration_ms <= 4100
    assert world.services.store.path_for(row.sha256).read_bytes() == chime  # backed up with the media
    page = world.client.get("/chimes").text
    assert "chuong.wav" in page and f'src="/chimes/{world.commune_a}/opening"' in page
    assert world.client.get(f"/chimes/{world.commune_a}/opening").content == chime
    ours = approved_bulletin(world)
    theirs = approved_bulletin(world, editor="editor_b", approver="approver_b", commune=world.commune_b)
    with world.session() as session:
        a, b = (session.get(Media, str(x["media_sha256"])) for x in (ours, theirs))
    assert a is not None and b is not None and a.sha256 != b.sha256
    assert a.duration_ms > b.duration_ms + 1500  # 4 s of tone instead of the generated bell


def test_a_bad_file_is_refused_in_plain_words_and_the_chime_in_use_stays(
    world: World, tmp_path: Path
) -> None:
    csrf = panel_login(world, "admin")
    good = _tone(tmp_path / "good.wav", 1.0).read_bytes()
    assert _upload(world, csrf, world.commune_b, good).status_code == 303  # type: ignore[attr-defined]
    [before] = _rows(world)
    corrupt = _upload(world, csrf, world.commune_b, good[:44] + b"\xff\x00garbage" * 2000)
    assert corrupt.status_code == 422  # type: ignore[attr-defined]
    text = corrupt.text  # type: ignore[attr-defined]
    assert 'id="file-error"' in text and "không phải tệp âm thanh mà máy chủ đọc được" in text
    assert f'<option value="{world.commune_b}" selected>' in text  # the choice made stays
    not_audio = _upload(world, csrf, world.commune_b, b"%PDF-1.4 not a sound")
    assert not_audio.status_code == 422 and "không phải tệp âm thanh" in not_audio.text  # type: ignore[attr-defined]
    too_big = _upload(world, csrf, world.commune_b, b"\0" * (chimes.MAX_CHIME_MB * 1024 * 1024 + 10))
    assert too_big.status_code == 413  # type: ignore[attr-defined]
    assert _rows(world) == [before]


def test_silent_and_long_files_are_no_chimes(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"im lặng|silent") as silent:
        chimes.check_chime(_tone(tmp_path / "silent.wav", 2.0, silent=True))
    assert silent.value.field == "file"
    with pytest.raises(InvalidInput) as long:
        chimes.check_chime(_tone(tmp_path / "long.ogg", chimes.MAX_CHIME_S + 2))
    assert long.value.params["length"] == "32"


def test_a_commune_editor_sets_only_its_own_communes_chime(world: World, tmp_path: Path) -> None:
    chime = _tone(tmp_path / "c.wav", 1.0).read_bytes()
    csrf = panel_login(world, "editor_a")
    assert _upload(world, csrf, world.commune_b, chime).status_code == 404  # type: ignore[attr-defined]
    with world.session() as session:
        province = session.exec(select(Zone).where(Zone.kind == "province")).first()
        assert province is not None
    assert _upload(world, csrf, province.id or 0, chime).status_code == 404  # type: ignore[attr-defined]
    assert _rows(world) == []
    panel_login(world, "approver_a")
    assert world.client.get("/chimes").status_code == 403
