"""espeak-ng, the default speech engine: its Vietnamese voices, one process per chunk, in parallel."""

from __future__ import annotations

import logging
import shutil
import struct
import subprocess

from audio.errors import TtsError
from audio.tts import ACCENTS, speak_in_chunks

logger = logging.getLogger(__name__)

ESPEAK_VOICES: dict[str, str] = {
    "north": "vi",
    "central": "vi-vn-x-central",
    "south": "vi-vn-x-south",
}

# espeak-ng's documented range for -s (words per minute).
MIN_SPEED = 80
MAX_SPEED = 450


class EspeakNgEngine:
    """The espeak-ng command line with its Vietnamese voices (north, central, south)."""

    name: str = "espeak-ng"

    def __init__(
        self, *, executable: str = "espeak-ng", timeout_s: float = 300.0, workers: int | None = None
    ) -> None:
        self.executable = executable
        self.timeout_s = timeout_s
        self.workers = workers
        self._identity: str | None = None

    @property
    def identity(self) -> str:
        """Name and version: another espeak-ng release may speak the same text differently."""
        if self._identity is None:
            try:
                done = subprocess.run(
                    [self.executable, "--version"], capture_output=True, timeout=30, check=False
                )
                version = done.stdout.decode("utf-8", "replace").split("Data at:")[0].strip()
            except (OSError, subprocess.TimeoutExpired):
                version = "unknown version"
            self._identity = f"{self.name} ({version})"
        return self._identity

    def synthesize(self, text: str, *, accent: str = "central", speed: int = 150) -> bytes:
        """Return the bytes of a WAV file speaking ``text`` with the voice of ``accent``."""
        voice = ESPEAK_VOICES.get(accent)
        if voice is None:
            raise TtsError(f"unknown accent {accent!r}; expected one of {', '.join(ACCENTS)}")
        if not MIN_SPEED <= speed <= MAX_SPEED:
            raise TtsError(f"speech speed {speed} is out of range {MIN_SPEED}–{MAX_SPEED} words per minute")
        if not text.strip():
            raise TtsError("nothing to say: the text is empty")
        if shutil.which(self.executable) is None:
            raise TtsError(f"espeak-ng is not installed ({self.executable!r} not found)")
        wav = speak_in_chunks(
            text, lambda chunk: self._speak(chunk, voice, speed), engine_name=self.name, workers=self.workers
        )
        logger.debug("espeak-ng spoke %d characters with voice %s at %d wpm", len(text), voice, speed)
        return wav

    def _speak(self, text: str, voice: str, speed: int) -> bytes:
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
        return _fix_wav_sizes(done.stdout)


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
