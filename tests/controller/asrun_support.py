"""Helpers for the as-run tests: content and schedules in the past, timelines published "then",
receipts signed by the test boxes, the fold run at a chosen instant."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import select

from controller.asrun_fold import AsRunFold, FoldReport
from controller.models import Bulletin, Device, Media, Schedule, User
from controller.receipts import handle_report
from playlists.rules import Rule
from playlists.signing import sign
from playlists.wire import Receipt as ReceiptDoc
from tests.controller.conftest import World

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
GRACE = timedelta(minutes=30)


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A wall-clock time in Vietnam, as an aware UTC instant."""
    return datetime(year, month, day, hour, minute, tzinfo=HCM).astimezone(UTC)


def ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def content(
    world: World, *, title: str, category: str = "legal", language: str = "vi", seconds: int = 600
) -> int:
    """An approved bulletin with its audio, as rows (nothing is rendered); returns its id."""
    with world.session() as session:
        admin = session.exec(select(User).where(User.username == "admin")).one()
        sha = hashlib.sha256(title.encode()).hexdigest()
        session.add(Media(sha256=sha, bytes=1000, duration_ms=seconds * 1000, mime="audio/ogg"))
        session.flush()  # no relationship tells the unit of work the media must come first
        bulletin = Bulletin(
            commune_id=world.commune_a,
            title=title,
            body=title,
            category=category,
            language=language,
            status="approved",
            author_id=admin.id or 0,
            media_sha256=sha,
        )
        session.add(bulletin)
        session.commit()
        return bulletin.id or 0


def schedule(world: World, *, bulletin_id: int, zone_id: int, at: datetime) -> int:
    """A one-off schedule at ``at`` (possibly in the past: written as rows, not through the API)."""
    with world.session() as session:
        admin = session.exec(select(User).where(User.username == "admin")).one()
        row = Schedule(
            bulletin_id=bulletin_id,
            target_zone_id=zone_id,
            rule_json=Rule(kind="once", at=at).model_dump_json(),
            starts_at=at,
            created_by=admin.id or 0,
        )
        session.add(row)
        session.commit()
        return row.id or 0


def item_id(schedule_id: int, at: datetime, index: int = 0) -> str:
    return f"s{schedule_id}-{ms(at)}-{index}"


def backdate_boxes(world: World, at: datetime) -> None:
    """Make the test boxes enrolled since ``at`` (uptime counts from enrolment)."""
    with world.session() as session:
        for device in session.exec(select(Device)).all():
            device.created_at = device.enrolled_at = at
            session.add(device)
        session.commit()


def fold(world: World, now: datetime, **kw: object) -> FoldReport:
    """The as-run fold as the leader runs it, at ``now``."""
    job = AsRunFold(
        world.services.engine,
        tz=HCM,
        grace=GRACE,
        status_interval=timedelta(seconds=60),
        **kw,  # type: ignore[arg-type]
    )
    return job.run(now)


def publish_and_fold(world: World, now: datetime) -> FoldReport:
    """What happens at ``now``: the compile job publishes, then the fold runs."""
    world.services.publisher.refresh(now)
    return fold(world, now)


class Boxes:
    """The test boxes' side: signed receipts with contiguous seqs, stored as the controller stores them."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.seqs: dict[str, int] = defaultdict(int)

    def report(
        self,
        device_id: str,
        event: str,
        item: str,
        *,
        at: datetime,
        seconds: float | None = None,
        reason: str | None = None,
        recorded_at: datetime | None = None,
    ) -> None:
        """A receipt for ``item`` scheduled at ``at``; a completed one aired ``seconds`` from ``at``."""
        self.seqs[device_id] += 1
        ended = at + timedelta(seconds=seconds) if event == "completed" and seconds is not None else None
        doc = ReceiptDoc(
            device_id=device_id,
            seq=self.seqs[device_id],
            event=event,  # type: ignore[arg-type]
            item_id=item,
            timeline_version=1,
            scheduled_at_ms=ms(at),
            started_at_ms=ms(at) if event in ("started", "completed", "interrupted") else None,
            ended_at_ms=ms(ended) if ended else None,
            seconds_aired=seconds if event == "interrupted" else None,
            reason=reason,
            recorded_at_ms=ms(recorded_at or ended or at),
        )
        raw = sign(doc, self.world.device_keys[device_id], device_id)
        assert handle_report(self.world.services.engine, device_id=device_id, raw=raw) is not None
