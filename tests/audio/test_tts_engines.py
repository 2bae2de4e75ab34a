from __future__ import annotations

import io
import wave
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

import audio.tts
from audio import EspeakNgEngine, PiperEngine, TtsEngine, TtsError, engine_names, get_engine
from audio.testing import FakeTtsEngine
from audio.tts import ENTRY_POINT_GROUP, join_wavs, split_into_chunks


def _plugin(name: str, value: str) -> EntryPoint:
    return EntryPoint(name=name, value=value, group=ENTRY_POINT_GROUP)


def test_built_in_engines_are_registered_like_plugins() -> None:
    assert engine_names() == ["espeak-ng", "piper"]
    assert isinstance(get_engine("espeak-ng"), EspeakNgEngine)
    assert isinstance(get_engine("piper", model_path=Path("voice.onnx")), PiperEngine)


def test_an_installed_plugin_is_found_by_its_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    found = [_plugin("fake", "audio.testing:FakeTtsEngine")]
    monkeypatch.setattr(audio.tts, "entry_points", lambda group: found if group == ENTRY_POINT_GROUP else [])

    engine: TtsEngine = get_engine("fake")

    assert isinstance(engine, FakeTtsEngine)
    assert engine_names() == ["espeak-ng", "fake", "piper"]


def test_a_plugin_cannot_take_over_a_built_in_name(monkeypatch: pytest.MonkeyPatch) -> None:
    found = [_plugin("espeak-ng", "audio.testing:FakeTtsEngine")]
    monkeypatch.setattr(audio.tts, "entry_points", lambda group: found)

    assert isinstance(get_engine("espeak-ng"), EspeakNgEngine)


def test_unknown_or_unbuildable_engines_are_clear_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = [_plugin("broken", "no_such_module:Engine")]
    monkeypatch.setattr(audio.tts, "entry_points", lambda group: broken)

    with pytest.raises(
        TtsError, match="unknown TTS engine 'festival'; known engines: broken, espeak-ng, piper"
    ):
        get_engine("festival")
    with pytest.raises(TtsError, match="'broken' cannot be loaded"):
        get_engine("broken")
    with pytest.raises(TtsError, match="'piper' cannot be built"):
        get_engine("piper")


def test_text_is_cut_at_sentence_ends_and_chunks_keep_their_sentence_numbers() -> None:
    text = "Một. Hai! Ba? Bốn… Năm: 7.30 giờ. Sáu (xong.) Bảy"

    assert [c.text for c in split_into_chunks(text, max_chars=1)] == [
        "Một.",
        "Hai!",
        "Ba?",
        "Bốn…",
        "Năm: 7.30 giờ.",
        "Sáu (xong.)",
        "Bảy",
    ]
    chunks = split_into_chunks(text, max_chars=20)
    assert " ".join(c.text for c in chunks) == text
    assert [(c.first_sentence, c.last_sentence) for c in chunks] == [(1, 4), (5, 5), (6, 7)]
    assert split_into_chunks("   ") == []


def test_wav_parts_join_in_order_and_must_share_a_format() -> None:
    engine = FakeTtsEngine()
    a, b = engine.synthesize("một hai ba bốn năm sáu bảy"), engine.synthesize("tám chín mười")

    joined = join_wavs([a, b])

    frames = []
    for data in (a, b, joined):
        with wave.open(io.BytesIO(data), "rb") as wav:
            frames.append(wav.getnframes())
    assert frames[2] == frames[0] + frames[1]
    other = io.BytesIO()
    with wave.open(other, "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(b"\0" * 400)
    with pytest.raises(TtsError, match="different formats"):
        join_wavs([a, other.getvalue()])
