"""The only module that speaks to ffmpeg and ffprobe: it builds their command lines, reads their output.

Every call is time-limited (``audio._run``) and turns a failure into an ``AudioError`` carrying
ffmpeg's own last line of complaint, with temporary paths reduced to file names. Inputs are read
with the ``file`` protocol only, so a crafted playlist cannot make ffmpeg fetch from the network.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audio._run import fsync_dir, run, run_piped, temporary_sibling, url
from audio.errors import AudioError

FFMPEG = "ffmpeg"
FFPROBE = "ffprobe"
SAMPLE_RATE = 48000

_QUIET = ["-hide_banner", "-nostdin", "-nostats"]
# "level" prefixes every line with its severity, so decoding errors can be told from chatter.
_LOGGED = [*_QUIET, "-loglevel", "level+info"]
_SUMMARY_I = re.compile(r"Integrated loudness:\s*I:\s*(-?\d+(?:\.\d+)?) LUFS")
_SUMMARY_PEAK = re.compile(r"True peak:\s*Peak:\s*(-?(?:\d+(?:\.\d+)?|inf)) dBFS")
_SILENCE = re.compile(r"silence_(start|end): (-?\d+(?:\.\d+)?)")
_SAMPLES = re.compile(r"n_samples: (\d+)")
_MAX_VOLUME = re.compile(r"max_volume: (-?(?:\d+(?:\.\d+)?|inf)) dB")
# ebur128's verbose frame log: one line per 100 ms, "t:" the frame's end, "FTPK:" its true peak.
_FRAME_PEAK = re.compile(r"\bt: (\d+(?:\.\d+)?)\s.*?FTPK:\s*(-?(?:\d+(?:\.\d+)?|inf)) dBFS")
_ERROR_LINE = re.compile(r"\[(?:error|fatal|panic)\] (.*)")
MUXERS = {"opus": "ogg", "mp3": "mp3"}
ENCODERS = {
    # VoIP mode tunes Opus for speech. (In "audio" mode below complexity 7 libopus skips its
    # speech analysis and codes everything with CELT at twice the asked bitrate.) 60 ms frames
    # cost fewer bits per second of sound; a box has no use for low latency. Complexity 10: at 5,
    # libopus 1.3 now and then emits a full-scale 5 ms burst where speech starts after silence.
    # Wideband (8 kHz) is all the speech keeps after its 7 kHz low-pass, and coding it as such
    # keeps the encoder in SILK mode, whose switches into CELT are where its other bursts happen.
    "opus": [
        *["libopus", "-application", "voip", "-frame_duration", "60", "-compression_level", "10"],
        *["-cutoff", "8000"],
    ],
    "mp3": ["libmp3lame"],
}
_LOUDNORM_KEYS = ("input_i", "input_tp", "input_lra", "input_thresh", "target_offset")


@dataclass(frozen=True)
class AudioProbe:
    """What ffprobe says about a file's container and its first audio stream."""

    format_name: str
    codec: str
    channels: int
    sample_rate: int
    duration_ms: int


@dataclass(frozen=True)
class MediaInfo:
    """What ffprobe sniffs from a file's content, whatever its name says."""

    format_name: str
    stream_types: tuple[str, ...]
    audio_codec: str | None
    duration_s: float | None


@dataclass(frozen=True)
class Loudness:
    """EBU R128 figures of a whole file."""

    integrated_lufs: float
    true_peak_dbtp: float


@dataclass(frozen=True)
class PeakFrame:
    """A 100 ms frame of a measured file whose true peak passed the level asked about."""

    end_s: float
    true_peak_dbtp: float


@dataclass(frozen=True)
class Encoded:
    """What was measured on a file as it was encoded: the whole, and its frames that peak too high."""

    loudness: Loudness
    hot_frames: tuple[PeakFrame, ...]


@dataclass(frozen=True)
class Analysis:
    """One decoding pass over a recording: how long it really plays, where its sound is, how loud."""

    duration_s: float
    sound_start_s: float
    sound_end_s: float
    integrated_lufs: float
    peak_dbfs: float
    errors: tuple[str, ...]


@dataclass(frozen=True)
class LoudnormStats:
    """What the first pass of ffmpeg's loudnorm measured (its ``print_format=json`` output)."""

    input_i: float
    input_tp: float
    input_lra: float
    input_thresh: float
    target_offset: float


