from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from audio import (
    EspeakNgEngine,
    MediaStore,
    TtsError,
    measure_loudness,
    probe,
    render_text,
)
from audio.testing import FakeTtsEngine

pytestmark = pytest.mark.integration

SENTENCE = "Kính thưa bà con nhân dân, xã thông báo lịch tiêm phòng."


def test_render_text_stores_a_mono_44100_hz_mp3_named_by_its_hash(
    espeak: EspeakNgEngine, store: MediaStore
) -> None:
    media = render_text(SENTENCE, engine=espeak, store=store)

    path = store.path_for(media.sha256)
    found = probe(path)
    assert (found.format_name, found.codec, found.channels, found.sample_rate) == ("mp3", "mp3", 1, 44100)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == media.sha256
    assert media.bytes == path.stat().st_size
    assert media.mime == "audio/mpeg"
    assert 2000 < media.duration_ms < 15000
    assert media.duration_ms == found.duration_ms


def test_rendering_the_same_text_twice_gives_the_same_file(espeak: EspeakNgEngine, tmp_path: Path) -> None:
    first = render_text(SENTENCE, engine=espeak, store=MediaStore(tmp_path / "a"))
    second = render_text(SENTENCE, engine=espeak, store=MediaStore(tmp_path / "b"))

    assert first == second


def test_accent_and_speed_reach_the_engine(espeak: EspeakNgEngine, store: MediaStore) -> None:
    central = render_text(SENTENCE, engine=espeak, store=store)
    south = render_text(SENTENCE, engine=espeak, store=store, accent="south")
    slow = render_text(SENTENCE, engine=espeak, store=store, speed=100)

    assert len({central.sha256, south.sha256, slow.sha256}) == 3
    assert slow.duration_ms > central.duration_ms


def test_rendered_speech_never_exceeds_the_target_or_the_peak_ceiling(
    espeak: EspeakNgEngine, store: MediaStore
) -> None:
    media = render_text(SENTENCE, engine=espeak, store=store)

    loudness = measure_loudness(store.path_for(media.sha256))
    assert loudness.integrated_lufs <= -16.0 + 1.0
    assert loudness.true_peak_dbtp <= -1.0


def test_text_is_prepared_before_it_is_spoken(store: MediaStore) -> None:
    engine = FakeTtsEngine()

    render_text("THÔNG BÁO\n\n  Lịch   tiêm phòng\x07", engine=engine, store=store, accent="north", speed=120)

    assert engine.calls == [("THÔNG BÁO. Lịch tiêm phòng.", "north", 120)]


@pytest.mark.parametrize("text", ["", "  \n\n ", "\x00\u200b"])
def test_blank_text_raises_and_stores_nothing(espeak: EspeakNgEngine, store: MediaStore, text: str) -> None:
    with pytest.raises(TtsError, match="empty"):
        render_text(text, engine=espeak, store=store)

    assert not store.root.exists() or not any(p.is_file() for p in store.root.rglob("*"))


def test_fake_engine_renders_through_the_same_pipeline(store: MediaStore) -> None:
    media = render_text("Xin chào bà con.", engine=FakeTtsEngine(), store=store)

    assert store.has(media.sha256)
    assert probe(store.path_for(media.sha256)).channels == 1
    assert media.duration_ms > 500
