"""The timeline compiler: from occurrences and targets to one clash-free timeline per box (pure)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from playlists.signing import canonical_json
from playlists.wire import PRIORITY_RANK, MediaRef, Priority, TimelineItem


@dataclass(frozen=True)
class Occurrence:
    """One airing of one schedule: what plays, from when, on which boxes."""

    schedule_id: int
    created_order: int  # earlier-created schedules win a clash within a priority tier
    start_ms: int
    media: MediaRef
    priority: Priority
    device_ids: tuple[str, ...]
    bulletin_id: int | None = None
    volume: int = 100

    @property
    def end_ms(self) -> int:
        return self.start_ms + self.media.duration_ms


@dataclass(frozen=True)
class Conflict:
    """An occurrence that lost a clash on a box to another one."""

    device_id: str
    loser_schedule_id: int
    winner_schedule_id: int
    start_ms: int


@dataclass
class Compiled:
    timelines: dict[str, tuple[TimelineItem, ...]] = field(default_factory=dict)
    conflicts: list[Conflict] = field(default_factory=list)


def item_id(schedule_id: int, start_ms: int) -> str:
    """Stable id of an occurrence: the same schedule and instant give the same id in every version."""
    return f"s{schedule_id}-{start_ms}"


def compile_timelines(
    occurrences: Iterable[Occurrence], device_ids: Iterable[str], *, now_ms: int, horizon_ms: int
) -> Compiled:
    """Place occurrences on each box's line; a clash goes to the higher priority, then the older schedule.

    Items that already ended before ``now_ms`` are dropped; so are those starting after the horizon.
    """
    result = Compiled(timelines={device_id: () for device_id in device_ids})
    ranked = sorted(
        (o for o in occurrences if o.end_ms > now_ms and o.start_ms <= now_ms + horizon_ms),
        key=lambda o: (-PRIORITY_RANK[o.priority], o.created_order, o.start_ms),
    )
    placed: dict[str, list[Occurrence]] = {}
    for occurrence in ranked:
        for device_id in occurrence.device_ids:
            if device_id not in result.timelines:
                continue
            line = placed.setdefault(device_id, [])
            clash = next((o for o in line if _overlaps(o, occurrence)), None)
            if clash is not None:
                result.conflicts.append(
                    Conflict(device_id, occurrence.schedule_id, clash.schedule_id, occurrence.start_ms)
                )
                continue
            line.append(occurrence)
    for device_id, line in placed.items():
        result.timelines[device_id] = tuple(_item(o) for o in sorted(line, key=lambda o: o.start_ms))
    return result


def items_digest(items: tuple[TimelineItem, ...]) -> str:
    """A hash of a timeline's items, to publish a new version only when something changed."""
    return hashlib.sha256(canonical_json([i.model_dump(mode="json") for i in items])).hexdigest()


def _overlaps(a: Occurrence, b: Occurrence) -> bool:
    return a.start_ms < b.end_ms and b.start_ms < a.end_ms


def _item(o: Occurrence) -> TimelineItem:
    return TimelineItem(
        id=item_id(o.schedule_id, o.start_ms),
        start_ms=o.start_ms,
        duration_ms=o.media.duration_ms,
        kind="audio",
        priority=o.priority,
        volume=o.volume,
        media=o.media,
        schedule_id=o.schedule_id,
        bulletin_id=o.bulletin_id,
    )