def probe(path: Path) -> AudioProbe:
    """Describe the container of ``path`` and its first audio stream; AudioError if there is none."""
    info, audio = _describe(path)
    if audio is None:
        raise AudioError(f"{path.name} has no audio in it")
    if info.duration_s is None:
        raise AudioError(f"cannot tell how long {path.name} plays")
    return AudioProbe(
        format_name=info.format_name,
        codec=str(audio.get("codec_name", "")),
        channels=int(audio.get("channels") or 0),
        sample_rate=int(audio.get("sample_rate") or 0),
        duration_ms=round(info.duration_s * 1000),
    )


def sniff(path: Path) -> MediaInfo:
    """Ask ffprobe what ``path`` holds, judging by its bytes; AudioError if it cannot read it."""
    return _describe(path)[0]


def _describe(path: Path) -> tuple[MediaInfo, dict[str, Any] | None]:
    info = _ffprobe(path, "-show_format", "-show_streams")
    streams: list[dict[str, Any]] = info.get("streams") or []
    fmt: dict[str, Any] = info.get("format") or {}
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    duration = _seconds(fmt.get("duration"))
    if duration is None and audio is not None:
        duration = _seconds(audio.get("duration"))
    media = MediaInfo(
        format_name=str(fmt.get("format_name", "")),
        stream_types=tuple(str(s.get("codec_type", "")) for s in streams),
        audio_codec=str(audio.get("codec_name", "")) if audio is not None else None,
        duration_s=duration,
    )
    return media, audio


def probe_duration_ms(path: Path) -> int:
    """How long ``path`` plays, in milliseconds."""
    return probe(path).duration_ms


def analyse(path: Path, *, silence_dbfs: float = -60.0, min_silence_s: float = 0.25) -> Analysis:
    """Decode the first audio stream of ``path`` once (mono, 48 kHz) and report what a renderer needs.

    Decoding errors do not stop the pass; they are returned in ``errors`` for the caller to judge.
    """
    chain = ",".join(
        [
            f"aresample={SAMPLE_RATE}",
            "aformat=sample_fmts=flt:channel_layouts=mono",
            f"silencedetect=n={silence_dbfs:g}dB:d={min_silence_s:g}",
            "ebur128=framelog=verbose",
            "volumedetect",
        ]
    )
    args = [FFMPEG, *_LOGGED, *_input(path), "-map", "0:a:0", "-af", chain, "-f", "null", "-"]
    text = run(args, what=f"cannot decode {path.name}", paths=[path]).stderr.decode("utf-8", "replace")
    samples, integrated = _SAMPLES.search(text), _SUMMARY_I.search(text[text.rfind("Summary:") :])
    peak = _MAX_VOLUME.search(text)
    if samples is None or integrated is None or peak is None:
        raise AudioError(f"cannot decode {path.name}: ffmpeg printed no summary")
    duration = int(samples.group(1)) / SAMPLE_RATE
    start, end = 0.0, duration
    events = [(kind, float(at)) for kind, at in _SILENCE.findall(text)]
    if events and events[0] == ("start", 0.0) and len(events) > 1:
        start = min(events[1][1], duration)
    if events and events[-1][0] == "start":
        end = events[-1][1]
    elif len(events) >= 2 and events[-1][0] == "end" and events[-1][1] >= duration - 0.01:
        end = events[-2][1]
    if end <= start:  # all silence
        start, end = 0.0, duration
    return Analysis(
        duration_s=duration,
        sound_start_s=start,
        sound_end_s=end,
        integrated_lufs=float(integrated.group(1)),
        peak_dbfs=float(peak.group(1)),
        errors=tuple(dict.fromkeys(_ERROR_LINE.findall(text))),
    )


