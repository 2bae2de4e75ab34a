"""Compile, sign and publish each box's timeline; a new version only when something changed."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from controller.airings import Catalogue, active_schedules, occurrences_of
from controller.keys import Signer
from controller.models import DeviceTimeline, utcnow
from controller.targets import ZoneIndex
from playlists.compiler import Conflict, compile_timelines, items_digest
from playlists.wire import Timeline, Topics

log = logging.getLogger(__name__)


class Sent(Protocol):
    """What a publish may return: something to wait on until the broker has the message."""

    def wait_for_publish(self, timeout: float | None = None) -> None: ...


Publish = Callable[[str, bytes, bool], "Sent | None"]  # topic, payload, retain
SEND_TIMEOUT_S = 30.0
REQUEST_WAIT_S = 3.0  # how long a request that changed schedules waits for its boxes' timelines


def to_ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


class TimelinePublisher:
    """Keeps every box's retained timeline equal to what the schedules say, signed."""

    def __init__(
        self,
        *,
        engine: Engine,
        signer: Signer,
        topics: Topics,
        publish: Publish,
        media_url: str,
        horizon: timedelta,
        mutex: Callable[[], contextlib.AbstractContextManager[None]] = contextlib.nullcontext,
    ) -> None:
        self.engine = engine
        self.mutex = mutex
        self.signer = signer
        self.topics = topics
        self.publish = publish
        self.media_url = media_url
        self.horizon = horizon
        self._lock = threading.Lock()  # one compile at a time, so versions never fork
        self.last_conflicts: list[Conflict] = []
        self._changes = threading.Condition()
        self._pending: _Pending | None = None
        self._worker: threading.Thread | None = None
        self._stopping = False

    def refresh(self, now: datetime | None = None, *, device_ids: Iterable[str] | None = None) -> int:
        """Recompile boxes (all, or just ``device_ids``); publish changed or soon-to-expire timelines.

        Returns how many timelines were published. Replicas sharing the database take turns (``mutex``),
        and each hands its versions to the broker before the next one compiles, so the retained
        timeline on the broker is always the newest version the database holds.
        """
        with self._lock, self.mutex():
            published = self._compile(now, device_ids)
            self._send(published)
        if published:
            log.info("published %d timeline(s)", len(published))
        return len(published)

    def changed(self, device_ids: Iterable[str] | None = None, *, wait_s: float | None = None) -> bool:
        """Something the timelines of ``device_ids`` (all boxes: None) depend on has been committed:
        recompile them in the background and wait up to ``wait_s`` for it. True when they were sent.

        A request never holds a user for a province-wide compile and its PUBACKs (tens of seconds at
        3,000 boxes): it answers after ``wait_s`` and the work goes on. Changes that arrive while a
        compile runs are gathered into the next one. If it fails, the periodic compile catches up.
        """
        with self._changes:
            if self._stopping:
                return False
            ids = None if device_ids is None else set(device_ids)
            if self._pending is None:
                self._pending = _Pending(ids)
            else:
                self._pending.add(ids)
            pending = self._pending
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="timeline-refresh", daemon=True)
                self._worker.start()
            self._changes.notify()
        return pending.done.wait(REQUEST_WAIT_S if wait_s is None else wait_s)

    def stop(self) -> None:
        """End the background worker after the compile it is running, if any."""
        with self._changes:
            self._stopping = True
            worker, self._worker = self._worker, None
            self._changes.notify()
        if worker is not None:
            worker.join(SEND_TIMEOUT_S)

    def _work(self) -> None:
        while True:
            with self._changes:
                while self._pending is None and not self._stopping:
                    self._changes.wait()
                if self._stopping:
                    return
                pending, self._pending = self._pending, None
            assert pending is not None
            try:
                self.refresh(device_ids=None if pending.device_ids is None else sorted(pending.device_ids))
            except Exception:
                log.exception("timeline refresh after a change failed; the periodic compile will retry")
            finally:
                pending.done.set()

    def _compile(self, now: datetime | None, device_ids: Iterable[str] | None) -> list[tuple[str, bytes]]:
        with Session(self.engine) as session:
            now = now or utcnow()
            until = now + self.horizon
            index = ZoneIndex.load(session)
            wanted = (
                index.device_ids if device_ids is None else sorted(set(device_ids) & set(index.device_zone))
            )
            catalogue = Catalogue.load(session, self.media_url)
            found = occurrences_of(
                active_schedules(session, since=now, until=until),
                index=index,
                catalogue=catalogue,
                since=now,
                until=until,
                only_devices=None if device_ids is None else set(wanted),
            )
            compiled = compile_timelines(
                found,
                wanted,
                now_ms=to_ms(now),
                horizon_ms=int(self.horizon.total_seconds() * 1000),
                policies={d: p for d in wanted if (p := index.policy_for(d)) is not None},
            )
            self.last_conflicts = compiled.conflicts
            current_rows = {
                row.device_id: row
                for row in session.exec(
                    select(DeviceTimeline).where(col(DeviceTimeline.device_id).in_(wanted))
                ).all()
            }
            published = []
            for device_id in wanted:
                items = compiled.timelines.get(device_id, ())
                digest = items_digest(items)
                current = current_rows.get(device_id)
                fresh_enough = current is not None and current.valid_until - now > self.horizon / 2
                if current is not None and current.content_sha256 == digest and fresh_enough:
                    continue
                version = (current.version if current else 0) + 1
                document = Timeline(
                    device_id=device_id,
                    version=version,
                    issued_at_ms=to_ms(now),
                    valid_from_ms=to_ms(now),
                    valid_until_ms=to_ms(until),
                    items=items,
                )
                envelope = self.signer.sign(document)
                row = current or DeviceTimeline(
                    device_id=device_id,
                    version=version,
                    content_sha256=digest,
                    valid_until=until,
                    envelope="",
                )
                row.version, row.content_sha256, row.valid_until = version, digest, until
                row.envelope, row.published_at = envelope.decode(), now
                session.add(row)
                published.append((device_id, envelope))
            # Commit before publishing: a version is never sent that the database does not know.
            session.commit()
        return published

    def _send(self, published: list[tuple[str, bytes]]) -> None:
        sent = [self.publish(self.topics.timeline(device), envelope, True) for device, envelope in published]
        deadline = time.monotonic() + SEND_TIMEOUT_S
        for message in sent:
            if message is None:
                continue  # not connected: the broker gets every stored timeline on reconnection
            with contextlib.suppress(Exception):  # a lost connection ends the wait; see above
                message.wait_for_publish(max(0.0, deadline - time.monotonic()))

    def republish_all(self) -> None:
        """Send every stored timeline again (after a broker lost its retained messages)."""
        with Session(self.engine) as session:
            rows = session.exec(select(DeviceTimeline)).all()
        for row in rows:
            self.publish(self.topics.timeline(row.device_id), row.envelope.encode(), True)


class _Pending:
    """Boxes waiting for a compile (None: all of them), and the event their requests wait on."""

    def __init__(self, device_ids: set[str] | None) -> None:
        self.device_ids = device_ids
        self.done = threading.Event()

    def add(self, device_ids: set[str] | None) -> None:
        if self.device_ids is not None:
            self.device_ids = None if device_ids is None else self.device_ids | device_ids
