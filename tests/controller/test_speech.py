"""The province lexicon, the spoken-form preview and uploaded recordings, through the API."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from audio import make_tone
from controller.models import Media
from tests.controller.conftest import World


def test_preview_uses_the_province_lexicon_and_flags_unknown_abbreviations(world: World) -> None:
    editor, admin = world.token("editor_a"), world.token("admin")
    text = "UBND xã và BCĐQZ thông báo."
    before = world.client.post("/api/v1/normalize", headers=editor, json={"text": text}).json()
    assert "Ủy ban nhân dân" in before["spoken"]
    assert before["unknown"] == ["BCĐQZ"]
    assert (
        world.client.put(
            "/api/v1/lexicon",
            headers=editor,
            json={"kind": "abbreviation", "term": "BCĐQZ", "spoken": "ban chỉ đạo"},
        ).status_code
        == 403
    )
    saved = world.client.put(
        "/api/v1/lexicon",
        headers=admin,
        json={"kind": "abbreviation", "term": "BCĐQZ", "spoken": "ban chỉ đạo quân sự"},
    )
    assert saved.status_code == 200, saved.text
    after = world.client.post("/api/v1/normalize", headers=editor, json={"text": text}).json()
    assert after["unknown"] == [] and "ban chỉ đạo quân sự" in after["spoken"]
    bad = world.client.put(
        "/api/v1/lexicon", headers=admin, json={"kind": "abbreviation", "term": "AB CD", "spoken": "x"}
    )
    assert bad.status_code == 422


def test_lexicon_changes_do_not_touch_approved_audio(world: World) -> None:
    from tests.controller.conftest import approved_bulletin

    bulletin = approved_bulletin(world)
    world.client.put(
        "/api/v1/lexicon",
        headers=world.token("admin"),
        json={"kind": "pronunciation", "term": "Tiêm", "spoken": "chích"},
    )
    again = world.client.get(f"/api/v1/bulletins/{bulletin['id']}", headers=world.token("editor_a")).json()
    assert again["media_sha256"] == bulletin["media_sha256"]
    assert again["text_sha256"] == bulletin["text_sha256"]


def _draft(world: World) -> int:
    return int(
        world.client.post(
            "/api/v1/bulletins",
            headers=world.token("editor_a"),
            json={"commune_id": world.commune_a, "title": "Bản tin tiếng Thái", "body": "(ghi âm)"},
        ).json()["id"]
    )


def test_an_uploaded_recording_is_transcoded_loudness_normalised_and_airs_instead_of_speech(
    world: World, tmp_path: Path
) -> None:
    tone = tmp_path / "thai.wav"
    make_tone(tone, seconds=3, dbfs=-35, frequency=440)
    bid = _draft(world)
    editor = world.token("editor_a")
    response = world.client.post(
        f"/api/v1/bulletins/{bid}/recording",
        headers=editor,
        files={"file": ("thai.wav", tone.read_bytes(), "audio/wav")},
    )
    assert response.status_code == 200, response.text
    recording = response.json()["recording_sha256"]
    assert recording != hashlib.sha256(tone.read_bytes()).hexdigest()  # our transcode, never the upload
    with world.session() as session:
        media = session.get(Media, recording)
        assert media is not None and media.lufs is not None
        assert abs(media.lufs - world.services.settings.target_lufs) <= 1.0
        assert media.codec == "opus"
    world.client.post(f"/api/v1/bulletins/{bid}/submit", headers=editor)
    approved = world.client.post(f"/api/v1/bulletins/{bid}/approve", headers=world.token("approver_a")).json()
    assert approved["media_sha256"] == recording


def test_corrupt_and_oversized_uploads_are_refused_in_vietnamese(world: World) -> None:
    bid = _draft(world)
    editor = world.token("editor_a")
    corrupt = world.client.post(
        f"/api/v1/bulletins/{bid}/recording",
        headers=editor,
        files={"file": ("x.mp3", os.urandom(20_000), "audio/mpeg")},
    )
    assert corrupt.status_code == 422
    assert corrupt.json()["field"] == "recording" and corrupt.json()["detail"]
    empty = world.client.post(
        f"/api/v1/bulletins/{bid}/recording", headers=editor, files={"file": ("x.mp3", b"", "audio/mpeg")}
    )
    assert empty.status_code == 422
    world.services.settings = world.services.settings.model_copy(update={"max_upload_mb": 1})
    huge = world.client.post(
        f"/api/v1/bulletins/{bid}/recording",
        headers=editor,
        content=os.urandom(2 * 1024 * 1024),
    )
    assert huge.status_code == 413 and "MB" in huge.json()["detail"]
    assert world.client.get(f"/api/v1/bulletins/{bid}", headers=editor).json()["recording_sha256"] is None