def loudnorm_first_pass(inputs: Sequence[Path], graph: str, loudnorm: str, *, what: str) -> LoudnormStats:
    """Run ``graph`` (output ``[out]``) into ``loudnorm`` (``…:print_format=json``) and parse what it says.

    The graph and loudnorm run in two processes, so that loudnorm (single-threaded, at 192 kHz) has
    a core of its own.
    """
    measure = [FFMPEG, *_LOGGED, "-f", "nut", "-i", "pipe:0", "-af", loudnorm, "-f", "null", "-"]
    produced = run_piped(_filtered(inputs, graph, SAMPLE_RATE), measure, what=what, paths=list(inputs))
    text = produced.decode("utf-8", "replace")
    start, end = text.rfind("{"), text.rfind("}")
    try:
        found: dict[str, Any] = json.loads(text[start : end + 1]) if 0 <= start < end else {}
        values = {key: float(found[key]) for key in _LOUDNORM_KEYS}
    except (ValueError, KeyError, TypeError):
        raise AudioError(f"{what}: loudnorm printed no measurement") from None
    return LoudnormStats(**values)


def encode_and_measure(
    inputs: Sequence[Path],
    graph: str,
    dst: Path,
    *,
    codec: str,
    bitrate_kbps: int,
    sample_rate: int,
    peaks_above_dbtp: float = 0.0,
) -> Encoded:
    """Encode ``graph``'s ``[out]`` to ``dst`` (whole or absent) and measure what was encoded.

    Three ffmpegs in a pipeline, so that the work spreads over the cores: one runs the filters,
    one encodes, and one decodes the encoded stream as it is being written and measures it, so the
    figures are those of the file a box will play. The frames whose true peak is above
    ``peaks_above_dbtp`` are reported too.
    """
    muxer = MUXERS[codec]
    tmp = temporary_sibling(dst)
    # The tee muxer writes the file (seekable: MP3 gets its Xing header) and a copy to the pipe.
    output = ["-f", "tee", f"[f={muxer}:fflags=+bitexact]{_tee_escape(url(tmp))}|[f={muxer}]pipe\\:1"]
    encode = [FFMPEG, *_QUIET, "-loglevel", "error", "-y", "-f", "nut", "-i", "pipe:0", "-map", "0:a"]
    encode += ["-map_metadata", "-1", "-c:a", *ENCODERS[codec], "-b:a", f"{bitrate_kbps}k"]
    encode += ["-flags:a", "+bitexact", *output]
    # At "verbose" ebur128 logs every 100 ms frame with its true peak.
    logged = [*_QUIET, "-loglevel", "level+verbose"]
    measure = [FFMPEG, *logged, "-f", muxer, "-i", "pipe:0", "-af", "ebur128=peak=true:framelog=verbose"]
    what = f"cannot encode {', '.join(p.name for p in inputs)}"
    try:
        filters = _filtered(inputs, graph, sample_rate)
        measured = run_piped(filters, encode, [*measure, "-f", "null", "-"], what=what, paths=[*inputs, tmp])
        with tmp.open("rb+") as written:
            os.fsync(written.fileno())
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(dst.parent)
    text = measured.decode("utf-8", "replace")
    loudness = _parse_summary(text, what=f"{what}: cannot measure the result")
    return Encoded(loudness=loudness, hot_frames=_frames_above(text, peaks_above_dbtp))


def make_chime(dst: Path, *, notes_hz: Sequence[float], note_s: float = 0.32, ring_s: float = 1.2) -> None:
    """Write a bell-like chime: each note starts ``note_s`` after the previous one and rings on."""
    if not notes_hz:
        raise ValueError("a chime needs at least one note")
    length = note_s * (len(notes_hz) - 1) + ring_s
    terms = []
    for i, freq in enumerate(notes_hz):
        at = i * note_s
        # A struck bell: fast attack, exponential decay, a soft octave partial for brightness.
        envelope = f"gte(t,{at:g})*(1-exp(-(t-{at:g})*200))*exp(-(t-{at:g})*4.0)"
        tone = f"(sin(2*PI*{freq:g}*t)+0.25*sin(4*PI*{freq:g}*t))"
        terms.append(f"{envelope}*{tone}")
    expr = f"0.25*({'+'.join(terms)})"
    source = f"aevalsrc=exprs='{expr}':s={SAMPLE_RATE}:d={length:g}"
    args = ["-f", "lavfi", "-i", source, "-c:a", "pcm_s16le", "-fflags", "+bitexact", "-f", "wav"]
    _write_with_ffmpeg(args, dst, what="cannot make a chime", paths=[])


