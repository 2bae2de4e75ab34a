"""A fake TTS engine for tests of code that renders bulletins but should not depend on espeak-ng."""

from __future__ import annotations

import io
import math
import struct
import wave

from audio.errors import TtsError
from audio.tts import ACCENTS

_RATE = 16000
_FREQUENCY = {"north": 440.0, "central": 523.25, "south": 659.25}


class FakeTtsEngine:
    """Speaks any text as a tone: 50 ms per character, pitch by accent; records what it was asked."""

    name: str = "fake"

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, int]] = []

    def synthesize(self, text: str, *, accent: str = "central", speed: int = 150) -> bytes:
        """Return a WAV file whose length follows the text, rejecting what the real engines reject."""
        if accent not in ACCENTS:
            raise TtsError(f"unknown accent {accent!r}; expected one of {', '.join(ACCENTS)}")
        if not text.strip():
            raise TtsError("nothing to say: the text is empty")
        self.calls.append((text, accent, speed))
        frames = max(_RATE // 2, len(text) * _RATE // 20)
        step = 2 * math.pi * _FREQUENCY[accent] / _RATE
        samples = struct.pack(f"<{frames}h", *(round(8000 * math.sin(step * i)) for i in range(frames)))
        out = io.BytesIO()
        with wave.open(out, "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(_RATE)
            wav.writeframes(samples)
        return out.getvalue()
