"""The player's rules as pure functions: which item is due, what may interrupt what, why an item is
skipped. No I/O and no clock: instants are passed in (ARCHITECTURE.md, invariant 6)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Literal, TypedDict

from playlists.wire import PRIORITY_RANK, Command, Timeline, TimelineItem

LATE_AFTER_MS = 5_000  # past this, the box was off or busy: the item is skipped, not played late
TONE_RANK = -1  # a test tone never interrupts anything, and any item interrupts it

Origin = Literal["timeline", "command", "resume"]
Kind = Literal["audio", "stream", "silence", "tone"]


class ReceiptFields(TypedDict):
    """What every receipt about an airing carries."""

    item_id: str | None
    timeline_version: int | None
    scheduled_at_ms: int | None
    media_sha256: str | None
    command_id: str | None


@dataclass
class Entry:
    """One thing to put on air: a timeline item, a play_now item, a test tone, or the rest of an
    item that a play_now interrupted (``origin="resume"``)."""

    key: str
    rank: int
    kind: Kind
    start_ms: int
    duration_ms: int
    fields: ReceiptFields
    origin: Origin
    item: TimelineItem | None = None
    offset_ms: int = 0
    frequency_hz: int = 1000
    run: Run | None = None

    @property
    def receipts(self) -> bool:
        """A test tone is reported by its command_done alone."""
        return self.kind != "tone"


@dataclass
class Run:
    """A play_now or test_tone command being carried out."""

    command: Command
    received_ms: int
    item: TimelineItem | None = None  # play_now
    tone: tuple[int, int] = (0, 0)  # test_tone: (seconds, frequency_hz)
    repeat: int = 1
    after: Literal["resume", "skip"] = "skip"
    done: int = 0
    due_ms: int = 0
    first_started_ms: int | None = None
    suspended: list[Entry] = field(default_factory=list)

    @property
    def rank(self) -> int:
        return PRIORITY_RANK[self.item.priority] if self.item is not None else TONE_RANK

    def entry(self, rep: int | None = None) -> Entry:
        """Repetition ``rep`` (counted from 0; default: the next one to play)."""
        cid = self.command.id
        rep = self.done if rep is None else rep
        if self.item is None:
            seconds, frequency = self.tone
            fields = ReceiptFields(
                item_id=None,
                timeline_version=None,
                scheduled_at_ms=self.due_ms,
                media_sha256=None,
                command_id=cid,
            )
            return Entry(
                f"cmd:{cid}:{rep}",
                TONE_RANK,
                "tone",
                self.due_ms,
                seconds * 1000,
                fields,
                "command",
                frequency_hz=frequency,
                run=self,
            )
        item = self.item
        fields = ReceiptFields(
            item_id=item.id,
            timeline_version=None,
            scheduled_at_ms=self.due_ms,
            media_sha256=item.media.sha256 if item.media is not None else None,
            command_id=cid,
        )
        kind: Kind = item.kind
        return Entry(
            f"cmd:{cid}:{rep}",
            self.rank,
            kind,
            self.due_ms,
            item.duration_ms,
            fields,
            "command",
            item=item,
            run=self,
        )


def timeline_entry(timeline: Timeline, item: TimelineItem) -> Entry:
    fields = ReceiptFields(
        item_id=item.id,
        timeline_version=timeline.version,
        scheduled_at_ms=item.start_ms,
        media_sha256=item.media.sha256 if item.media is not None else None,
        command_id=None,
    )
    kind: Kind = item.kind
    return Entry(
        f"item:{item.id}",
        PRIORITY_RANK[item.priority],
        kind,
        item.start_ms,
        item.duration_ms,
        fields,
        "timeline",
        item=item,
    )


def resumed(entry: Entry, aired_ms: int, now_ms: int) -> Entry:
    """What is left of ``entry`` after ``aired_ms`` more of it went on air."""
    offset = entry.offset_ms + aired_ms
    return Entry(
        f"resume:{entry.key}:{offset}",
        entry.rank,
        entry.kind,
        now_ms,
        entry.duration_ms,
        entry.fields,
        "resume",
        item=entry.item,
        offset_ms=offset,
    )


def in_window(timeline: Timeline, item: TimelineItem) -> bool:
    return timeline.valid_from_ms <= item.start_ms < timeline.valid_until_ms


def open_items(timeline: Timeline, handled: Collection[str]) -> list[TimelineItem]:
    """Items not handled yet, in their order of play (instant, then priority)."""
    items = [item for item in timeline.items if item.id not in handled and in_window(timeline, item)]
    return sorted(items, key=lambda item: (item.start_ms, -PRIORITY_RANK[item.priority], item.id))


def next_due(timeline: Timeline, handled: Collection[str], now_ms: int) -> TimelineItem | None:
    """The first item not yet handled whose instant has come."""
    for item in open_items(timeline, handled):
        return item if item.start_ms <= now_ms else None
    return None


def next_start_ms(timeline: Timeline, handled: Collection[str]) -> int | None:
    """The instant of the next item not yet handled."""
    items = open_items(timeline, handled)
    return items[0].start_ms if items else None


def skip_reason(
    timeline: Timeline, item: TimelineItem, now_ms: int, *, trouble_until_ms: int | None = None
) -> str | None:
    """Why a due item must not be played now, or None if it may.

    An item more than five seconds late is skipped: ``clock_jump`` when its instant fell in a stretch
    the box's clock jumped over or could not be trusted, ``late`` otherwise (box off, or busy with
    something of higher priority).
    """
    if now_ms - item.start_ms > LATE_AFTER_MS:
        if trouble_until_ms is not None and item.start_ms <= trouble_until_ms:
            return "clock_jump"
        return "late"
    if now_ms >= timeline.valid_until_ms:
        return "expired"
    if item.kind == "stream" and not item.stream_url:
        return "no_stream_url"
    return None


def timeline_preempts(airing_rank: int, item_rank: int) -> bool:
    """A timeline item interrupts what plays only if it is of strictly higher priority."""
    return item_rank > airing_rank


def command_preempts(airing_rank: int, command_rank: int) -> bool:
    """A play_now interrupts what plays if that is of lower or equal priority (emergency: anything)."""
    return airing_rank <= command_rank