def make_tone(
    dst: Path,
    *,
    seconds: float,
    dbfs: float,
    frequency: float = 997.0,
    channels: int = 1,
    sample_rate: int = 44100,
) -> None:
    """Write a sine tone with peak level ``dbfs`` as a 16-bit WAV file (test tones, calibration)."""
    if seconds <= 0 or channels < 1 or dbfs > 0:
        raise ValueError("a tone needs a positive length, at least one channel and a level ≤ 0 dBFS")
    amplitude = 10 ** (dbfs / 20)
    exprs = "|".join([f"{amplitude:.8f}*sin(2*PI*{frequency:g}*t)"] * channels)
    source = f"aevalsrc=exprs={exprs}:s={sample_rate}:d={seconds:g}"
    args = ["-f", "lavfi", "-i", source, "-c:a", "pcm_s16le", "-fflags", "+bitexact", "-f", "wav"]
    _write_with_ffmpeg(args, dst, what="cannot make a tone", paths=[])


def measure_loudness(path: Path) -> Loudness:
    """Measure the integrated loudness and true peak of ``path`` with ffmpeg's ebur128 filter."""
    args = [FFMPEG, *_LOGGED, *_input(path), "-map", "0:a:0", "-af", "ebur128=peak=true:framelog=verbose"]
    what = f"cannot measure the loudness of {path.name}"
    done = run([*args, "-f", "null", "-"], what=what, paths=[path])
    return _parse_summary(done.stderr.decode("utf-8", errors="replace"), what=what)


def measure_lufs(path: Path) -> float:
    """Integrated loudness of ``path`` in LUFS (-70 for silence)."""
    return measure_loudness(path).integrated_lufs


def _frames_above(text: str, level_dbtp: float) -> tuple[PeakFrame, ...]:
    frames = (PeakFrame(float(end), float(peak)) for end, peak in _FRAME_PEAK.findall(text))
    return tuple(frame for frame in frames if frame.true_peak_dbtp > level_dbtp)


def _parse_summary(text: str, *, what: str) -> Loudness:
    summary = text[text.rfind("Summary:") :]
    integrated, peak = _SUMMARY_I.search(summary), _SUMMARY_PEAK.search(summary)
    if integrated is None or peak is None:
        raise AudioError(f"{what}: ffmpeg printed no summary")
    return Loudness(integrated_lufs=float(integrated.group(1)), true_peak_dbtp=float(peak.group(1)))


def _ffprobe(path: Path, *show: str) -> dict[str, Any]:
    args = [FFPROBE, "-v", "error", "-protocol_whitelist", "file", "-of", "json", *show, url(path)]
    done = run(args, what=f"cannot read {path.name} as audio", paths=[path])
    try:
        info: dict[str, Any] = json.loads(done.stdout)
    except ValueError:
        raise AudioError(f"cannot read {path.name} as audio: ffprobe gave no description") from None
    return info


def _write_with_ffmpeg(args: list[str], dst: Path, *, what: str, paths: list[Path]) -> None:
    """Run ffmpeg into a temporary sibling of ``dst`` and rename it in place: whole or absent."""
    tmp = temporary_sibling(dst)
    try:
        run([FFMPEG, *_QUIET, "-loglevel", "error", "-y", *args, url(tmp)], what=what, paths=paths)
        with tmp.open("rb+") as written:
            os.fsync(written.fileno())
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(dst.parent)


def _filtered(inputs: Sequence[Path], graph: str, sample_rate: int) -> list[str]:
    """ffmpeg running ``graph`` over ``inputs`` and writing its ``[out]`` to stdout, mono float PCM."""
    filters = [FFMPEG, *_QUIET, "-loglevel", "error", *_inputs(inputs), "-filter_complex", graph]
    pcm = ["-ac", "1", "-ar", str(sample_rate), "-c:a", "pcm_f32le", "-f", "nut", "pipe:1"]
    return [*filters, "-map", "[out]", "-map_metadata", "-1", *pcm]


def _input(path: Path) -> list[str]:
    return ["-protocol_whitelist", "file", "-i", url(path)]


def _inputs(paths: Sequence[Path]) -> list[str]:
    return [arg for path in paths for arg in _input(path)]


def _tee_escape(url: str) -> str:
    return re.sub(r"([\\'|\[\]:])", r"\\\1", url)


def _seconds(value: object) -> float | None:
    try:
        seconds = float(str(value))
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None
