"""Turning bulletins into stored audio through audio/ (espeak-ng, ffmpeg, the media store)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from audio import AudioError, MediaStore, TtsEngine, render_text
from controller.errors import LoaError
from controller.models import Media


class RenderFailed(LoaError):
    status_code = 502
    title = "Không tạo được âm thanh"


@dataclass
class Renderer:
    engine: TtsEngine
    store: MediaStore

    def render_text(self, session: Session, *, text: str, accent: str) -> Media:
        """Render speech, store it by sha256 and record it (idempotent for identical audio)."""
        try:
            rendered = render_text(text, engine=self.engine, store=self.store, accent=accent)
        except AudioError as exc:
            raise RenderFailed(f"Không tạo được âm thanh cho bản tin: {exc}") from exc
        media = session.get(Media, rendered.sha256)
        if media is None:
            media = Media(
                sha256=rendered.sha256,
                bytes=rendered.bytes,
                duration_ms=rendered.duration_ms,
                mime=rendered.mime,
            )
            session.add(media)
            session.flush()
        return media
