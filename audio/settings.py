"""How bulletins are made ready for the boxes: loudness, codec, chimes, trimming and upload limits."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from audio.errors import AudioError

Codec = Literal["opus", "mp3"]

MIME_TYPES: dict[str, str] = {"opus": "audio/ogg", "mp3": "audio/mpeg"}
DEFAULT_BITRATE_KBPS: dict[str, int] = {"opus": 32, "mp3": 64}
SAMPLE_RATES: dict[str, frozenset[int]] = {
    "opus": frozenset({8000, 12000, 16000, 24000, 48000}),
    "mp3": frozenset({16000, 22050, 24000, 32000, 44100, 48000}),
}
# Bumped whenever the processing chain changes what it makes from the same inputs, so that the
# render cache never hands out a file the current code would not produce.
PIPELINE_VERSION = 2

# A rising major triad for the opening chime (C5, E5, G5); the closing chime plays it falling.
DEFAULT_CHIME_NOTES_HZ = (523.25, 659.25, 783.99)


@dataclass(frozen=True)
class ProcessingSettings:
    """Everything that decides how speech or a recording becomes the file a box plays."""

    target_lufs: float = -16.0
    """Integrated loudness of the finished file (EBU R128, LUFS); -16 suits speech on horn speakers."""
    true_peak_dbtp: float = -1.5
    """Highest true peak allowed in the finished file, in dBTP."""
    codec: Codec = "opus"
    """"opus" (Ogg Opus, tuned for speech) or "mp3" (for players that cannot decode Opus)."""
    bitrate_kbps: int | None = None
    """Encoder bitrate; None means 32 kb/s for Opus and 64 kb/s for MP3."""
    sample_rate: int = 48000
    """Sample rate of the finished file in Hz (Opus: 8/12/16/24/48 kHz)."""
    chimes: bool = True
    """Play a chime before and after the bulletin."""
    opening_chime: Path | None = None
    """A sound file to use as the opening chime; None generates one from ``chime_notes_hz``."""
    closing_chime: Path | None = None
    """A sound file to use as the closing chime; None generates one (the notes falling)."""
    chime_notes_hz: tuple[float, ...] = DEFAULT_CHIME_NOTES_HZ
    """Notes of the generated chime, played one after another, each ringing on."""
    chime_level_lu: float = -3.0
    """Loudness of a chime relative to the speech, in LU (negative: softer than the speech)."""
    chime_gap_ms: int = 400
    """Silence between a chime and the speech."""
    trim_silence: bool = True
    """Cut silence from the start and the end of the speech or recording."""
    fade_ms: int = 50
    """Length of the fade in at the start and the fade out at the end of the speech or recording."""
    max_upload_bytes: int = 64 * 1024 * 1024
    """Largest upload accepted, in bytes."""
    max_duration_s: float = 60 * 60.0
    """Longest upload accepted, in seconds."""

    def __post_init__(self) -> None:
        problems = []
        if not (math.isfinite(self.target_lufs) and -40.0 <= self.target_lufs <= -5.0):
            problems.append(f"target loudness {self.target_lufs} LUFS is outside -40…-5")
        if not (math.isfinite(self.true_peak_dbtp) and -9.0 <= self.true_peak_dbtp <= 0.0):
            problems.append(f"true peak ceiling {self.true_peak_dbtp} dBTP is outside -9…0")
        if self.codec not in MIME_TYPES:
            problems.append(f"unknown codec {self.codec!r}; expected opus or mp3")
        elif self.sample_rate not in SAMPLE_RATES[self.codec]:
            rates = ", ".join(str(r) for r in sorted(SAMPLE_RATES[self.codec]))
            problems.append(f"{self.codec} cannot be encoded at {self.sample_rate} Hz; use one of {rates}")
        if self.bitrate_kbps is not None and not 6 <= self.bitrate_kbps <= 320:
            problems.append(f"bitrate {self.bitrate_kbps} kb/s is outside 6…320")
        if not self.chime_notes_hz or not all(20.0 <= f <= 8000.0 for f in self.chime_notes_hz):
            problems.append("chime notes must be one or more frequencies between 20 and 8000 Hz")
        if not -20.0 <= self.chime_level_lu <= 6.0:
            problems.append(f"chime level {self.chime_level_lu} LU is outside -20…6")
        if not 0 <= self.chime_gap_ms <= 5000 or not 0 <= self.fade_ms <= 5000:
            problems.append("chime gap and fade must be between 0 and 5000 ms")
        if self.max_upload_bytes <= 0 or not self.max_duration_s > 0:
            problems.append("upload limits must be positive")
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def bitrate(self) -> int:
        """The encoder bitrate in kb/s, the codec's default filled in."""
        return self.bitrate_kbps or DEFAULT_BITRATE_KBPS[self.codec]

    @property
    def mime(self) -> str:
        """Media type of the finished file."""
        return MIME_TYPES[self.codec]

    def cache_key(self) -> str:
        """A stable hex digest of every setting that changes the finished file (not the upload limits).

        A chime file counts by its content, so replacing the chime on disk re-renders what used it.
        """
        shaping = asdict(self)
        for name in ("max_upload_bytes", "max_duration_s"):
            shaping.pop(name)
        shaping["bitrate_kbps"] = self.bitrate
        shaping["chime_notes_hz"] = list(self.chime_notes_hz)
        shaping["opening_chime"] = _file_digest(self.opening_chime) if self.chimes else None
        shaping["closing_chime"] = _file_digest(self.closing_chime) if self.chimes else None
        shaping["pipeline"] = PIPELINE_VERSION
        canonical = json.dumps(shaping, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def _file_digest(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError as exc:
        raise AudioError(f"cannot read the chime file {Path(path).name}: {exc.strerror}") from None
