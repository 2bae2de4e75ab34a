"""Checks on an uploaded recording before anything is made from it: size, content, length, decoding.

The file's content decides what it is (ffprobe sniffs the bytes; the name is never trusted), and it
must decode cleanly from start to end. Every refusal is an ``UploadRejected`` with an English
message for logs and the API, and a Vietnamese sentence for the person at the panel.
"""

from __future__ import annotations

from pathlib import Path

from audio.errors import AudioError, UploadRejected
from audio.ffmpeg import Analysis, analyse, sniff
from audio.settings import ProcessingSettings

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
        raise _rejected("missing", f"{name}: No such file", "Không tìm thấy tệp tải lên.") from None
    if not src.is_file():
        raise _rejected("missing", f"{name} is not a file", "Tệp tải lên không phải là một tệp thường.")
    if size == 0:
        raise _rejected("empty", f"{name} is empty (0 bytes)", "Tệp tải lên rỗng (0 byte).")
    if size > settings.max_upload_bytes:
        limit_mb, size_mb = settings.max_upload_bytes / 2**20, size / 2**20
        raise _rejected(
            "too_large",
            f"{name} is {size_mb:.1f} MB; uploads may be at most {limit_mb:.0f} MB",
            f"Tệp quá lớn ({_vi_number(size_mb)} MB); tối đa {limit_mb:.0f} MB.",
        )
    try:
        info = sniff(src)
    except AudioError as exc:
        raise _rejected(
            "not_audio",
            f"{name} is not a sound file ffmpeg can read ({_detail(exc)})",
            "Tệp không phải là tệp âm thanh, hoặc định dạng không đọc được.",
        ) from None
    if set(info.format_name.split(",")) & _REFERENCING_FORMATS:
        raise _rejected(
            "playlist",
            f"{name} is a playlist or stream description ({info.format_name}), not a recording",
            "Tệp là danh sách phát hoặc địa chỉ luồng, không phải bản ghi âm.",
        )
    if info.audio_codec is None:
        kinds = ", ".join(sorted(set(info.stream_types))) or "nothing playable"
        raise _rejected(
            "no_audio_stream",
            f"{name} has no sound in it ({info.format_name}: {kinds})",
            "Tệp không có tiếng (không có luồng âm thanh), ví dụ ảnh hoặc video không tiếng.",
        )
    if info.duration_s is not None and info.duration_s > settings.max_duration_s:
        raise _too_long(name, info.duration_s, settings)
    try:
        found = analyse(src)
    except AudioError as exc:
        raise _rejected(
            "decode_error",
            f"{name} cannot be decoded ({_detail(exc)})",
            "Tệp âm thanh bị hỏng, không giải mã được.",
        ) from None
    if found.errors:
        raise _rejected(
            "decode_error",
            f"{name} is damaged: {found.errors[0]}",
            "Tệp âm thanh bị hỏng ở giữa, không giải mã trọn vẹn được.",
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
            "Tệp âm thanh bị thiếu (tải lên chưa hết): chỉ đọc được "
            f"{_vi_number(found.duration_s)} trên {_vi_number(claimed)} giây.",
        )
    if found.integrated_lufs <= _SILENT_LUFS or found.duration_s <= 0:
        raise _rejected(
            "silent", f"{name} has no sound to broadcast (silence only)", "Bản ghi chỉ có im lặng."
        )
    return found


def _too_long(name: str, seconds: float, settings: ProcessingSettings) -> UploadRejected:
    limit_min, length_min = settings.max_duration_s / 60, seconds / 60
    return _rejected(
        "too_long",
        f"{name} plays {length_min:.1f} min; recordings may be at most {limit_min:g} min",
        f"Bản ghi quá dài ({_vi_number(length_min)} phút); tối đa {_vi_number(limit_min)} phút.",
    )


def _rejected(code: str, message: str, reason_vi: str) -> UploadRejected:
    return UploadRejected(message, code=code, reason_vi=reason_vi)


def _detail(exc: AudioError) -> str:
    """The part of an ffmpeg complaint after our own 'cannot …:' prefix."""
    return str(exc).split(": ", 1)[-1]


def _vi_number(value: float) -> str:
    """One decimal with a Vietnamese decimal comma: 12,5."""
    return f"{value:.1f}".replace(".", ",").removesuffix(",0")
