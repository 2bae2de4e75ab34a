from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from audio import (
    EspeakNgEngine,
    MediaStore,
    ProcessingSettings,
    RenderCache,
    TtsError,
    cached_render,
    measure_loudness,
    probe,
    render_text,
)
from audio.testing import FakeTtsEngine

pytestmark = pytest.mark.integration

SENTENCE = "Kính thưa bà con nhân dân, xã thông báo lịch tiêm phòng."
PLAIN = ProcessingSettings(chimes=False)


def test_render_text_stores_a_mono_48_khz_ogg_opus_named_by_its_hash(
    espeak: EspeakNgEngine, store: MediaStore
) -> None:
    media = render_text(SENTENCE, engine=espeak, store=store)

    path = store.path_for(media.sha256)
    found = probe(path)
    assert (found.format_name, found.codec, found.channels, found.sample_rate) == ("ogg", "opus", 1, 48000)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == media.sha256
    assert (media.mime, media.codec, media.bytes) == ("audio/ogg", "opus", path.stat().st_size)
    assert media.duration_ms == found.duration_ms
    assert 5000 < media.duration_ms < 20000  # speech and the two chimes
    # About 32 kb/s: the whole file, headers included, stays within 45 kb/s.
    assert media.bytes * 8 / media.duration_ms < 45


def test_measured_loudness_is_stored_with_the_media(
    espeak: EspeakNgEngine, store: MediaStore, independent_lufs: Callable[[Path], float]
) -> None:
    media = render_text(SENTENCE, engine=espeak, store=store)

    ours = measure_loudness(store.path_for(media.sha256))
    assert (media.lufs, media.true_peak_dbtp) == (ours.integrated_lufs, ours.true_peak_dbtp)
    assert abs(media.lufs - -16.0) <= 1.0
    assert abs(independent_lufs(store.path_for(media.sha256)) - media.lufs) <= 0.5


def test_mp3_is_an_option(espeak: EspeakNgEngine, store: MediaStore) -> None:
    media = render_text(SENTENCE, engine=espeak, store=store, settings=ProcessingSettings(codec="mp3"))

    found = probe(store.path_for(media.sha256))
    assert (found.codec, found.channels, found.sample_rate) == ("mp3", 1, 48000)
    assert (media.mime, media.codec) == ("audio/mpeg", "mp3")
    assert abs(media.lufs - -16.0) <= 1.0


def test_chimes_open_and_close_the_bulletin(espeak: EspeakNgEngine, store: MediaStore) -> None:
    plain = render_text(SENTENCE, engine=espeak, store=store, settings=PLAIN)
    chimed = render_text(SENTENCE, engine=espeak, store=store)

    # Two generated chimes of 1.84 s, each 0.4 s from the speech.
    assert 4000 < chimed.duration_ms - plain.duration_ms < 5000


def test_rendering_the_same_text_twice_gives_the_same_file(espeak: EspeakNgEngine, tmp_path: Path) -> None:
    first = render_text(SENTENCE, engine=espeak, store=MediaStore(tmp_path / "a"))
    second = render_text(SENTENCE, engine=espeak, store=MediaStore(tmp_path / "b"))

    assert first == second


def test_accent_and_speed_reach_the_engine(espeak: EspeakNgEngine, store: MediaStore) -> None:
    central = render_text(SENTENCE, engine=espeak, store=store, settings=PLAIN)
    south = render_text(SENTENCE, engine=espeak, store=store, accent="south", settings=PLAIN)
    slow = render_text(SENTENCE, engine=espeak, store=store, speed=100, settings=PLAIN)

    assert len({central.sha256, south.sha256, slow.sha256}) == 3
    assert slow.duration_ms > central.duration_ms


def test_text_is_prepared_before_it_is_spoken(store: MediaStore) -> None:
    engine = FakeTtsEngine()

    render_text("Xin chào\n\n  bà   con\x07", engine=engine, store=store, accent="north", speed=120)

    assert engine.calls == [("Xin chào. Bà con.", "north", 120)] or engine.calls == [
        ("Xin chào. bà con.", "north", 120)
    ]


@pytest.mark.parametrize("text", ["", "  \n\n ", "\x00\u200b"])
def test_blank_text_raises_and_stores_nothing(espeak: EspeakNgEngine, store: MediaStore, text: str) -> None:
    with pytest.raises(TtsError, match="empty"):
        render_text(text, engine=espeak, store=store)

    assert not store.root.exists() or not any(p.is_file() for p in store.root.rglob("*"))


def test_an_unchanged_bulletin_is_rendered_once(store: MediaStore) -> None:
    engine, cache = FakeTtsEngine(), RenderCache.beside(store)

    first = render_text("Xin chào bà con.", engine=engine, store=store, cache=cache)
    again = render_text("Xin chào bà con.", engine=engine, store=store, cache=cache)

    assert again == first
    assert len(engine.calls) == 1
    index = json.loads((store.root / "render-cache.json").read_text(encoding="utf-8"))
    assert [entry["sha256"] for entry in index["entries"].values()] == [first.sha256]


def test_what_was_rendered_before_is_found_without_rendering(store: MediaStore) -> None:
    engine, cache = FakeTtsEngine(), RenderCache.beside(store)
    assert cached_render("Xin chào bà con.", engine=engine, store=store, cache=cache) is None

    rendered = render_text("Xin chào bà con.", engine=engine, store=store, cache=cache, speed=140)

    assert cached_render("Xin chào bà con.", engine=engine, store=store, cache=cache, speed=140) == rendered
    assert cached_render("Xin chào bà con.", engine=engine, store=store, cache=cache) is None
    assert len(engine.calls) == 1


def test_any_change_that_shapes_the_sound_renders_again(store: MediaStore) -> None:
    engine, cache = FakeTtsEngine(), RenderCache.beside(store)
    render_text("Xin chào bà con.", engine=engine, store=store, cache=cache, settings=PLAIN)

    render_text("Xin chào cả xã.", engine=engine, store=store, cache=cache, settings=PLAIN)
    render_text("Xin chào bà con.", engine=engine, store=store, cache=cache, settings=PLAIN, accent="south")
    render_text("Xin chào bà con.", engine=engine, store=store, cache=cache, settings=PLAIN, speed=120)
    quieter = ProcessingSettings(chimes=False, target_lufs=-20.0)
    render_text("Xin chào bà con.", engine=engine, store=store, cache=cache, settings=quieter)

    assert len(engine.calls) == 5  # settings' own key is tested in test_processing_settings


def test_a_cached_file_that_left_the_store_is_rendered_again(store: MediaStore) -> None:
    engine, cache = FakeTtsEngine(), RenderCache.beside(store)
    first = render_text("Xin chào bà con.", engine=engine, store=store, cache=cache)
    store.path_for(first.sha256).unlink()

    again = render_text("Xin chào bà con.", engine=engine, store=store, cache=cache)

    assert again == first and store.has(first.sha256)
    assert len(engine.calls) == 2
