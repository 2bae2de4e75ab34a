"""The as-run fold: published timelines, emergencies and stored receipts → occurrences, their outcomes,
and the rollups and tallies the reports read. The leader runs it as the job ``asrun-fold``;
``loa audit reconcile`` runs it once.

It is not on the MQTT receipt path. It reads receipts after they are stored, by their place in the
receipt chain (``chain_seq``): that place is given under the chain head's lock and committed in order,
so a watermark on it never passes over a receipt that commits late (an autoincrement id could).
Each step is one transaction per batch and moves its watermark in that transaction: a crash redoes a
batch, never half of one. Every transaction first takes the fold's lock row, so two runs (the job and
the command) take turns; batches are small, so ingest never waits long for SQLite's write lock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy import Engine, and_, func, or_
from sqlalchemy.orm import defer
from sqlmodel import Session, col, select

from controller import uptime
from controller.asrun_facts import Catalogue, Places
from controller.asrun_work import EXPORT_SETTLE, Work, chunks, timed_fields
from controller.models import AsRunDevice, DeviceTimeline, Emergency, Occurrence, Receipt, utcnow
from controller.reconcile import BroadcastRef, Outcome, ReceiptFacts, apply_receipt, broadcast_of
from controller.rollups import lock
from controller.settings import Settings
from playlists.wire import Timeline

log = logging.getLogger(__name__)
# Each transaction holds SQLite's write lock while it works (it must: a SQLite transaction that read
# first cannot write once ingest has committed meanwhile), so each does a bounded, small piece:
# about a tenth of a second on a 2-core machine, however far behind the fold is.
BATCH = 500  # receipts, or items marked missing, per transaction
DEVICES_PER_TRANSACTION = 10  # published timelines per transaction (a 7-day timeline: ~60 items)
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


class _Envelope(msgspec.Struct):
    payload: Timeline


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


@dataclass
class FoldReport:
    """What one run did."""

    items_added: int = 0
    items_withdrawn: int = 0
    receipts: int = 0
    missing: int = 0
    health_rows: int = 0

    def line(self) -> str:
        return (
            f"{self.items_added} item(s) expected, {self.items_withdrawn} withdrawn, {self.receipts} "
            f"receipt(s) folded, {self.missing} marked missing, {self.health_rows} status row(s) read"
        )


class AsRunFold:
    """Folds what was published and what the boxes reported into the as-run tables."""

    def __init__(
        self,
        engine: Engine,
        *,
        tz: ZoneInfo,
        grace: timedelta,
        status_interval: timedelta,
        batch: int = BATCH,
    ) -> None:
        self.engine, self.tz, self.grace, self.batch = engine, tz, grace, batch
        self.status_interval = status_interval

    @classmethod
    def from_settings(cls, engine: Engine, settings: Settings) -> AsRunFold:
        return cls(
            engine,
            tz=ZoneInfo(settings.timezone),
            grace=timedelta(seconds=settings.asrun_grace_seconds),
            status_interval=timedelta(seconds=settings.status_interval_seconds),
        )

    def run(self, now: datetime | None = None) -> FoldReport:
        """Catch up with everything: timelines, emergencies, receipts, missing items, status history."""
        now = now or utcnow()
        report = FoldReport()
        with Session(self.engine) as session:
            places = Places.load(session)
        self._timelines(places, report, now)
        self._emergencies(places, report, now)
        # Statuses first: a receipt is audited against the clock offset its box last reported.
        report.health_rows = uptime.fold_health(
            self.engine, now=now, tz=self.tz, places=places, stale=3 * self.status_interval
        )
        while (folded := self._receipts(places, now)) > 0:
            report.receipts += folded
        while (marked := self._sweep(now, places)) > 0:
            report.missing += marked
        if report.items_added or report.items_withdrawn or report.receipts or report.missing:
            log.info("as-run fold: %s", report.line())
        return report

    def _work(self, session: Session, places: Places, now: datetime) -> Work:
        return Work(session, self.tz, places, now=now, listed_after=EXPORT_SETTLE + self.grace)

    def _timelines(self, places: Places, report: FoldReport, now: datetime) -> None:
        """Every item of a newly published timeline is expected; pending items it dropped before they
        were due are not any more."""
        with Session(self.engine) as session:
            todo = session.exec(
                select(DeviceTimeline.device_id)
                .outerjoin(AsRunDevice, col(AsRunDevice.device_id) == DeviceTimeline.device_id)
                .where(DeviceTimeline.version > func.coalesce(AsRunDevice.timeline_version, 0))
                .order_by(col(DeviceTimeline.device_id))
            ).all()
        for devices in chunks(todo, DEVICES_PER_TRANSACTION):
            with Session(self.engine) as session:
                lock(session)
                work, catalogue = self._work(session, places, now), Catalogue(session)
                seen = {
                    r.device_id: r
                    for r in session.exec(select(AsRunDevice).where(col(AsRunDevice.device_id).in_(devices)))
                }
                stored = select(DeviceTimeline).where(col(DeviceTimeline.device_id).in_(devices))
                for published in session.exec(stored).all():
                    state = seen.get(published.device_id) or AsRunDevice(device_id=published.device_id)
                    if published.version <= state.timeline_version:
                        continue  # another run did it meanwhile
                    timeline = msgspec.json.decode(published.envelope, type=_Envelope).payload
                    added, withdrawn = self._expect(work, catalogue, timeline)
                    report.items_added += added
                    report.items_withdrawn += withdrawn
                    state.timeline_version = published.version
                    session.add(state)
                work.finish()
                session.commit()

    def _expect(self, work: Work, catalogue: Catalogue, timeline: Timeline) -> tuple[int, int]:
        device_id = timeline.device_id
        items = {i.id: (i, ref) for i in timeline.items if (ref := broadcast_of(i.id)) is not None}
        issued = _utc(timeline.valid_from_ms)
        known: list[tuple[str, str]] = []
        for chunk in chunks(sorted(items) or [""]):
            known += work.session.exec(
                select(Occurrence.item_id, Occurrence.broadcast_key).where(
                    Occurrence.device_id == device_id,
                    or_(
                        col(Occurrence.item_id).in_(chunk),
                        and_(
                            col(Occurrence.state) == "pending",
                            col(Occurrence.source) == "schedule",
                            col(Occurrence.scheduled_at) > issued,
                        ),
                    ),
                )
            ).all()
        known_ids = {item_id for item_id, _key in known}
        gone = [(item_id, key) for item_id, key in known if item_id not in items]
        new = [items[i] for i in sorted(items) if i not in known_ids]
        work.load([(device_id, ref.key) for _item, ref in new] + [(device_id, key) for _i, key in gone])
        for item, ref in new:
            at = _utc(item.start_ms)
            fields = timed_fields(_utc(ref.start_ms or item.start_ms), at, catalogue.of_item(item))
            work.new(device_id, item.id, ref, fields)
        for item_id, key in gone:
            row = work.row(device_id, key, item_id)
            if row is not None:
                work.remove(row)
        return len(new), len(gone)

    def _emergencies(self, places: Places, report: FoldReport, now: datetime) -> None:
        """Every box an emergency was sent to (its zones' boxes) is expected to play it."""
        with Session(self.engine) as session:
            lock(session)
            cursor = lock(session, "emergencies")
            since = (cursor.at or EPOCH) - timedelta(minutes=10)  # sends commit in about their order
            sent = session.exec(
                select(Emergency.id, Emergency.sent_at)
                .where(col(Emergency.sent_at).is_not(None), col(Emergency.sent_at) >= since)
                .order_by(col(Emergency.sent_at))
            ).all()
            work, catalogue = self._work(session, places, now), Catalogue(session)
            for emergency_id, sent_at in sent:
                facts = catalogue.emergency(emergency_id or 0)
                if facts is None or sent_at is None:
                    continue
                ref = BroadcastRef(f"e{emergency_id}", "emergency", emergency_id or 0, None)
                have = session.exec(select(Occurrence.device_id).where(Occurrence.broadcast_key == ref.key))
                targets = sorted(set(places.devices_in(facts.zone_ids)) - set(have.all()))
                work.load((device_id, ref.key) for device_id in targets)
                for device_id in targets:
                    work.new(device_id, ref.key, ref, timed_fields(sent_at, sent_at, facts.content))
                report.items_added += len(targets)
                cursor.at = max(cursor.at or sent_at, sent_at)
            session.add(cursor)
            work.finish()
            session.commit()

    def _receipts(self, places: Places, now: datetime) -> int:
        """Fold the next batch of stored receipts; returns how many there were."""
        with Session(self.engine) as session:
            lock(session)
            cursor = lock(session, "receipts")
            rows = session.exec(
                select(Receipt)
                .options(defer(Receipt.envelope))  # type: ignore[arg-type]
                .where(col(Receipt.chain_seq) > cursor.position)
                .order_by(col(Receipt.chain_seq))
                .limit(self.batch)
            ).all()
            if not rows:
                return 0
            devices = select(AsRunDevice).where(col(AsRunDevice.device_id).in_({r.device_id for r in rows}))
            offsets = {d.device_id: d.clock_offset_ms for d in session.exec(devices)}
            work, catalogue = self._work(session, places, now), Catalogue(session)
            clock = uptime.ClockSums(self.tz, places)
            refs = {(r.device_id, r.item_id): broadcast_of(r.item_id) for r in rows if r.item_id is not None}
            work.load((device_id, ref.key) for (device_id, _i), ref in refs.items() if ref is not None)
            for receipt in rows:
                offset = offsets.get(receipt.device_id)
                clock.receipt(receipt.device_id, receipt.recorded_at, receipt.received_at, offset)
                ref = refs.get((receipt.device_id, receipt.item_id or ""))
                if ref is not None:
                    self._fold_one(work, catalogue, receipt, ref, offset)
            work.finish()
            clock.write(session)
            cursor.position = rows[-1].chain_seq or cursor.position
            session.add(cursor)
            session.commit()
            return len(rows)

    def _fold_one(
        self, work: Work, catalogue: Catalogue, receipt: Receipt, ref: BroadcastRef, offset: float | None
    ) -> None:
        item_id = receipt.item_id or ""
        row = work.row(receipt.device_id, ref.key, item_id)
        if row is None:
            # An item the fold never saw published (a version it missed): the box had it, so it was due.
            if ref.source == "emergency":
                facts = catalogue.emergency(ref.source_id)
                if facts is None:
                    return
                fields = timed_fields(facts.sent_at, facts.sent_at, facts.content)
            else:
                content = catalogue.of_media(receipt.media_sha256, ref.source_id)
                start = _utc(ref.start_ms or 0)
                fields = timed_fields(start, receipt.scheduled_at or start, content)
            row = work.new(receipt.device_id, item_id, ref, fields)
        was = Outcome(row.state, row.seconds_aired, row.reason, row.started_at, row.ended_at, row.final_seq)
        facts_in = ReceiptFacts(
            receipt.seq,
            receipt.event,
            receipt.started_at,
            receipt.ended_at,
            receipt.seconds_aired,
            receipt.reason,
        )
        now = apply_receipt(was, facts_in, duration_s=row.duration_ms / 1000)
        row.state, row.seconds_aired, row.reason = now.state, now.seconds, now.reason
        row.started_at, row.ended_at, row.final_seq = now.started_at, now.ended_at, now.final_seq
        if now.final_seq != was.final_seq:
            row.receipt_id, row.clock_offset_ms = receipt.id, offset
        row.updated_at = utcnow()
        work.session.add(row)

    def _sweep(self, now: datetime, places: Places) -> int:
        """Mark a batch of items with no final receipt past their grace period as missing."""
        cutoff = now - self.grace
        with Session(self.engine) as session:
            lock(session)
            due = session.exec(
                select(Occurrence.device_id, Occurrence.broadcast_key)
                .where(Occurrence.state == "pending", col(Occurrence.ends_at) < cutoff)
                .limit(self.batch)
            ).all()
            if not due:
                return 0
            work = self._work(session, places, now)
            work.load(due)
            marked = 0
            for rows in work.pairs.values():
                for row in rows:
                    if row.state == "pending" and row.ends_at < cutoff:
                        row.state, row.updated_at = "missing", utcnow()
                        session.add(row)
                        marked += 1
            work.finish()
            session.commit()
            return marked
