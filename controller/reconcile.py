"""The rules of the as-run log as pure functions (no I/O; controller/asrun_fold.py reads and writes).

An *occurrence* is one item a box was given to play; it ends in exactly one state:

========== ================================================================================
aired      the box reported ``completed``
partial    ``interrupted`` (``seconds_aired`` went on air), or failed/skipped after some of it aired
failed     ``failed`` before any of it aired (the reason says why)
skipped    ``skipped`` (late, expired, stopped, …)
missing    no final receipt by the grace period after its scheduled end; a late receipt replaces it
========== ================================================================================

A *broadcast* is one airing of a schedule (``s<schedule>-<start ms>``) or one emergency (``e<id>``);
a box's outcome of a broadcast folds the states of its content items (chimes and silences are not
content). Reports count items and seconds from rollups (:class:`Deltas`), and boxes per broadcast from
tallies.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from controller.i18n import N_

STATES = ("pending", "aired", "partial", "failed", "skipped", "missing")
FINAL_STATES = STATES[1:]
STATE_NAMES = {
    "pending": N_("Not due yet"),
    "aired": N_("Aired"),
    "partial": N_("Partly aired"),
    "failed": N_("Failed"),
    "skipped": N_("Skipped"),
    "missing": N_("No report"),
}
EVENT_STATE = {"completed": "aired", "interrupted": "partial", "failed": "failed", "skipped": "skipped"}
NOT_CONTENT = frozenset({"chime", "silence"})  # tracked, but neither airtime nor a broadcast's outcome
RELAY, OTHER = "relay", "other"
LANGUAGES = {
    "vi": N_("Vietnamese"),
    "thai": N_("Thai"),
    "mong": N_("Hmong"),
    "khmu": N_("Khmu"),
    "other": N_("Another ethnic language"),
}
NO_RECEIPT = "no_receipt"
REASONS = {
    "late": N_("The box was off or busy (more than 5 s late)"),
    "clock_jump": N_("The box's clock jumped"),
    "expired": N_("The box's timeline had expired"),
    "no_stream_url": N_("No address for the relay"),
    "media_missing": N_("The box did not have the audio file"),
    "hash_mismatch": N_("The audio file did not match its hash"),
    "sink_error": N_("Playback error"),
    "preempted": N_("Interrupted by something of higher priority"),
    "play_now": N_("Interrupted by a play-now command"),
    "stopped": N_("Stopped by a command"),
    "agent_restarted": N_("The box's software restarted"),
    "agent_stopped": N_("The box's software stopped"),
    NO_RECEIPT: N_("No report received"),
}
_ITEM = re.compile(r"^s(\d+)-(\d+)-\d+\Z")
_EMERGENCY = re.compile(r"^e(\d+)\Z")


@dataclass(frozen=True)
class BroadcastRef:
    """The broadcast an item belongs to, read from its id (playlists.compiler.item_id, emergency)."""

    key: str
    source: str  # schedule or emergency
    source_id: int
    start_ms: int | None  # None for an emergency: its send time is in its row


def broadcast_of(item_id: str) -> BroadcastRef | None:
    """``s12-1764806400000-1`` → schedule 12's broadcast at that instant; ``e5`` → emergency 5."""
    if match := _ITEM.match(item_id):
        sid, start = int(match[1]), int(match[2])
        return BroadcastRef(f"s{sid}-{start}", "schedule", sid, start)
    if match := _EMERGENCY.match(item_id):
        return BroadcastRef(item_id, "emergency", int(match[1]), None)
    return None


def is_content(category: str) -> bool:
    return category not in NOT_CONTENT


def reason_code(reason: str | None) -> str:
    """A reason as a short code for grouping: ``stopped:cmd-17`` → ``stopped``."""
    if not reason:
        return ""
    return reason.split(":", 1)[0].strip().lower()[:64]


@dataclass(frozen=True)
class Outcome:
    """What the receipts so far say about one occurrence."""

    state: str = "pending"
    seconds: float = 0.0
    reason: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    final_seq: int = 0


@dataclass(frozen=True)
class ReceiptFacts:
    """The parts of a receipt the as-run log uses."""

    seq: int
    event: str
    started_at: datetime | None = None
    ended_at: datetime | None = None
    seconds_aired: float | None = None
    reason: str | None = None


def airing_seconds(receipt: ReceiptFacts, *, duration_s: float) -> float:
    """How much one final receipt says went on air."""
    if receipt.seconds_aired is not None:
        return min(receipt.seconds_aired, duration_s)
    if receipt.event != "completed":
        return 0.0
    if receipt.started_at is not None and receipt.ended_at is not None:
        return max(0.0, min((receipt.ended_at - receipt.started_at).total_seconds(), duration_s))
    return duration_s


def apply_receipt(outcome: Outcome, receipt: ReceiptFacts, *, duration_s: float) -> Outcome:
    """Fold one receipt in.

    Seconds add up over airings (an interrupted item that resumes; an emergency repeated: its duration
    covers every repetition), up to the item's duration. The state is the newest final receipt's (by
    the box's seq, whatever the arrival order); something that failed or was skipped after part of it
    aired counts as partial.
    """
    started = min((t for t in (outcome.started_at, receipt.started_at) if t is not None), default=None)
    ended = max((t for t in (outcome.ended_at, receipt.ended_at) if t is not None), default=None)
    outcome = replace(outcome, started_at=started, ended_at=ended)
    state = EVENT_STATE.get(receipt.event)
    if state is None:  # started, or a command's receipt
        return outcome
    seconds = min(duration_s, outcome.seconds + airing_seconds(receipt, duration_s=duration_s))
    if receipt.seq < outcome.final_seq:
        return replace(outcome, seconds=seconds)
    if state in ("failed", "skipped") and seconds > 0:
        state = "partial"
    return replace(outcome, state=state, seconds=seconds, reason=receipt.reason, final_seq=receipt.seq)


