"""Compile, sign and publish each box's timeline; a new version only when something changed."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from controller.keys import Signer
from controller.models import Device, DeviceTimeline, utcnow
from controller.schedules import occurrences
from playlists.compiler import compile_timelines, items_digest
from playlists.wire import Timeline, Topics

log = logging.getLogger(__name__)

Publish = Callable[[str, bytes, bool], None]  # topic, payload, retain


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
    ) -> None:
        self.engine = engine
        self.signer = signer
        self.topics = topics
        self.publish = publish
        self.media_url = media_url
        self.horizon = horizon
        self._lock = threading.Lock()  # one compile at a time, so versions never fork

    def refresh(self, now: datetime | None = None) -> int:
        """Recompile all boxes; publish changed or soon-to-expire timelines. Returns how many."""
        with self._lock, Session(self.engine) as session:
            now = now or utcnow()
            devices = session.exec(select(Device).where(col(Device.is_active).is_(True))).all()
            compiled = compile_timelines(
                occurrences(session, media_url=self.media_url, since=now, until=now + self.horizon),
                [d.id for d in devices],
                now_ms=to_ms(now),
                horizon_ms=int(self.horizon.total_seconds() * 1000),
            )
            for conflict in compiled.conflicts:
                log.warning("schedule clash on a box", extra={"conflict": conflict})
            published = []
            for device in devices:
                items = compiled.timelines.get(device.id, ())
                digest = items_digest(items)
                current = session.get(DeviceTimeline, device.id)
                fresh_enough = current is not None and current.valid_until - now > self.horizon / 2
                if current is not None and current.content_sha256 == digest and fresh_enough:
                    continue
                version = (current.version if current else 0) + 1
                valid_until = now + self.horizon
                document = Timeline(
                    device_id=device.id,
                    version=version,
                    issued_at_ms=to_ms(now),
                    valid_from_ms=to_ms(now),
                    valid_until_ms=to_ms(valid_until),
                    items=items,
                )
                envelope = self.signer.sign(document)
                row = current or DeviceTimeline(
                    device_id=device.id,
                    version=version,
                    content_sha256=digest,
                    valid_until=valid_until,
                    envelope="",
                )
                row.version, row.content_sha256, row.valid_until = version, digest, valid_until
                row.envelope, row.published_at = envelope.decode(), now
                session.add(row)
                published.append((device.id, envelope))
            # Commit before publishing: a version is never sent that the database does not know.
            session.commit()
        for device_id, envelope in published:
            self.publish(self.topics.timeline(device_id), envelope, True)
            log.info("timeline published", extra={"device": device_id})
        return len(published)

    def republish_all(self) -> None:
        """Send every stored timeline again (after a broker lost its retained messages)."""
        with Session(self.engine) as session:
            rows = session.exec(select(DeviceTimeline)).all()
        for row in rows:
            self.publish(self.topics.timeline(row.device_id), row.envelope.encode(), True)
