"""Text-to-speech engines behind one small interface, and the registry that names them.

The controller asks ``get_engine(name)`` for an engine; espeak-ng is built in, and a Piper engine
(neural voices from an ONNX file) registers itself in ``engines`` the same way when it is added.
"""

from __future__ import annotations

import logging
import struct
import subprocess
from collections.abc import Callable
from typing import Protocol

from audio.errors import TtsError

logger = logging.getLogger(__name__)

ACCENTS = ("north", "central", "south")

ESPEAK_VOICES: dict[str, str] = {
    "north": "vi",
    "central": "vi-vn-x-central",
    "south": "vi-vn-x-south",
}

# espeak-ng's documented range for -s (words per minute).
MIN_SPEED = 80
MAX_SPEED = 450


class TtsEngine(Protocol):
    """Turns prepared Vietnamese text into speech."""

    name: str

    def synthesize(self, text: str, *, accent: str = "central", speed: int = 150) -> bytes:
        """Return the bytes of a WAV file speaking ``text``."""
        ...


class EspeakNgEngine:
    """The espeak-ng command line with its Vietnamese voices (north, central, south)."""

    name: str = "espeak-ng"

    def __init__(self, *, executable: str = "espeak-ng", timeout_s: float = 300.0) -> None:
        self.executable = executable
        self.timeout_s = timeout_s

    def synthesize(self, text: str, *, accent: str = "central", speed: int = 150) -> bytes:
        """Return the bytes of a WAV file speaking ``text`` with the voice of ``accent``."""
        voice = ESPEAK_VOICES.get(accent)
        if voice is None:
            raise TtsError(f"unknown accent {accent!r}; expected one of {', '.join(ACCENTS)}")
        if not MIN_SPEED <= speed <= MAX_SPEED:
            raise TtsError(f"speech speed {speed} is out of range {MIN_SPEED}–{MAX_SPEED} words per minute")
        if not text.strip():
            raise TtsError("nothing to say: the text is empty")
        # Text goes on stdin, never argv: it may be long or start with "-"; -b 1 reads it as UTF-8.
        args = [self.executable, "--stdout", "-b", "1", "-v", voice, "-s", str(speed)]
        try:
            done = subprocess.run(
                args, input=text.encode("utf-8"), capture_output=True, timeout=self.timeout_s, check=False
            )
        except FileNotFoundError:
            raise TtsError(f"espeak-ng is not installed ({self.executable!r} not found)") from None
        except subprocess.TimeoutExpired:
            raise TtsError(f"espeak-ng took longer than {self.timeout_s:g} s to speak the text") from None
        if done.returncode != 0 or not done.stdout.startswith(b"RIFF"):
            detail = _last_line(done.stderr) or f"exit status {done.returncode}"
            raise TtsError(f"espeak-ng failed with voice {voice}: {detail}")
        logger.debug("espeak-ng spoke %d characters with voice %s at %d wpm", len(text), voice, speed)
        return _fix_wav_sizes(done.stdout)


engines: dict[str, Callable[[], TtsEngine]] = {
    "espeak-ng": EspeakNgEngine,
}


def get_engine(name: str) -> TtsEngine:
    """Build the registered engine called ``name``."""
    try:
        factory = engines[name]
    except KeyError:
        known = ", ".join(sorted(engines))
        raise TtsError(f"unknown TTS engine {name!r}; known engines: {known}") from None
    return factory()


def _fix_wav_sizes(wav: bytes) -> bytes:
    """Fill in the RIFF and data sizes, which espeak-ng leaves as placeholders when writing to a pipe."""
    if len(wav) < 12 or wav[:4] != b"RIFF" or wav[8:12] != b"WAVE":
        raise TtsError("espeak-ng returned something that is not a WAV file")
    fixed = bytearray(wav)
    struct.pack_into("<I", fixed, 4, len(fixed) - 8)
    pos = 12
    while pos + 8 <= len(fixed):
        chunk_id = bytes(fixed[pos : pos + 4])
        if chunk_id == b"data":
            struct.pack_into("<I", fixed, pos + 4, len(fixed) - pos - 8)
            return bytes(fixed)
        (size,) = struct.unpack_from("<I", fixed, pos + 4)
        pos += 8 + size + (size & 1)
    raise TtsError("espeak-ng returned a WAV file without audio data")


def _last_line(stderr: bytes) -> str:
    lines = stderr.decode("utf-8", errors="replace").strip().splitlines()
    return lines[-1].strip() if lines else ""
