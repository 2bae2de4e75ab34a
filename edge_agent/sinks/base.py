"""The sink interface: prepare ahead of the instant (decode), start at the instant, finish after."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

SourceKind = Literal["file", "tone", "stream"]


class SinkError(RuntimeError):
    """The sink could not prepare or play something; the message goes into the receipt."""


@dataclass(frozen=True, kw_only=True)
class Source:
    """What to play: a verified media file, a test tone, or a stream URL."""

    label: str  # the item id (file names, logs)
    kind: SourceKind
    duration_ms: int  # planned playing time (a stream plays exactly this long)
    path: Path | None = None
    url: str | None = None
    frequency_hz: int = 1000
    offset_ms: int = 0  # start this far into the source: the rest of an interrupted item
    volume: int = 100  # the item's volume, percent of the box's


@dataclass(frozen=True)
class PlayResult:
    """What went on air."""

    started_at_ms: int
    first_sample_ms: int | None
    ended_at_ms: int
    aired_ms: int
    error: str | None = None


class Prepared(Protocol):
    """A source made ready to start at once (decoded, device process waiting)."""

    source: Source

    def discard(self) -> None:
        """Free what ``prepare`` made; safe to call more than once."""
        ...


class Playback(Protocol):
    """Something playing now."""

    @property
    def first_sample_ms(self) -> int | None: ...

    def remaining_s(self) -> float | None:
        """Seconds until it ends by itself, if the sink knows (it calls ``wake`` otherwise)."""
        ...

    def done(self) -> bool: ...

    def stop(self) -> None:
        """Silence it now."""
        ...

    def finish(self) -> PlayResult:
        """After ``done`` or ``stop``: record what aired (the file sink writes its files here)."""
        ...


class Sink(Protocol):
    """Plays one thing at a time for the player."""

    def prepare(self, source: Source) -> Prepared:
        """Everything slow (decoding), ahead of the instant; raises SinkError."""
        ...

    def start(self, prepared: Prepared, wake: Callable[[], None]) -> Playback:
        """Start sound now (fast); ``wake`` is called when it ends by itself."""
        ...

    def set_volume(self, volume: int) -> None:
        """The box's volume, percent; applies from the next item at the latest."""
        ...


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def effective_volume(box_volume: int, item_volume: int) -> int:
    """The item's volume is a percent of the box's volume."""
    return round(box_volume * item_volume / 100)
