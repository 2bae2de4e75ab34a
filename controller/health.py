"""Boxes' status and health over time: the status writer, the history and its pruning.

Statuses arrive on the MQTT thread, up to hundreds a second (3,000 boxes, bursts on reconnect). The
``StatusWriter`` takes them off that thread and writes them in batches: one transaction (one fsync)
for everything that arrived in the last fraction of a second, one SELECT for the boxes concerned, one
multi-row UPDATE and INSERT. A status is a snapshot the box repeats every minute, so a batch lost in
a crash costs nothing.

History is bounded. Status snapshots become ``DeviceHealth`` rows (at most one per box per
``health_sample_seconds``, plus every change between online and offline). The pruning job keeps every
row for ``health_full_hours`` (rounded up to the hour), then keeps one row per box per clock hour:
the hour's *last* snapshot, marked ``hourly``, whose ``online`` is false if the box was offline at any
snapshot of that hour (so an outage never disappears into an average). Rows older than
``health_keep_days`` are deleted.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, bindparam, delete, func, insert, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from controller import receipt_gaps
from controller.live import DeviceHub
from controller.models import Device, DeviceHealth, utcnow
from playlists.wire import Status, WireError, decode_json, to_json

log = logging.getLogger(__name__)
CHUNK = 500  # ids per statement, well under every database's bound-parameter limit


class HealthSampler:
    """Decides which snapshots become history: one per box per ``every``, and every presence change.

    Kept in memory by the one thread that handles statuses: no query per message to find the last row.
    """

    def __init__(self, every: timedelta) -> None:
        self.every = every
        self._last: dict[str, datetime] = {}

    def due(self, device_id: str, at: datetime, *, transition: bool) -> bool:
        last = self._last.get(device_id)
        if transition or last is None or at - last >= self.every or at < last:
            self._last[device_id] = at
            return True
        return False


def health_values(device_id: str, status: Status, *, at: datetime) -> dict[str, Any]:
    """The columns of a history row for one status (an offline will carries no measures)."""
    return {
        "device_id": device_id,
        "at": at,
        "online": status.state == "online",
        "hourly": False,
        "disk_free_mb": status.disk_free_mb,
        "cache_mb": status.cache_mb,
        "cpu_temp_c": status.cpu_temp_c,
        "clock_offset_ms": status.clock_offset_ms,
        "outbox_pending": status.outbox_pending,
        "link_quality": status.link_quality,
        "volume": status.volume,
    }


_DEVICES = sa_select(
    col(Device.id),
    col(Device.state),
    col(Device.zone_id),
    col(Device.status_json),
    col(Device.last_seen_at),
    col(Device.revoked_at),
    col(Device.acked_seq),
).where(col(Device.id).in_(bindparam("ids", expanding=True)))
_UPDATE = (
    update(Device)
    .where(col(Device.id) == bindparam("device_id"))
    .values(state=bindparam("state"), last_seen_at=bindparam("seen"), status_json=bindparam("doc"))
)


@dataclass
class _Box:
    state: str
    zone_id: int
    status_json: str | None
    last_seen_at: datetime | None
    acked_seq: int = 0
    changed: bool = False


def write_statuses(
    engine: Engine,
    batch: Iterable[tuple[str, bytes, datetime]],
    *,
    sampler: HealthSampler | None = None,
    hub: DeviceHub | None = None,
) -> int:
    """Apply statuses ``(topic device id, payload, arrival time)`` in order, in one transaction;
    returns how many changed something.

    ``last_seen_at`` is the controller's time of arrival, not the box's clock, which may be wrong.
    An offline will changes only the state: the last measures and ``last_seen_at`` stay. The broker's
    retained copy, delivered again after a reconnect, changes nothing.
    """
    decoded: list[tuple[str, Status, datetime]] = []
    for device_id, raw, at in batch:
        try:
            status = decode_json(Status, raw)
        except WireError:
            log.warning("malformed status ignored", extra={"device": device_id})
            continue
        if status.device_id != device_id:
            log.warning("status for another box ignored", extra={"device": device_id})
            continue
        decoded.append((device_id, status, at))
    if not decoded:
        return 0
    changes = 0
    with engine.begin() as conn:
        boxes: dict[str, _Box] = {}
        ids = sorted({device_id for device_id, _status, _at in decoded})
        for i in range(0, len(ids), CHUNK):
            for row in conn.execute(_DEVICES, {"ids": ids[i : i + CHUNK]}):
                if row.revoked_at is None:  # a revoked box's last retained status is no news
                    boxes[row.id] = _Box(
                        row.state, row.zone_id, row.status_json, row.last_seen_at, row.acked_seq
                    )
        history: list[dict[str, Any]] = []
        gaps: dict[str, int] = {}
        for device_id, status, at in decoded:
            box = boxes.get(device_id)
            if box is None:
                continue
            if status.outbox_first_seq is not None and status.outbox_first_seq > box.acked_seq + 1:
                gaps[device_id] = status.outbox_first_seq  # rare: after a restore, see receipt_gaps
            online = status.state == "online"
            transition = (box.state == "online") != online or box.state == "unknown"
            if online:
                doc = to_json(status).decode()
                if doc == box.status_json and not transition:
                    continue
                box.state, box.status_json, box.last_seen_at = "online", doc, at
            elif box.state == "offline":
                continue
            else:
                box.state = "offline"
            box.changed = True
            changes += 1
            if sampler is None or sampler.due(device_id, at, transition=transition):
                history.append(health_values(device_id, status, at=at))
        updates = [
            {"device_id": i, "state": b.state, "seen": b.last_seen_at, "doc": b.status_json}
            for i, b in boxes.items()
            if b.changed
        ]
        if updates:
            conn.execute(_UPDATE, updates)
        if history:
            conn.execute(insert(DeviceHealth), history)
    if gaps:
        receipt_gaps.close_gaps(engine, gaps)
    if hub is not None:
        for device_id, box in boxes.items():
            if box.changed:
                hub.notify(device_id, box.zone_id)
    return changes


class StatusWriter:
    """Takes statuses off the MQTT thread and writes them in batches on its own thread."""

    def __init__(
        self,
        *,
        sampler: HealthSampler | None,
        hub: DeviceHub | None,
        max_batch: int = 1000,
        max_delay_s: float = 0.25,
        max_queued: int = 100_000,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sampler, self.hub, self.clock = sampler, hub, clock
        self.max_batch, self.max_delay_s = max_batch, max_delay_s
        self.dropped = 0
        self._queue: queue.Queue[tuple[str, bytes, datetime] | None] = queue.Queue(max_queued)
        self._thread: threading.Thread | None = None
        self._engine: Engine | None = None

    def submit(self, device_id: str, raw: bytes) -> None:
        """From the MQTT thread: queue a status (dropped, and counted, if the database is far behind)."""
        try:
            self._queue.put_nowait((device_id, raw, self.clock()))
        except queue.Full:
            self.dropped += 1
            if self.dropped % 1000 == 1:
                log.warning("status writer behind, statuses dropped", extra={"dropped": self.dropped})

    def start(self, engine: Engine) -> None:
        self._engine = engine
        self._thread = threading.Thread(target=self._run, name="loa-status-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Write what is queued, then end the thread."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        assert self._engine is not None
        while True:
            first = self._queue.get()
            batch, done = ([first], False) if first is not None else ([], True)
            deadline = time.monotonic() + self.max_delay_s
            while not done and len(batch) < self.max_batch:
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if item is None:
                    done = True
                else:
                    batch.append(item)
            if batch:
                try:
                    write_statuses(self._engine, batch, sampler=self.sampler, hub=self.hub)
                except Exception:  # a database hiccup must not end the writer; the boxes repeat themselves
                    log.exception("writing %d statuses failed", len(batch))
            if done:
                return


@dataclass(frozen=True)
class PruneReport:
    downsampled_hours: int
    deleted: int


def prune_health(engine: Engine, *, now: datetime, full_for: timedelta, keep_for: timedelta) -> PruneReport:
    """Downsample history older than ``full_for`` to one row per box per hour; drop what is older
    than ``keep_for``. Works one clock hour per transaction, so a long backlog never locks for long."""
    deleted = 0
    with Session(engine) as session:
        result = session.exec(delete(DeviceHealth).where(col(DeviceHealth.at) < now - keep_for))
        deleted += result.rowcount or 0
        session.commit()
    cutoff = (now - full_for).replace(minute=0, second=0, microsecond=0)
    hours = 0
    while True:
        with Session(engine) as session:
            oldest = session.exec(
                select(func.min(DeviceHealth.at)).where(
                    col(DeviceHealth.hourly).is_(False), col(DeviceHealth.at) < cutoff
                )
            ).one()
            if oldest is None:
                break
            start = oldest.replace(minute=0, second=0, microsecond=0)
            deleted += _downsample_hour(session, start, start + timedelta(hours=1))
            session.commit()
            hours += 1
    if hours or deleted:
        log.info("health history pruned", extra={"hours": hours, "deleted": deleted})
    return PruneReport(downsampled_hours=hours, deleted=deleted)


def _downsample_hour(session: Session, start: datetime, end: datetime) -> int:
    rows = session.exec(
        select(DeviceHealth.id, DeviceHealth.device_id, DeviceHealth.online)
        .where(col(DeviceHealth.at) >= start, col(DeviceHealth.at) < end, col(DeviceHealth.hourly).is_(False))
        .order_by(col(DeviceHealth.device_id), col(DeviceHealth.at), col(DeviceHealth.id))
    ).all()
    last: dict[str, int] = {}
    always_online: dict[str, bool] = {}
    for row_id, device_id, online in rows:
        assert row_id is not None
        last[device_id] = row_id
        always_online[device_id] = always_online.get(device_id, True) and online
    keep = set(last.values())
    drop = [row_id for row_id, _device, _online in rows if row_id not in keep]
    for i in range(0, len(drop), CHUNK):
        session.exec(delete(DeviceHealth).where(col(DeviceHealth.id).in_(drop[i : i + CHUNK])))
    for device_id, row_id in last.items():
        session.exec(
            update(DeviceHealth)
            .where(col(DeviceHealth.id) == row_id)
            .values(hourly=True, online=always_online[device_id])
        )
    return len(drop)


def history(session: Session, *, device_id: str, since: datetime) -> Sequence[DeviceHealth]:
    """A box's history rows since ``since``, oldest first."""
    return session.exec(
        select(DeviceHealth)
        .where(DeviceHealth.device_id == device_id, col(DeviceHealth.at) >= since)
        .order_by(col(DeviceHealth.at))
    ).all()


def hourly_view(rows: Sequence[DeviceHealth]) -> list[DeviceHealth]:
    """The last row of each clock hour, newest first: a day of history that fits on a phone."""
    by_hour: dict[datetime, DeviceHealth] = {}
    for row in rows:
        by_hour[row.at.replace(minute=0, second=0, microsecond=0)] = row
    return sorted(by_hour.values(), key=lambda r: r.at, reverse=True)


def sparkline(values: Sequence[float | None], *, width: int = 120, height: int = 24) -> str:
    """The ``points`` of an SVG polyline drawing ``values`` (gaps skipped); empty if fewer than two."""
    known = [(i, v) for i, v in enumerate(values) if v is not None]
    if len(known) < 2:
        return ""
    low, high = min(v for _, v in known), max(v for _, v in known)
    span, last = (high - low) or 1.0, max(len(values) - 1, 1)
    return " ".join(
        f"{i * width / last:.1f},{height - 1 - (v - low) * (height - 2) / span:.1f}" for i, v in known
    )
