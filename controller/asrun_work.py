"""One transaction of the as-run fold: the occurrences it touches, as they were and as they are, and
what that changes in the rollups and tallies (computed by controller/reconcile.py)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import tuple_
from sqlmodel import Session, col, select

from controller import rollups
from controller.asrun_facts import Content, Places
from controller.models import AirtimeRollup, BroadcastTally, Occurrence, ReasonRollup
from controller.reconcile import (
    BROADCASTS,
    COUNTED,
    SECONDS,
    STATES,
    BroadcastRef,
    Deltas,
    ItemFacts,
    TallyKey,
)

T = TypeVar("T")
Pair = tuple[str, str]  # device id, broadcast key
AIRTIME_KEYS = ("grain", "period", "commune_id", "zone_id", "device_id", "category", "language")
REASON_KEYS = ("grain", "period", "commune_id", "state", "reason")
# A broadcast's summary enters the export feed this long (plus the as-run grace) after it started,
# when every box's outcome is known, and again whenever it changes after that (export_api.py).
EXPORT_SETTLE = timedelta(hours=6)


def chunks(items: Sequence[T], size: int = rollups.CHUNK) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def facts_of(row: Occurrence) -> ItemFacts:
    return ItemFacts(
        device_id=row.device_id,
        broadcast_key=row.broadcast_key,
        source=row.source,
        source_id=row.source_id,
        broadcast_at=row.broadcast_at,
        scheduled_at=row.scheduled_at,
        category=row.category,
        language=row.language,
        zone_id=row.zone_id,
        commune_id=row.commune_id,
        state=row.state,
        seconds=row.seconds_aired,
        reason=row.reason,
    )


def content_fields(content: Content) -> dict[str, Any]:
    return {
        "duration_ms": content.duration_ms,
        "kind": content.kind,
        "bulletin_id": content.bulletin_id,
        "category": content.category,
        "language": content.language,
    }


def timed_fields(broadcast_at: datetime, scheduled_at: datetime, content: Content) -> dict[str, Any]:
    return {
        "broadcast_at": broadcast_at,
        "scheduled_at": scheduled_at,
        "ends_at": scheduled_at + timedelta(milliseconds=content.duration_ms),
        **content_fields(content),
    }


class Work:
    """The occurrences of the (box, broadcast) pairs one transaction touches.

    ``load`` the pairs first (what they were is remembered), then change, ``add`` or ``remove`` rows,
    then ``finish``: it writes the rows and adds what changed to the rollups and tallies.
    """

    def __init__(
        self, session: Session, tz: ZoneInfo, places: Places, *, now: datetime, listed_after: timedelta
    ) -> None:
        """``now``: the fold's present; ``listed_after``: how long after a broadcast starts its
        summary is first listed for export (``EXPORT_SETTLE`` plus the grace)."""
        self.session, self.places = session, places
        self.now, self.listed_after = now, listed_after
        self.deltas = Deltas(tz)
        self.pairs: dict[Pair, list[Occurrence]] = {}
        self._before: dict[Pair, list[ItemFacts]] = {}

    def load(self, pairs: Iterable[Pair]) -> None:
        wanted = sorted(set(pairs) - set(self.pairs))
        for pair in wanted:
            self.pairs[pair] = []
        for chunk in chunks(wanted):
            keys = [(key, device) for device, key in chunk]
            query = select(Occurrence).where(
                tuple_(col(Occurrence.broadcast_key), col(Occurrence.device_id)).in_(keys)
            )
            for row in self.session.exec(query).all():
                self.pairs[(row.device_id, row.broadcast_key)].append(row)
        for pair in wanted:
            self._before[pair] = [facts_of(r) for r in self.pairs[pair]]

    def row(self, device_id: str, key: str, item_id: str) -> Occurrence | None:
        return next((r for r in self.pairs.get((device_id, key), ()) if r.item_id == item_id), None)

    def new(self, device_id: str, item_id: str, ref: BroadcastRef, fields: dict[str, Any]) -> Occurrence:
        """Add the occurrence of an item given to a box (its pair must be loaded)."""
        place = self.places.of(device_id)
        row = Occurrence(
            device_id=device_id,
            item_id=item_id,
            broadcast_key=ref.key,
            source=ref.source,
            source_id=ref.source_id,
            zone_id=place.zone_id,
            commune_id=place.commune_id,
            **fields,
        )
        self.pairs.setdefault((device_id, ref.key), []).append(row)
        self.session.add(row)
        return row

    def remove(self, row: Occurrence) -> None:
        self.pairs[(row.device_id, row.broadcast_key)].remove(row)
        self.session.delete(row)

    def finish(self) -> None:
        """Write the changed occurrences and what they change in the rollups and tallies."""
        for pair, rows in self.pairs.items():
            self.deltas.add_pair(self._before.get(pair, []), -1)
            self.deltas.add_pair([facts_of(r) for r in rows], 1)
        self.session.flush()
        tallies = self.deltas.changed_tallies()
        self._count_broadcasts(tallies)
        airtime = [
            {
                **dict(zip(AIRTIME_KEYS, key, strict=True)),
                **{state: int(v[i]) for i, state in enumerate(COUNTED)},
                "seconds": v[SECONDS],
                "broadcasts": int(v[BROADCASTS]),
            }
            for key, v in self.deltas.changed_airtime().items()
        ]
        rollups.add(
            self.session, AirtimeRollup, airtime, keys=AIRTIME_KEYS, sums=(*COUNTED, "seconds", "broadcasts")
        )
        reasons = [
            {**dict(zip(REASON_KEYS, key, strict=True)), "count": count}
            for key, count in self.deltas.changed_reasons().items()
        ]
        rollups.add(self.session, ReasonRollup, reasons, keys=REASON_KEYS, sums=("count",))
        tally_rows = []
        for (key, commune_id), counts in tallies.items():
            info = self.deltas.tally_info[(key, commune_id)]
            tally_rows.append(
                {
                    "broadcast_key": key,
                    "commune_id": commune_id,
                    "source": info.source,
                    "source_id": info.source_id,
                    "broadcast_at": info.broadcast_at,
                    "category": info.category,
                    "language": info.language,
                    **{state: counts.get(state, 0) for state in STATES},
                    "listed_at": max(self.now, info.broadcast_at + self.listed_after),
                }
            )
        rollups.add(
            self.session,
            BroadcastTally,
            tally_rows,
            keys=("broadcast_key", "commune_id"),
            sums=STATES,
            latest=("listed_at",),
        )

    def _count_broadcasts(self, tallies: dict[TallyKey, dict[str, int]]) -> None:
        """A broadcast counts for a commune while at least one of its boxes there aired it (wholly or
        partly): compare each changed commune tally as stored with what it becomes."""
        keys = sorted(k for k in tallies if k[1] != 0)
        stored: dict[TallyKey, int] = {}
        for chunk in chunks(keys):
            query = select(
                BroadcastTally.broadcast_key,
                BroadcastTally.commune_id,
                BroadcastTally.aired,
                BroadcastTally.partial,
            ).where(tuple_(col(BroadcastTally.broadcast_key), col(BroadcastTally.commune_id)).in_(chunk))
            for broadcast_key, commune_id, aired, partial in self.session.exec(query).all():
                stored[(broadcast_key, commune_id)] = aired + partial
        for tally in keys:
            before = stored.get(tally, 0)
            after = before + tallies[tally].get("aired", 0) + tallies[tally].get("partial", 0)
            if (before > 0) != (after > 0):
                self.deltas.broadcast(tally, 1 if after > 0 else -1)
