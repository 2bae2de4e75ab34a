"""Turning bulletins into stored audio through audio/: the province lexicon, TTS, processing, the store."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session

from audio import (
    AudioError,
    MediaStore,
    ProcessingSettings,
    RenderCache,
    RenderedMedia,
    TtsEngine,
    UploadRejected,
    render_text,
    render_upload,
)
from controller.errors import InvalidInput, LoaError
from controller.lexicon import spoken_form
from controller.models import Media


class RenderFailed(LoaError):
    status_code = 502
    title = "Không tạo được âm thanh"


@dataclass
class Renderer:
    engine: TtsEngine
    store: MediaStore
    settings: ProcessingSettings
    cache: RenderCache | None = None

    def render_text(self, session: Session, *, text: str, accent: str, speed: int = 150) -> Media:
        """Normalise with the province lexicon, speak, process, store by sha256 and record it."""
        spoken = spoken_form(session, text=text, accent=accent).text
        try:
            rendered = render_text(
                spoken,
                engine=self.engine,
                store=self.store,
                accent=accent,
                speed=speed,
                settings=self.settings,
                cache=self.cache,
            )
        except AudioError as exc:
            raise RenderFailed(f"Không tạo được âm thanh cho bản tin: {exc}") from exc
        return self._record(session, rendered)

    def render_upload(self, session: Session, *, path: Path) -> Media:
        """Check an uploaded recording and store our own broadcast-ready transcode of it."""
        try:
            rendered = render_upload(path, store=self.store, settings=self.settings)
        except UploadRejected as exc:
            raise InvalidInput(exc.reason_vi, field="recording") from exc
        except AudioError as exc:
            raise InvalidInput(f"Không xử lý được tệp ghi âm: {exc}", field="recording") from exc
        return self._record(session, rendered)

    def _record(self, session: Session, rendered: RenderedMedia) -> Media:
        media = session.get(Media, rendered.sha256)
        if media is None:
            media = Media(
                sha256=rendered.sha256,
                bytes=rendered.bytes,
                duration_ms=rendered.duration_ms,
                mime=rendered.mime,
                codec=rendered.codec,
                lufs=rendered.lufs,
                true_peak_dbtp=rendered.true_peak_dbtp,
            )
            session.add(media)
            session.flush()
        return media
