"""The only module that runs ffmpeg and ffprobe.

Every call is time-limited and turns a failure into an ``AudioError`` carrying ffmpeg's own last
line of complaint, with temporary paths reduced to file names.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audio.errors import AudioError

logger = logging.getLogger(__name__)

FFMPEG = "ffmpeg"
FFPROBE = "ffprobe"
TIMEOUT_S = 300.0

SAMPLE_RATE = 44100
BITRATE = "64k"
TRUE_PEAK_DBTP = -1.5
LOUDNESS_RANGE_LU = 11.0

_QUIET = ["-hide_banner", "-nostdin", "-nostats"]
# ebur128 prints a summary at the end; these pull the figures out of it.
_SUMMARY_I = re.compile(r"Integrated loudness:\s*I:\s*(-?\d+(?:\.\d+)?) LUFS")
_SUMMARY_PEAK = re.compile(r"True peak:\s*Peak:\s*(-?(?:\d+(?:\.\d+)?|inf)) dBFS")


@dataclass(frozen=True)
class AudioProbe:
    """What ffprobe says about a file's container and its first audio stream."""

    format_name: str
    codec: str
    channels: int
    sample_rate: int
    duration_ms: int


@dataclass(frozen=True)
class Loudness:
    """EBU R128 figures of a whole file."""

    integrated_lufs: float
    true_peak_dbtp: float


def encode_broadcast(src: Path, dst: Path, *, target_lufs: float = -16.0) -> None:
    """Encode the first audio stream of ``src`` as the broadcast MP3 at ``dst`` (mono, 44.1 kHz, 64k)."""
    if not (math.isfinite(target_lufs) and -70.0 <= target_lufs <= -5.0):
        raise ValueError(f"target loudness {target_lufs} LUFS is outside -70…-5")
    filters = ",".join(
        [
            # Downmix before measuring, so the loudness is that of what the speaker plays.
            "aformat=channel_layouts=mono",
            f"loudnorm=I={target_lufs:g}:TP={TRUE_PEAK_DBTP:g}:LRA={LOUDNESS_RANGE_LU:g}",
            # loudnorm works (and outputs) at 192 kHz.
            f"aresample={SAMPLE_RATE}",
        ]
    )
    args = [
        *["-i", _url(src), "-map", "0:a:0", "-vn", "-sn", "-dn", "-map_metadata", "-1"],
        *["-af", filters, "-ac", "1", "-ar", str(SAMPLE_RATE), "-c:a", "libmp3lame", "-b:a", BITRATE],
        # No encoder version strings in the file: the same input gives the same bytes.
        *["-fflags", "+bitexact", "-flags:a", "+bitexact", "-f", "mp3"],
    ]
    _write_with_ffmpeg(args, dst, what=f"cannot encode {src.name}", paths=[src])


def make_tone(
    dst: Path,
    *,
    seconds: float,
    dbfs: float,
    frequency: float = 997.0,
    channels: int = 1,
    sample_rate: int = SAMPLE_RATE,
) -> None:
    """Write a sine tone with peak level ``dbfs`` as a 16-bit WAV file (test tones, calibration)."""
    if seconds <= 0 or channels < 1 or dbfs > 0:
        raise ValueError("a tone needs a positive length, at least one channel and a level ≤ 0 dBFS")
    amplitude = 10 ** (dbfs / 20)
    exprs = "|".join([f"{amplitude:.8f}*sin(2*PI*{frequency:g}*t)"] * channels)
    source = f"aevalsrc=exprs={exprs}:s={sample_rate}:d={seconds:g}"
    args = ["-f", "lavfi", "-i", source, "-c:a", "pcm_s16le", "-fflags", "+bitexact", "-f", "wav"]
    _write_with_ffmpeg(args, dst, what="cannot make a tone", paths=[])


