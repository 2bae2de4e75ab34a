"""Playlists: ordered bulletins, chimes, silences, stream relays and nested playlists (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from playlists.texts import Text
from playlists.wire import MediaRef

ItemKind = Literal["bulletin", "chime", "silence", "stream", "playlist"]
MAX_DEPTH = 8


class PlaylistError(ValueError):
    """A playlist that cannot be played as it stands; ``text`` says why (``str()``: in English)."""

    def __init__(self, code: str, **params: object) -> None:
        self.text = Text.of(f"playlist.{code}", **params)
        super().__init__(str(self.text))


class PlaylistEntry(BaseModel):
    """One line of a playlist, as stored."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ItemKind
    bulletin_id: int | None = None
    media_sha256: str | None = Field(default=None, description="chime: the stored chime audio")
    playlist_id: int | None = None
    duration_ms: int | None = Field(default=None, ge=0, le=6 * 3600 * 1000, description="silence, stream")
    stream_url: str | None = Field(default=None, max_length=500)
    volume: int = Field(default=100, ge=0, le=100)

    @model_validator(mode="after")
    def _fields_for_kind(self) -> PlaylistEntry:
        need = {
            "bulletin": self.bulletin_id is not None,
            "chime": self.media_sha256 is not None,
            "playlist": self.playlist_id is not None,
            "silence": self.duration_ms is not None and self.duration_ms > 0,
            "stream": bool(self.stream_url) and self.duration_ms is not None and self.duration_ms > 0,
        }
        if not need[self.kind]:
            raise ValueError(f"a {self.kind} entry is missing what it plays or how long")
        if self.kind == "stream" and not (self.stream_url or "").startswith(("http://", "https://")):
            raise ValueError("a stream relay needs an http(s) URL")
        return self


@dataclass(frozen=True)
class Segment:
    """What a box plays, in order: audio (with media), a stream for a duration, or silence."""

    kind: Literal["audio", "stream", "silence"]
    duration_ms: int
    media: MediaRef | None = None
    stream_url: str | None = None
    bulletin_id: int | None = None
    volume: int = 100


def expand(
    entries: tuple[PlaylistEntry, ...],
    *,
    playlists: Mapping[int, tuple[PlaylistEntry, ...]],
    bulletins: Mapping[int, MediaRef | None],
    chimes: Mapping[str, MediaRef],
    _depth: int = 0,
    _seen: frozenset[int] = frozenset(),
) -> tuple[Segment, ...]:
    """Flatten a playlist into segments; refuses unapproved bulletins, unknown items and cycles.

    ``bulletins`` maps a bulletin id to its approved media, or None when it is not approved.
    """
    if _depth > MAX_DEPTH:
        raise PlaylistError("too_deep")
    segments: list[Segment] = []
    for entry in entries:
        if entry.kind == "bulletin":
            assert entry.bulletin_id is not None
            if entry.bulletin_id not in bulletins:
                raise PlaylistError("bulletin_missing", id=entry.bulletin_id)
            media = bulletins[entry.bulletin_id]
            if media is None:
                raise PlaylistError("bulletin_unapproved", id=entry.bulletin_id)
            segments.append(
                Segment(
                    "audio",
                    media.duration_ms,
                    media=media,
                    bulletin_id=entry.bulletin_id,
                    volume=entry.volume,
                )
            )
        elif entry.kind == "chime":
            chime = chimes.get(entry.media_sha256 or "")
            if chime is None:
                raise PlaylistError("chime_missing")
            segments.append(Segment("audio", chime.duration_ms, media=chime, volume=entry.volume))
        elif entry.kind == "silence":
            segments.append(Segment("silence", entry.duration_ms or 0))
        elif entry.kind == "stream":
            segments.append(
                Segment("stream", entry.duration_ms or 0, stream_url=entry.stream_url, volume=entry.volume)
            )
        else:
            assert entry.playlist_id is not None
            if entry.playlist_id in _seen:
                raise PlaylistError("loop")
            if entry.playlist_id not in playlists:
                raise PlaylistError("playlist_missing", id=entry.playlist_id)
            segments.extend(
                expand(
                    playlists[entry.playlist_id],
                    playlists=playlists,
                    bulletins=bulletins,
                    chimes=chimes,
                    _depth=_depth + 1,
                    _seen=_seen | {entry.playlist_id},
                )
            )
    return tuple(segments)


def total_duration_ms(segments: tuple[Segment, ...]) -> int:
    return sum(s.duration_ms for s in segments)
