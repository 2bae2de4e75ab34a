"""From approved text or an uploaded recording to a broadcast-ready file in the media store."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audio.cache import RenderCache, render_key
from audio.errors import AudioError, TtsError
from audio.ffmpeg import Analysis
from audio.normalize import prepare_for_speech
from audio.processing import process
from audio.settings import ProcessingSettings
from audio.store import MediaStore
from audio.tts import TtsEngine, engine_identity
from audio.uploads import check_upload

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RenderedMedia:
    """A broadcast-ready file in the media store, with what was measured on the finished file."""

    sha256: str
    bytes: int
    duration_ms: int
    mime: str
    codec: str
    lufs: float
    """Integrated loudness of the finished file (EBU R128), measured on the encoded file."""
    true_peak_dbtp: float
    """True peak of the finished file, measured on the encoded file."""


def render_text(
    text: str,
    *,
    engine: TtsEngine,
    store: MediaStore,
    accent: str = "central",
    speed: int = 150,
    settings: ProcessingSettings | None = None,
    cache: RenderCache | None = None,
) -> RenderedMedia:
    """Speak ``text`` with ``engine`` and store it broadcast-ready; unchanged input is not rendered again."""
    settings = settings or ProcessingSettings()
    speech = prepare_for_speech(text)
    if not speech:
        raise TtsError("nothing to say: the text is empty")
    key = _key(speech, engine=engine, accent=accent, speed=speed, settings=settings)
    if cache is not None and (hit := _from_record(cache.get(key, store=store))) is not None:
        logger.info("render cache hit for %d characters: %s", len(speech), hit.sha256)
        return hit
    wav = engine.synthesize(speech, accent=accent, speed=speed)
    with tempfile.TemporaryDirectory(prefix="loa-render-") as scratch:
        spoken = Path(scratch) / "speech.wav"
        spoken.write_bytes(wav)
        media = _process_and_store(spoken, scratch=Path(scratch), store=store, settings=settings)
    if cache is not None:
        cache.put(key, _as_record(media))
    logger.info(
        "rendered %d characters with %s (%s, %d wpm) as %s: %d ms, %.1f LUFS, %.1f dBTP",
        len(speech),
        engine.name,
        accent,
        speed,
        media.sha256,
        media.duration_ms,
        media.lufs,
        media.true_peak_dbtp,
    )
    return media


def cached_render(
    text: str,
    *,
    engine: TtsEngine,
    store: MediaStore,
    cache: RenderCache,
    accent: str = "central",
    speed: int = 150,
    settings: ProcessingSettings | None = None,
) -> RenderedMedia | None:
    """What ``render_text`` would return without rendering anything, if it has rendered it before."""
    speech = prepare_for_speech(text)
    if not speech:
        return None
    key = _key(speech, engine=engine, accent=accent, speed=speed, settings=settings or ProcessingSettings())
    return _from_record(cache.get(key, store=store))


def _key(speech: str, *, engine: TtsEngine, accent: str, speed: int, settings: ProcessingSettings) -> str:
    return render_key(
        speech, engine=engine_identity(engine), accent=accent, speed=speed, settings=settings.cache_key()
    )


def render_upload(
    src: Path, *, store: MediaStore, settings: ProcessingSettings | None = None
) -> RenderedMedia:
    """Check an uploaded recording (anything ffmpeg reads) and store our own broadcast-ready transcode.

    Raises ``UploadRejected`` (English message, a ``Text`` for the uploader) for anything unfit to air.
    """
    settings = settings or ProcessingSettings()
    src = Path(src)
    analysis = check_upload(src, settings=settings)
    with tempfile.TemporaryDirectory(prefix="loa-render-") as scratch:
        media = _process_and_store(
            src, scratch=Path(scratch), store=store, settings=settings, analysis=analysis
        )
    logger.info(
        "rendered upload %s as %s: %d ms, %.1f LUFS", src.name, media.sha256, media.duration_ms, media.lufs
    )
    return media


def _process_and_store(
    src: Path,
    *,
    scratch: Path,
    store: MediaStore,
    settings: ProcessingSettings,
    analysis: Analysis | None = None,
) -> RenderedMedia:
    encoded = scratch / f"broadcast.{settings.codec}"
    done = process(src, encoded, settings=settings, scratch=scratch, analysis=analysis)
    # Checked before storing, so that nothing unplayable ever reaches the store.
    if done.duration_ms <= 0:
        raise AudioError(f"{src.name} has no sound to broadcast")
    stored = store.put_file(encoded)
    return RenderedMedia(
        sha256=stored.sha256,
        bytes=stored.bytes,
        duration_ms=done.duration_ms,
        mime=settings.mime,
        codec=settings.codec,
        lufs=done.loudness.integrated_lufs,
        true_peak_dbtp=done.loudness.true_peak_dbtp,
    )


def _from_record(record: dict[str, Any] | None) -> RenderedMedia | None:
    """A cached record as RenderedMedia, or None (a miss) if it lacks a field or has a wrong type."""
    if record is None:
        return None
    try:
        media = RenderedMedia(
            sha256=str(record["sha256"]),
            bytes=int(record["bytes"]),
            duration_ms=int(record["duration_ms"]),
            mime=str(record["mime"]),
            codec=str(record["codec"]),
            lufs=float(record["lufs"]),
            true_peak_dbtp=float(record["true_peak_dbtp"]),
        )
    except (KeyError, TypeError, ValueError):
        return None
    return media


def _as_record(media: RenderedMedia) -> dict[str, Any]:
    return {
        "sha256": media.sha256,
        "bytes": media.bytes,
        "duration_ms": media.duration_ms,
        "mime": media.mime,
        "codec": media.codec,
        "lufs": media.lufs,
        "true_peak_dbtp": media.true_peak_dbtp,
    }
