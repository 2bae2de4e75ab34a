"""From approved text or an uploaded recording to a broadcast MP3 in the media store."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

from audio.errors import AudioError, TtsError
from audio.ffmpeg import encode_broadcast, probe, probe_duration_ms
from audio.normalize import prepare_for_speech
from audio.store import MediaStore
from audio.tts import TtsEngine

logger = logging.getLogger(__name__)

DEFAULT_TARGET_LUFS = -16.0

# Demuxers that follow references to other files or the network; an upload must carry its own audio.
_REFERENCING_FORMATS = frozenset({"hls", "concat", "dash", "sdp", "rtp", "rtsp"})


@dataclass(frozen=True)
class RenderedMedia:
    """A broadcast-ready file in the media store."""

    sha256: str
    bytes: int
    duration_ms: int
    mime: str = "audio/mpeg"


def render_text(
    text: str,
    *,
    engine: TtsEngine,
    store: MediaStore,
    accent: str = "central",
    speed: int = 150,
    target_lufs: float = DEFAULT_TARGET_LUFS,
) -> RenderedMedia:
    """Speak ``text`` with ``engine`` and store it as a broadcast MP3; the same text gives the same file."""
    speech = prepare_for_speech(text)
    if not speech:
        raise TtsError("nothing to say: the text is empty")
    wav = engine.synthesize(speech, accent=accent, speed=speed)
    with tempfile.TemporaryDirectory(prefix="loa-render-") as scratch:
        spoken = Path(scratch) / "speech.wav"
        spoken.write_bytes(wav)
        media = _encode_and_store(spoken, scratch=Path(scratch), store=store, target_lufs=target_lufs)
    logger.info(
        "rendered %d characters with %s (%s, %d wpm) as %s, %d ms",
        len(speech),
        engine.name,
        accent,
        speed,
        media.sha256,
        media.duration_ms,
    )
    return media


def render_upload(src: Path, *, store: MediaStore, target_lufs: float = DEFAULT_TARGET_LUFS) -> RenderedMedia:
    """Encode an uploaded recording (anything ffmpeg reads) as a broadcast MP3 and store it."""
    found = probe(src)
    if set(found.format_name.split(",")) & _REFERENCING_FORMATS:
        raise AudioError(f"{src.name} is a playlist or stream description, not a recording")
    with tempfile.TemporaryDirectory(prefix="loa-render-") as scratch:
        media = _encode_and_store(src, scratch=Path(scratch), store=store, target_lufs=target_lufs)
    logger.info(
        "rendered upload %s (%s) as %s, %d ms", src.name, found.format_name, media.sha256, media.duration_ms
    )
    return media


def _encode_and_store(src: Path, *, scratch: Path, store: MediaStore, target_lufs: float) -> RenderedMedia:
    encoded = scratch / "broadcast.mp3"
    encode_broadcast(src, encoded, target_lufs=target_lufs)
    # Probe before storing, so that nothing unplayable ever reaches the store.
    duration_ms = probe_duration_ms(encoded)
    if duration_ms <= 0:
        raise AudioError(f"{src.name} has no sound to broadcast")
    stored = store.put_file(encoded)
    return RenderedMedia(sha256=stored.sha256, bytes=stored.bytes, duration_ms=duration_ms)
