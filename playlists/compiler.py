"""The timeline compiler: from occurrences, boxes and policies to one clash-free timeline per box (pure).

Deterministic: the same input gives byte-identical items. Each box is compiled on its own, so
compiling a subset of boxes gives exactly what a full compile gives for them (incremental compile).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cache, cached_property

from playlists.playlist import Segment, total_duration_ms
from playlists.policy import Session, ZonePolicy, check, quiet_violation
from playlists.signing import canonical_json
from playlists.texts import Text
from playlists.wire import PRIORITY_RANK, Priority, TimelineItem, to_dict


@dataclass(frozen=True)
class Occurrence:
    """One airing of one schedule: what plays (segments), from when, on which boxes."""

    schedule_id: int
    created_order: int  # earlier-created schedules win a clash within a priority tier
    start_ms: int
    segments: tuple[Segment, ...]
    priority: Priority
    device_ids: tuple[str, ...]
    volume: int = 100

    # Cached: the clash check asks for these millions of times in a province-size compile.
    @cached_property
    def duration_ms(self) -> int:
        return total_duration_ms(self.segments)

    @cached_property
    def end_ms(self) -> int:
        return self.start_ms + self.duration_ms

    @cached_property
    def start(self) -> datetime:
        return datetime.fromtimestamp(self.start_ms / 1000, UTC)


@dataclass(frozen=True)
class Conflict:
    """An occurrence left off a box: it lost a clash, or breaks the box's zone policy."""

    device_id: str
    schedule_id: int
    start_ms: int
    reason: str  # clash, quiet_hours, max_sessions, max_minutes
    text: Text  # what to tell the reader (worded in their language by the controller)
    winner_schedule_id: int | None = None


_CLASH = Text("compile.clash")


@cache  # a handful of windows, met once per dropped airing of a province-size compile
def _quiet_text(window: str) -> Text:
    return Text.of("compile.quiet_hours", window=window)


@dataclass
class Compiled:
    timelines: dict[str, tuple[TimelineItem, ...]] = field(default_factory=dict)
    conflicts: list[Conflict] = field(default_factory=list)


def item_id(schedule_id: int, start_ms: int, index: int = 0) -> str:
    """Stable id of a segment of an occurrence: same schedule, instant and position, same id."""
    return f"s{schedule_id}-{start_ms}-{index}"


def compile_timelines(
    occurrences: Iterable[Occurrence],
    device_ids: Iterable[str],
    *,
    now_ms: int,
    horizon_ms: int,
    policies: Mapping[str, ZonePolicy] | None = None,
) -> Compiled:
    """Place occurrences on each box's line.

    Per box: occurrences that already ended or start past the horizon are left out; normal and
    priority ones in quiet hours are dropped; a clash goes to the higher priority, then to the older
    schedule; daily caps drop the later sessions; volume is capped by time of day. Emergency
    occurrences override every policy.
    """
    policies = policies or {}
    wanted = set(device_ids)
    per_device: dict[str, list[Occurrence]] = defaultdict(list)
    for occurrence in occurrences:
        if occurrence.end_ms <= now_ms or occurrence.start_ms > now_ms + horizon_ms:
            continue
        for device_id in occurrence.device_ids:
            if device_id in wanted:
                per_device[device_id].append(occurrence)
    result = Compiled(timelines={device_id: () for device_id in sorted(wanted)})
    # Boxes with the same candidates and policy (typically a village) get the same line: compile it once.
    groups: dict[tuple[tuple[int, ...], ZonePolicy | None], list[str]] = defaultdict(list)
    for device_id in sorted(per_device):
        candidates = per_device[device_id]
        groups[(tuple(id(o) for o in candidates), policies.get(device_id))].append(device_id)
    for (_ids, policy), members in groups.items():
        line, conflicts = _compile_box(members[0], per_device[members[0]], policy)
        for device_id in members:
            result.timelines[device_id] = line
            result.conflicts.extend(
                c if device_id == members[0] else replace(c, device_id=device_id) for c in conflicts
            )
    result.conflicts.sort(key=lambda c: (c.device_id, c.start_ms, c.schedule_id))
    return result


def _compile_box(
    device_id: str, candidates: list[Occurrence], policy: ZonePolicy | None
) -> tuple[tuple[TimelineItem, ...], list[Conflict]]:
    conflicts: list[Conflict] = []
    allowed = []
    for o in candidates:
        window = None
        if policy is not None and policy.quiet_hours and o.priority != "emergency":
            window = quiet_violation(policy, Session(o, o.start, o.duration_ms, o.priority))
        if window is None:
            allowed.append(o)
        else:
            conflicts.append(
                Conflict(
                    device_id,
                    o.schedule_id,
                    o.start_ms,
                    "quiet_hours",
                    _quiet_text(window),
                )
            )
    placed: list[Occurrence] = []
    for o in sorted(allowed, key=_rank):
        clash = next((p for p in placed if p.start_ms < o.end_ms and o.start_ms < p.end_ms), None)
        if clash is None:
            placed.append(o)
        else:
            conflicts.append(
                Conflict(
                    device_id,
                    o.schedule_id,
                    o.start_ms,
                    "clash",
                    _CLASH,
                    clash.schedule_id,
                )
            )
    if policy is not None:
        sessions = [Session(o, o.start, o.duration_ms, o.priority) for o in placed]
        for violation in check(policy, sessions, quiet_hours=False):  # quiet hours were applied above
            loser = violation.key
            assert isinstance(loser, Occurrence)
            placed.remove(loser)
            conflicts.append(
                Conflict(device_id, loser.schedule_id, loser.start_ms, violation.rule, violation.text)
            )
    items = [
        item for o in sorted(placed, key=lambda o: (o.start_ms, o.schedule_id)) for item in _items(o, policy)
    ]
    return tuple(items), conflicts


def _rank(o: Occurrence) -> tuple[int, int, int]:
    return (-PRIORITY_RANK[o.priority], o.created_order, o.start_ms)


def _items(o: Occurrence, policy: ZonePolicy | None) -> list[TimelineItem]:
    items = []
    start = o.start_ms
    for index, segment in enumerate(o.segments):
        volume = segment.volume * o.volume // 100
        if policy is not None and o.priority != "emergency":
            volume = min(volume, policy.max_volume_at(datetime.fromtimestamp(start / 1000, UTC)))
        items.append(
            TimelineItem(
                id=item_id(o.schedule_id, o.start_ms, index),
                start_ms=start,
                duration_ms=segment.duration_ms,
                kind=segment.kind,
                priority=o.priority,
                volume=volume,
                media=segment.media,
                stream_url=segment.stream_url,
                schedule_id=o.schedule_id,
                bulletin_id=segment.bulletin_id,
            )
        )
        start += segment.duration_ms
    return items


def items_digest(items: tuple[TimelineItem, ...]) -> str:
    """A hash of a timeline's items, to publish a new version only when something changed."""
    return hashlib.sha256(canonical_json([to_dict(i) for i in items])).hexdigest()
