"""Checks on an uploaded recording before anything is made from it: size, content, length, decoding.

The file's content decides what it is (ffprobe sniffs the bytes; the name is never trusted), and it
must decode cleanly from start to end. Every refusal is an ``UploadRejected`` with an English
message for logs (naming the file and what ffmpeg said) and a ``Text`` (``audio/texts.py``) that the
controller words for the person who uploaded it, in their language.
"""

from __future__ import annotations

from pathlib import Path

from audio.errors import AudioError, UploadRejected
from audio.ffmpeg import Analysis, analyse, sniff
from audio.settings import ProcessingSettings
from audio.texts import Text

# Demuxers that follow references to other files or the network; an upload must carry its own audio.
_REFERENCING_FORMATS = frozenset({"hls", "concat", "dash", "sdp", "rtp", "rtsp", "ffmetadata"})
# A container that claims to play longer than its decodable audio by more than this is cut short.
_TRUNCATION_TOLERANCE_S = 1.0
_TRUNCATION_TOLERANCE_RATIO = 0.02
_SILENT_LUFS = -69.0


def check_upload(src: Path, *, settings: ProcessingSettings) -> Analysis:
    """Return the decoding pass over ``src`` if it may be broadcast; UploadRejected otherwise."""
    name = src.name
    try:
        size = src.stat().st_size
    except FileNotFoundError:
        raise _rejected("missing", f"{name}: No such file", Text("upload.missing")) from None
    if not src.is_file():
        raise _rejected("missing", f"{name} is not a file", Text("upload.not_a_file"))
    if size == 0:
        raise _rejected("empty", f"{name} is empty (0 bytes)", Text("upload.empty"))
    if size > settings.max_upload_bytes:
        limit_mb, size_mb = settings.max_upload_bytes / 2**20, size / 2**20
        raise _rejected(
            "too_large",
            f"{name} is {size_mb:.1f} MB; uploads may be at most {limit_mb:.0f} MB",
            Text.of("upload.too_large", size_mb=round(size_mb, 1), limit_mb=round(limit_mb)),
        )
    try:
        info = sniff(src)
    except AudioError as exc:
        raise _rejected(
            "not_audio",
            f"{name} is not a sound file ffmpeg can read ({_detail(exc)})",
            Text("upload.not_audio"),
        ) from None
    if set(info.format_name.split(",")) & _REFERENCING_FORMATS:
        raise _rejected(
            "playlist",
            f"{name} is a playlist or stream description ({info.format_name}), not a recording",
            Text("upload.playlist"),
        )
    if info.audio_codec is None:
        kinds = ", ".join(sorted(set(info.stream_types))) or "nothing playable"
        raise _rejected(
            "no_audio_stream",
            f"{name} has no sound in it ({info.format_name}: {kinds})",
            Text("upload.no_audio_stream"),
        )
    if info.duration_s is not None and info.duration_s > settings.max_duration_s:
        raise _too_long(name, info.duration_s, settings)
    try:
        found = analyse(src)
    except AudioError as exc:
        raise _rejected(
            "decode_error",
            f"{name} cannot be decoded ({_detail(exc)})",
            Text("upload.undecodable"),
        ) from None
    if found.errors:
        raise _rejected(
            "decode_error",
            f"{name} is damaged: {found.errors[0]}",
            Text("upload.damaged"),
        )
    if found.duration_s > settings.max_duration_s:
        raise _too_long(name, found.duration_s, settings)
    claimed = info.duration_s
    if claimed is not None and claimed - found.duration_s > max(
        _TRUNCATION_TOLERANCE_S, _TRUNCATION_TOLERANCE_RATIO * claimed
    ):
        raise _rejected(
            "truncated",
            f"{name} is cut short: it says {claimed:.1f} s but only {found.duration_s:.1f} s decode",
            Text.of("upload.truncated", found_s=round(found.duration_s, 1), claimed_s=round(claimed, 1)),
        )
    if found.integrated_lufs <= _SILENT_LUFS or found.duration_s <= 0:
        raise _rejected("silent", f"{name} has no sound to broadcast (silence only)", Text("upload.silent"))
    return found


def _too_long(name: str, seconds: float, settings: ProcessingSettings) -> UploadRejected:
    limit_min, length_min = settings.max_duration_s / 60, seconds / 60
    return _rejected(
        "too_long",
        f"{name} plays {length_min:.1f} min; recordings may be at most {limit_min:g} min",
        Text.of("upload.too_long", length_min=round(length_min, 1), limit_min=round(limit_min, 1)),
    )


def _rejected(code: str, message: str, text: Text) -> UploadRejected:
    return UploadRejected(message, code=code, text=text)


def _detail(exc: AudioError) -> str:
    """The part of an ffmpeg complaint after our own 'cannot …:' prefix."""
    return str(exc).split(": ", 1)[-1]
