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

from controller.keys import Signer
from controller.models import DeviceTimeline, utcnow
from controller.schedules import Catalogue, active_schedules, occurrences_of
from controller.targets import ZoneIndex
from playlists.compiler import Conflict, compile_timelines, items_digest
from playlists.wire import Timeline, Topics

log = logging.getLogger(__name__)


class Sent(Protocol):
    """What a publish may return: something to wait on until the broker has the message."""

    def wait_for_publish(self, timeout: float | None = None) -> None: ...


Publish = Callable[[str, bytes, bool], "Sent | None"]  # topic, payload, retain
SEND_TIMEOUT_S = 30.0


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