def probe(path: Path) -> AudioProbe:
    """Describe the container of ``path`` and its first audio stream; AudioError if there is none."""
    args = [FFPROBE, "-v", "error", "-of", "json", "-show_format", "-show_streams", "-select_streams", "a:0"]
    done = _run([*args, _url(path)], what=f"cannot read {path.name} as audio", paths=[path])
    try:
        info: dict[str, Any] = json.loads(done.stdout)
        streams: list[dict[str, Any]] = info.get("streams") or []
        fmt: dict[str, Any] = info["format"]
    except (ValueError, KeyError, TypeError):
        raise AudioError(f"cannot read {path.name} as audio: ffprobe gave no description") from None
    if not streams:
        raise AudioError(f"{path.name} has no audio in it")
    stream = streams[0]
    duration = _seconds(fmt.get("duration")) or _seconds(stream.get("duration"))
    if duration is None:
        raise AudioError(f"cannot tell how long {path.name} plays")
    return AudioProbe(
        format_name=str(fmt.get("format_name", "")),
        codec=str(stream.get("codec_name", "")),
        channels=int(stream.get("channels") or 0),
        sample_rate=int(stream.get("sample_rate") or 0),
        duration_ms=round(duration * 1000),
    )


def probe_duration_ms(path: Path) -> int:
    """How long ``path`` plays, in milliseconds."""
    return probe(path).duration_ms


def measure_loudness(path: Path) -> Loudness:
    """Measure the integrated loudness and true peak of ``path`` with ffmpeg's ebur128 filter."""
    args = [FFMPEG, *_QUIET, "-i", _url(path), "-map", "0:a:0", "-af", "ebur128=peak=true", "-f", "null", "-"]
    done = _run(args, what=f"cannot measure the loudness of {path.name}", paths=[path])
    text = done.stderr.decode("utf-8", errors="replace")
    summary = text[text.rfind("Summary:") :]
    integrated, peak = _SUMMARY_I.search(summary), _SUMMARY_PEAK.search(summary)
    if integrated is None or peak is None:
        raise AudioError(f"cannot measure the loudness of {path.name}: ffmpeg printed no summary")
    return Loudness(integrated_lufs=float(integrated.group(1)), true_peak_dbtp=float(peak.group(1)))


def measure_lufs(path: Path) -> float:
    """Integrated loudness of ``path`` in LUFS (-70 for silence)."""
    return measure_loudness(path).integrated_lufs


def _write_with_ffmpeg(args: list[str], dst: Path, *, what: str, paths: list[Path]) -> None:
    """Run ffmpeg into a temporary sibling of ``dst`` and rename it in place: whole or absent."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".tmp", dir=dst.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        _run([FFMPEG, *_QUIET, "-loglevel", "error", "-y", *args, _url(tmp)], what=what, paths=paths)
        with tmp.open("rb+") as written:
            os.fsync(written.fileno())
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(dst.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _run(args: list[str], *, what: str, paths: list[Path]) -> subprocess.CompletedProcess[bytes]:
    tool = args[0]
    try:
        done = subprocess.run(args, capture_output=True, timeout=TIMEOUT_S, check=False)
    except FileNotFoundError:
        raise AudioError(f"{what}: {tool} is not installed") from None
    except subprocess.TimeoutExpired:
        raise AudioError(f"{what}: {tool} took longer than {TIMEOUT_S:g} s") from None
    if done.returncode != 0:
        stderr = done.stderr.decode("utf-8", errors="replace")
        logger.debug("%s exited with %d: %s", tool, done.returncode, stderr)
        raise AudioError(f"{what}: {_complaint(stderr, paths) or f'{tool} exited with {done.returncode}'}")
    return done


def _complaint(stderr: str, paths: list[Path]) -> str:
    """ffmpeg's last line, without the full paths of our (often temporary) files."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    if not lines:
        return ""
    line = lines[-1]
    for path in paths:
        line = line.removeprefix(f"{_url(path)}: ").replace(_url(path), path.name)
    return line


def _url(path: Path) -> str:
    # "file:" keeps ffmpeg from reading a name as an option ("-x") or another protocol ("http:…").
    return f"file:{path.absolute()}"


def _seconds(value: object) -> float | None:
    try:
        seconds = float(str(value))
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None
