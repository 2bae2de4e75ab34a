from __future__ import annotations

import io
import wave
from array import array

import pytest

from audio import ACCENTS, EspeakNgEngine, TtsEngine, TtsError, get_engine

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


def test_registry_builds_espeak_and_names_the_known_engines() -> None:
    engine: TtsEngine = get_engine("espeak-ng")

    assert engine.name == "espeak-ng"
    with pytest.raises(TtsError, match="known engines: espeak-ng"):
        get_engine("piper")
