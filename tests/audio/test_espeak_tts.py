from __future__ import annotations

import io
import wave
from array import array
from pathlib import Path

import pytest

from audio import ACCENTS, EspeakNgEngine, TtsChunkError, TtsError
from audio.tts import split_into_chunks

pytestmark = pytest.mark.integration

SENTENCE = "Kính thưa bà con nhân dân, xã thông báo lịch tiêm phòng."


def _read_wav(data: bytes) -> tuple[float, int, int]:
    """Duration in seconds, channel count and loudest sample of a 16-bit WAV file."""
    with wave.open(io.BytesIO(data), "rb") as wav:
        assert wav.getsampwidth() == 2
        frames = wav.readframes(wav.getnframes())
        samples = array("h", frames)
        return wav.getnframes() / wav.getframerate(), wav.getnchannels(), max(map(abs, samples))


@pytest.mark.parametrize("accent", ACCENTS)
def test_espeak_speaks_a_vietnamese_sentence_in_each_accent(espeak: EspeakNgEngine, accent: str) -> None:
    wav = espeak.synthesize(SENTENCE, accent=accent)

    seconds, channels, loudest = _read_wav(wav)
    assert wav.startswith(b"RIFF")
    assert 2.0 < seconds < 15.0
    assert channels == 1
    assert loudest > 3000  # speech, not silence


def test_the_three_accents_use_different_voices(espeak: EspeakNgEngine) -> None:
    renders = {espeak.synthesize(SENTENCE, accent=accent) for accent in ACCENTS}

    assert len(renders) == len(ACCENTS)


def test_slower_speech_takes_longer(espeak: EspeakNgEngine) -> None:
    slow, _, _ = _read_wav(espeak.synthesize(SENTENCE, speed=100))
    fast, _, _ = _read_wav(espeak.synthesize(SENTENCE, speed=200))

    assert slow > fast * 1.3


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_espeak_refuses_empty_text(espeak: EspeakNgEngine, text: str) -> None:
    with pytest.raises(TtsError, match="empty"):
        espeak.synthesize(text)


def test_espeak_refuses_an_unknown_accent(espeak: EspeakNgEngine) -> None:
    with pytest.raises(TtsError, match="unknown accent 'hue'"):
        espeak.synthesize(SENTENCE, accent="hue")


@pytest.mark.parametrize("speed", [10, 1000])
def test_espeak_refuses_a_speed_out_of_range(espeak: EspeakNgEngine, speed: int) -> None:
    with pytest.raises(TtsError, match="speed"):
        espeak.synthesize(SENTENCE, speed=speed)


def test_a_missing_espeak_binary_is_reported_as_not_installed() -> None:
    engine = EspeakNgEngine(executable="/nonexistent/espeak-ng")

    with pytest.raises(TtsError, match="not installed"):
        engine.synthesize(SENTENCE)


def test_a_long_text_is_spoken_in_chunks_as_one_wav(espeak: EspeakNgEngine) -> None:
    text = " ".join(f"Câu số {n}: {SENTENCE}" for n in range(1, 13))

    whole, _, _ = _read_wav(espeak.synthesize(text))
    one, _, _ = _read_wav(espeak.synthesize(SENTENCE))

    assert len(split_into_chunks(text)) > 2
    assert whole > 10 * one


def test_a_failing_chunk_is_reported_by_its_position(tmp_path: Path) -> None:
    # A real espeak-ng behind a wrapper that refuses one sentence, as a crash on odd input would.
    wrapper = tmp_path / "espeak-ng"
    wrapper.write_text(
        '#!/bin/sh\ntext=$(cat)\ncase "$text" in *HỎNG*) echo "synthesis crashed" >&2; exit 3;; esac\n'
        'printf "%s" "$text" | exec espeak-ng "$@"\n',
        encoding="utf-8",
    )
    wrapper.chmod(0o755)
    sentences = [f"Đây là câu số {n} của bản tin, đọc cho bà con cùng nghe rõ." for n in range(1, 21)]
    sentences[13] = "Câu HỎNG này làm hỏng bộ đọc."
    engine = EspeakNgEngine(executable=str(wrapper), workers=2)

    with pytest.raises(TtsChunkError) as caught:
        engine.synthesize(" ".join(sentences))

    chunk = next(c for c in split_into_chunks(" ".join(sentences)) if "HỎNG" in c.text)
    assert caught.value.chunk == split_into_chunks(" ".join(sentences)).index(chunk) + 1
    assert chunk.first_sentence <= 14 <= chunk.last_sentence
    assert caught.value.chunks > 1
    assert f"sentences {chunk.first_sentence}–{chunk.last_sentence}" in str(caught.value)
    assert "synthesis crashed" in str(caught.value)
