"""How bulletins are spoken: the voices installed, each zone's speech defaults, and rendering through
audio/ (the province lexicon, TTS, processing, the media store)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from pathlib import Path

from sqlmodel import Session, col, select

from audio import (
    ACCENTS,
    AudioError,
    MediaStore,
    ProcessingSettings,
    RenderCache,
    RenderedMedia,
    TtsChunkError,
    TtsEngine,
    UploadRejected,
    cached_render,
    engine_names,
    get_engine,
    render_text,
    render_upload,
)
from controller import audio_text, audit_log
from controller.errors import Forbidden, InvalidInput, LoaError
from controller.i18n import N_, gettext
from controller.lexicon import spoken_form
from controller.models import Media, User, Zone
from controller.settings import Settings

log = logging.getLogger(__name__)

PIPER = "piper"
VOICES_FOLDER = "voices"
Chimes = tuple[Path | None, Path | None]  # a commune's opening and closing chime files
MIN_SPEED, MAX_SPEED = 80, 300
# The accent of each province (codes after the 2025 reorganisation) by its region: the North; the
# North Central, Central Coast and Highlands; the South. Nghệ An (40) is North Central.
_CENTRAL = {38, 40, 42, 44, 46, 48, 51, 52, 56, 66, 68}
_SOUTH = {75, 79, 80, 82, 86, 91, 92, 96}


class RenderFailed(LoaError):
    status_code = 502
    title = N_("Could not make the audio")


@dataclass(frozen=True)
class Voice:
    """An engine and one of its voices, as a bulletin names them (``voice`` None: the engine's own)."""

    engine: str
    voice: str | None = None

    @property
    def key(self) -> str:
        """One form value for both: ``espeak-ng``, ``piper:vi_VN-vais1000-medium``."""
        return f"{self.engine}:{self.voice}" if self.voice else self.engine

    @property
    def label(self) -> str:
        """How the panel names it."""
        if self.engine == "espeak-ng":
            return gettext("espeak-ng (regional accents)")
        return f"{self.engine.capitalize()}: {self.voice}" if self.voice else self.engine

    @classmethod
    def from_key(cls, key: str) -> Voice:
        engine, _, voice = key.strip().partition(":")
        return cls(engine=engine, voice=voice or None)


@dataclass(frozen=True)
class Speech:
    """How a bulletin is read: engine and voice, accent, words per minute."""

    voice: Voice
    accent: str
    speed: int


def region_accent(province_code: int | None) -> str:
    """The accent spoken in a province's region (Central where the province is unknown)."""
    if province_code in _SOUTH:
        return "south"
    if province_code in _CENTRAL or province_code is None:
        return "central"
    return "north"


@dataclass
class Renderer:
    """Speaks bulletins with the engine and voice each one names; engines are built once, on first use.

    ``engine`` is the engine built at start-up for the configured default engine; a bulletin that
    names that engine without a voice is spoken by it. Piper voices are the ``<name>.onnx`` files
    (with ``<name>.onnx.json`` beside) in ``voices_dir``, by default ``voices/`` beside the media store.
    """

    engine: TtsEngine
    store: MediaStore
    settings: ProcessingSettings
    cache: RenderCache | None = None
    voices_dir: Path | None = None
    _default: str = field(init=False, repr=False)
    _engines: dict[Voice, TtsEngine] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        self._default = self.engine.name

    @property
    def piper_voices_dir(self) -> Path:
        """Where Piper voices are installed."""
        return self.voices_dir or self.store.root.parent / VOICES_FOLDER

    def voices(self) -> list[Voice]:
        """What a bulletin may be spoken with: every engine's own voice and every Piper voice installed."""
        found: list[Voice] = []
        for name in engine_names():
            if name != PIPER:
                found.append(Voice(name))
                continue
            folder = self.piper_voices_dir
            models = sorted(folder.glob("*.onnx")) if folder.is_dir() else []
            found += [Voice(PIPER, m.stem) for m in models if m.with_name(f"{m.name}.json").is_file()]
        return found

    def engine_for(self, voice: Voice) -> TtsEngine:
        """The engine that speaks with ``voice`` (TtsError if it cannot be built)."""
        if voice == Voice(self._default):
            return self.engine
        with self._lock:
            engine = self._engines.get(voice)
            if engine is None:
                if voice.engine == PIPER:
                    model = self.piper_voices_dir / f"{Path(voice.voice or '').name}.onnx"
                    engine = get_engine(PIPER, model_path=model)
                else:
                    engine = get_engine(voice.engine)
                self._engines[voice] = engine
            return engine

    def with_chimes(self, chimes: Chimes | None) -> ProcessingSettings:
        """The processing settings with a commune's own chime files (None: the configured ones)."""
        opening, closing = chimes or (None, None)
        return replace(
            self.settings,
            opening_chime=opening or self.settings.opening_chime,
            closing_chime=closing or self.settings.closing_chime,
        )

    def render_text(
        self,
        session: Session,
        *,
        text: str,
        accent: str,
        speed: int = 150,
        voice: Voice | None = None,
        chimes: Chimes | None = None,
    ) -> Media:
        """Normalise with the province lexicon, speak, process, store by sha256 and record it."""
        spoken = spoken_form(session, text=text, accent=accent).text
        try:
            rendered = render_text(
                spoken,
                engine=self.engine_for(voice or Voice(self._default)),
                store=self.store,
                accent=accent,
                speed=speed,
                settings=self.with_chimes(chimes),
                cache=self.cache,
            )
        except TtsChunkError as exc:  # the editor can look at that part of the text
            log.warning("speech failed: %s", exc)
            raise RenderFailed(
                N_(
                    "The speech engine could not read part %(chunk)s of %(chunks)s of the text"
                    " (“%(excerpt)s”). Check that part; if it looks right, tell the province"
                    " administrator. Technical detail: %(error)s"
                ),
                chunk=exc.chunk,
                chunks=exc.chunks,
                excerpt=exc.excerpt,
                error=str(exc),
            ) from exc
        except AudioError as exc:
            log.warning("speech failed: %s", exc)
            raise RenderFailed(
                N_(
                    "The bulletin's audio could not be made: the speech or sound tools failed. Try again;"
                    " if it fails again, tell the province administrator. Technical detail: %(error)s"
                ),
                error=str(exc),
            ) from exc
        return self._record(session, rendered)

    def rendered_before(
        self,
        session: Session,
        *,
        text: str,
        accent: str,
        speed: int = 150,
        voice: Voice | None = None,
        chimes: Chimes | None = None,
    ) -> Media | None:
        """The audio ``render_text`` would return, if it is made already (nothing is rendered)."""
        if self.cache is None:
            return None
        spoken = spoken_form(session, text=text, accent=accent).text
        try:
            engine = self.engine_for(voice or Voice(self._default))
            hit = cached_render(
                spoken,
                engine=engine,
                store=self.store,
                cache=self.cache,
                accent=accent,
                speed=speed,
                settings=self.with_chimes(chimes),
            )
        except AudioError:
            return None  # a voice that cannot be used is reported when rendering
        return session.get(Media, hit.sha256) if hit is not None else None

    def render_upload(self, session: Session, *, path: Path, chimes: Chimes | None = None) -> Media:
        """Check an uploaded recording and store our own broadcast-ready transcode of it."""
        try:
            rendered = render_upload(path, store=self.store, settings=self.with_chimes(chimes))
        except UploadRejected as exc:
            raise audio_text.invalid_input(exc, field="recording") from exc
        except AudioError as exc:  # not the file: our sound tools (ffmpeg missing, out of disk …)
            log.warning("recording failed: %s", exc)
            raise InvalidInput(
                N_(
                    "The recording could not be processed: the sound tools failed. Try again; if it"
                    " fails again, tell the province administrator. Technical detail: %(error)s"
                ),
                field="recording",
                error=str(exc),
            ) from exc
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


def speech_defaults(session: Session, *, zone_id: int, settings: Settings) -> Speech:
    """How new bulletins of a zone are read: its own choices, else its parents', else the settings'."""
    voice: Voice | None = None
    accent: str | None = None
    speed: int | None = None
    province_code: int | None = None
    zone = session.get(Zone, zone_id)
    seen: set[int] = set()
    while zone is not None and zone.id not in seen:
        seen.add(zone.id or 0)
        if voice is None and zone.speech_engine:
            voice = Voice(zone.speech_engine, zone.speech_voice)
        accent = accent or zone.speech_accent
        speed = speed or zone.speech_speed
        if zone.kind == "province" and zone.code[1:].isdigit():
            province_code = int(zone.code[1:])
        zone = session.get(Zone, zone.parent_id) if zone.parent_id else None
    return Speech(
        voice=voice or Voice(settings.tts_engine),
        accent=accent or settings.tts_accent or region_accent(province_code),
        speed=speed or settings.tts_speed,
    )


def chosen_speech(
    defaults: Speech, *, voice: str | None = None, accent: str | None = None, speed: int | str | None = None
) -> Speech:
    """What a form or a request asks for, ``defaults`` filling in what it leaves out."""
    speed = parse_speed(speed) if isinstance(speed, str) else speed
    return Speech(
        voice=Voice.from_key(voice) if voice and voice.strip() else defaults.voice,
        accent=accent or defaults.accent,
        speed=defaults.speed if speed is None else speed,
    )


def parse_speed(text: str) -> int | None:
    """Words per minute as typed in a form (None if left empty)."""
    text = text.strip()
    if text and not text.isdigit():
        raise InvalidInput(
            N_("The reading speed is a number of words per minute, for example 150."), field="speed"
        )
    return int(text) if text else None


def check_speech(
    *, voice: Voice | None, accent: str | None, speed: int | None, voices: Collection[Voice]
) -> None:
    """InvalidInput (naming the field) for a part that cannot be used; None: not chosen."""
    if voice is not None and voice not in voices:
        raise InvalidInput(N_("This voice is not installed on the server."), field="voice")
    if accent is not None and accent not in ACCENTS:
        raise InvalidInput(N_("Invalid accent."), field="accent")
    if speed is not None and not MIN_SPEED <= speed <= MAX_SPEED:
        raise InvalidInput(
            N_("The reading speed is %(low)s to %(high)s words per minute."),
            field="speed",
            low=MIN_SPEED,
            high=MAX_SPEED,
        )


def speech_table(session: Session, *, settings: Settings) -> list[tuple[Zone, Speech]]:
    """The province, then its communes by name, each with how its new bulletins are read."""
    zones = session.exec(
        select(Zone).where(col(Zone.kind).in_(("province", "commune"))).order_by(col(Zone.name))
    ).all()
    ordered = sorted(zones, key=lambda z: z.kind != "province")
    return [(z, speech_defaults(session, zone_id=z.id or 0, settings=settings)) for z in ordered]


def set_speech_defaults(
    session: Session,
    *,
    user: User,
    zone_id: int,
    voice: Voice | None,
    accent: str | None,
    speed: int | None,
    voices: Collection[Voice],
) -> Zone:
    """An admin sets how new bulletins of a commune (or the province) are read; None: as the parent.

    Bulletins already written keep their own choice; approved ones keep their audio.
    """
    if user.role != "admin":
        raise Forbidden(N_("Only the province administrator may set the default voices."))
    zone = session.get(Zone, zone_id)
    if zone is None or zone.kind not in ("province", "commune"):
        raise InvalidInput(N_("Choose the province or a commune/ward."), field="zone_id")
    check_speech(voice=voice, accent=accent, speed=speed, voices=voices)
    zone.speech_engine = voice.engine if voice else None
    zone.speech_voice = voice.voice if voice else None
    zone.speech_accent, zone.speech_speed = accent, speed
    session.add(zone)
    audit_log.record(
        session,
        actor=user,
        action="zone.speech",
        object_type="zone",
        object_id=zone.id,
        voice=voice.key if voice else None,
        accent=accent,
        speed=speed,
    )
    session.commit()
    session.refresh(zone)
    return zone