def box_state(states: Iterable[str]) -> str | None:
    """A box's outcome of a broadcast from its content items' states (None if it had none)."""
    found = set(states)
    if not found:
        return None
    if "pending" in found:
        return "pending"
    if found == {"aired"}:
        return "aired"
    if found & {"aired", "partial"}:
        return "partial"
    for state in ("missing", "failed"):
        if state in found:
            return state
    return "skipped"


def delivery_rate(aired: int, due: int) -> float | None:
    """Share of what was due (every final state) that fully aired; None when nothing was due."""
    return aired / due if due else None


@dataclass(frozen=True)
class ItemFacts:
    """What the rollups need of one occurrence."""

    device_id: str
    broadcast_key: str
    source: str
    source_id: int
    broadcast_at: datetime
    scheduled_at: datetime
    category: str
    language: str
    zone_id: int
    commune_id: int
    state: str
    seconds: float
    reason: str | None


# The rollups' grains: per box by day, ISO week, month; per commune likewise; the province by day.
BOX_GRAINS = {"day": "d", "week": "w", "month": "m"}
COMMUNE_GRAINS = {"day": "c", "week": "k", "month": "n"}
PROVINCE_DAY = "p"
COUNTED = ("aired", "partial", "failed", "skipped", "missing")  # a rollup vector: these, seconds, broadcasts
SECONDS, BROADCASTS = len(COUNTED), len(COUNTED) + 1

RollupKey = tuple[
    str, date, int, int, str, str, str
]  # grain, period, commune, zone, device, category, language
ReasonKey = tuple[str, date, int, str, str]  # grain, period, commune, state, reason code
TallyKey = tuple[str, int]  # broadcast key, commune (0: the province)


def grain_period(grain: str, day: date) -> date:
    """The first day of the day, week or month of ``grain`` that holds ``day``."""
    if grain in ("w", "k"):
        return day - timedelta(days=day.weekday())
    if grain in ("m", "n"):
        return day.replace(day=1)
    return day


@dataclass(frozen=True)
class TallyInfo:
    source: str
    source_id: int
    broadcast_at: datetime
    category: str
    language: str


def _vector() -> list[float]:
    return [0.0] * (len(COUNTED) + 2)


@dataclass
class Deltas:
    """Changes to the rollups and tallies, summed over a transaction's changes to occurrences.

    Add a (box, broadcast) pair's items as they were with ``sign=-1`` and as they are with ``sign=1``:
    what is left is exactly what changed. ``broadcast`` adds a broadcast that started or stopped
    counting as aired in a commune (the caller knows from the tally it had).
    """

    tz: ZoneInfo
    airtime: dict[RollupKey, list[float]] = field(default_factory=lambda: defaultdict(_vector))
    reasons: dict[ReasonKey, int] = field(default_factory=lambda: defaultdict(int))
    tallies: dict[TallyKey, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))
    tally_info: dict[TallyKey, TallyInfo] = field(default_factory=dict)

    def add_pair(self, items: Iterable[ItemFacts], sign: int) -> None:
        content = sorted((i for i in items if is_content(i.category)), key=lambda i: i.scheduled_at)
        for item in content:
            if item.state == "pending":
                continue
            day = item.scheduled_at.astimezone(self.tz).date()
            where = (item.commune_id, item.zone_id, item.device_id)
            keys: list[RollupKey] = [
                (g, grain_period(g, day), *where, item.category, item.language) for g in BOX_GRAINS.values()
            ]
            keys += [
                (g, grain_period(g, day), item.commune_id, 0, "", item.category, item.language)
                for g in COMMUNE_GRAINS.values()
            ]
            keys.append((PROVINCE_DAY, day, 0, 0, "", item.category, item.language))
            index = COUNTED.index(item.state)
            for key in keys:
                vector = self.airtime[key]
                vector[index] += sign
                vector[SECONDS] += sign * item.seconds
            if item.state != "aired":
                code = NO_RECEIPT if item.state == "missing" else reason_code(item.reason)
                for grain in ("c", "n"):
                    self.reasons[(grain, grain_period(grain, day), item.commune_id, item.state, code)] += sign
        state = box_state(i.state for i in content)
        if state is None:
            return
        first = content[0]
        info = TallyInfo(first.source, first.source_id, first.broadcast_at, first.category, first.language)
        for commune_id in (first.commune_id, 0):
            tally = (first.broadcast_key, commune_id)
            self.tally_info.setdefault(tally, info)
            counts = self.tallies[tally]
            counts[state] = counts.get(state, 0) + sign

    def broadcast(self, tally: TallyKey, change: int) -> None:
        """The broadcast started (+1) or stopped (-1) counting as aired in the commune."""
        info = self.tally_info[tally]
        day = info.broadcast_at.astimezone(self.tz).date()
        for grain in COMMUNE_GRAINS.values():
            key = (grain, grain_period(grain, day), tally[1], 0, "", info.category, info.language)
            self.airtime[key][BROADCASTS] += change

    def changed_airtime(self) -> dict[RollupKey, list[float]]:
        return {k: v for k, v in self.airtime.items() if any(abs(x) > 1e-9 for x in v)}

    def changed_reasons(self) -> dict[ReasonKey, int]:
        return {k: n for k, n in self.reasons.items() if n}

    def changed_tallies(self) -> dict[TallyKey, dict[str, int]]:
        found = {}
        for key, counts in self.tallies.items():
            nonzero = {s: n for s, n in counts.items() if n}
            if nonzero:
                found[key] = nonzero
        return found
