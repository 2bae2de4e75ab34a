from __future__ import annotations

import random
from pathlib import Path

import pytest

from audio import AudioError, MediaStore, make_tone, measure_lufs, probe, render_upload

pytestmark = pytest.mark.integration

TARGET_LUFS = -16.0


def _files(store: MediaStore) -> list[Path]:
    return [p for p in store.root.rglob("*") if p.is_file()] if store.root.exists() else []


@pytest.fixture(scope="module")
def tones(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A quiet mono tone and a loud stereo one, as an uploaded recording might be."""
    folder = tmp_path_factory.mktemp("tones")
    quiet, loud = folder / "quiet.wav", folder / "loud.wav"
    make_tone(quiet, seconds=5, dbfs=-30.0)
    make_tone(loud, seconds=5, dbfs=-6.0, channels=2)
    return {"quiet": quiet, "loud": loud}


def test_quiet_and_loud_uploads_come_out_equally_loud_at_the_target(
    tones: dict[str, Path], store: MediaStore
) -> None:
    assert measure_lufs(tones["loud"]) - measure_lufs(tones["quiet"]) > 20

    quiet = measure_lufs(store.path_for(render_upload(tones["quiet"], store=store).sha256))
    loud = measure_lufs(store.path_for(render_upload(tones["loud"], store=store).sha256))

    assert abs(quiet - loud) <= 2.0
    assert abs(quiet - TARGET_LUFS) <= 2.0
    assert abs(loud - TARGET_LUFS) <= 2.0


def test_upload_honours_another_loudness_target(tones: dict[str, Path], store: MediaStore) -> None:
    media = render_upload(tones["loud"], store=store, target_lufs=-23.0)

    assert abs(measure_lufs(store.path_for(media.sha256)) - -23.0) <= 2.0


def test_upload_becomes_a_mono_44100_hz_mp3_of_the_same_length(
    tones: dict[str, Path], store: MediaStore
) -> None:
    media = render_upload(tones["loud"], store=store)

    found = probe(store.path_for(media.sha256))
    assert (found.codec, found.channels, found.sample_rate) == ("mp3", 1, 44100)
    assert abs(media.duration_ms - 5000) < 100


def test_corrupt_upload_raises_a_clear_error_and_stores_nothing(tmp_path: Path, store: MediaStore) -> None:
    upload = tmp_path / "upload.bin"
    upload.write_bytes(random.Random(7).randbytes(64 * 1024))

    with pytest.raises(AudioError, match=r"^cannot read upload\.bin as audio: Invalid data") as caught:
        render_upload(upload, store=store)

    assert str(tmp_path) not in str(caught.value)
    assert _files(store) == []


def test_upload_without_sound_is_refused(tmp_path: Path, store: MediaStore) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("Kính thưa bà con", encoding="utf-8")

    with pytest.raises(AudioError, match=r"^cannot read notes\.txt as audio"):
        render_upload(notes, store=store)

    assert _files(store) == []


def test_missing_upload_is_reported_by_name(tmp_path: Path, store: MediaStore) -> None:
    with pytest.raises(AudioError, match=r"missing\.wav.*No such file"):
        render_upload(tmp_path / "missing.wav", store=store)
