"""What the as-run fold needs to know about boxes and content: each box's zone and commune, each item's
category, language and length. Loaded once per fold run, looked up lazily."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from controller.models import Bulletin, Device, Emergency, Media, Schedule
from controller.reconcile import OTHER, RELAY
from controller.targets import ZoneIndex
from playlists.wire import TimelineItem


@dataclass(frozen=True)
class Place:
    zone_id: int
    commune_id: int  # 0: the box is above any commune


class Places:
    """Every box's zone and commune (revoked ones too: their old receipts still count)."""

    def __init__(self, index: ZoneIndex, device_zones: dict[str, int]) -> None:
        self.index = index
        self._zones = device_zones
        self._communes: dict[int, int] = {}

    @classmethod
    def load(cls, session: Session) -> Places:
        zones = {d: z for d, z in session.exec(select(Device.id, Device.zone_id)).all()}
        return cls(ZoneIndex.load(session), zones)

    def of(self, device_id: str) -> Place:
        zone_id = self._zones.get(device_id, 0)
        if zone_id not in self._communes:
            chain = self.index.chain(zone_id)
            self._communes[zone_id] = next((z.id or 0 for z in chain if z.kind == "commune"), 0)
        return Place(zone_id, self._communes[zone_id])

    def devices_in(self, zone_ids: Iterable[int]) -> list[str]:
        """Enrolled, active boxes in these zones and below."""
        return sorted({d for zone_id in zone_ids for d in self.index.devices_below(zone_id)})


@dataclass(frozen=True)
class Content:
    category: str
    language: str
    bulletin_id: int | None = None
    duration_ms: int = 0
    kind: str = "audio"


@dataclass(frozen=True)
class EmergencyFacts:
    sent_at: datetime
    zone_ids: tuple[int, ...]
    content: Content
    repeat: int


class Catalogue:
    """Categories and languages of bulletins, media lengths, emergencies; cached for one run."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._bulletins: dict[int, tuple[str, str, str | None]] = {}
        self._media: dict[str, Content] = {}
        self._schedules: dict[int, int | None] = {}

    def bulletin(self, bulletin_id: int) -> tuple[str, str]:
        """(category, language) of a bulletin."""
        if bulletin_id not in self._bulletins:
            row = self.session.exec(
                select(Bulletin.category, Bulletin.language, Bulletin.media_sha256).where(
                    Bulletin.id == bulletin_id
                )
            ).first()
            self._bulletins[bulletin_id] = (row[0], row[1], row[2]) if row else (OTHER, "vi", None)
        category, language, _media = self._bulletins[bulletin_id]
        return category, language

    def of_item(self, item: TimelineItem) -> Content:
        """What a timeline item airs."""
        if item.kind == "silence":
            return Content("silence", "vi", None, item.duration_ms, "silence")
        if item.kind == "stream":
            return Content(RELAY, "vi", None, item.duration_ms, "stream")
        if item.bulletin_id is not None:
            category, language = self.bulletin(item.bulletin_id)
            return Content(category, language, item.bulletin_id, item.duration_ms)
        return Content("chime", "vi", None, item.duration_ms)

    def of_media(self, sha256: str | None, schedule_id: int | None) -> Content:
        """What a receipt for an item the fold never saw in a timeline aired, from its media."""
        if sha256 is None:
            return Content(OTHER, "vi", None, 0, "stream")
        if sha256 not in self._media:
            duration = self.session.exec(select(Media.duration_ms).where(Media.sha256 == sha256)).first() or 0
            bulletin = self._bulletin_with_media(sha256, schedule_id)
            if bulletin is None:
                self._media[sha256] = Content("chime", "vi", None, duration)
            else:
                category, language = self.bulletin(bulletin)
                self._media[sha256] = Content(category, language, bulletin, duration)
        return self._media[sha256]

    def _bulletin_with_media(self, sha256: str, schedule_id: int | None) -> int | None:
        if schedule_id is not None:
            if schedule_id not in self._schedules:
                self._schedules[schedule_id] = self.session.exec(
                    select(Schedule.bulletin_id).where(Schedule.id == schedule_id)
                ).first()
            bulletin_id = self._schedules[schedule_id]
            if bulletin_id is not None:
                self.bulletin(bulletin_id)
                if self._bulletins[bulletin_id][2] == sha256:
                    return bulletin_id
        return self.session.exec(
            select(Bulletin.id).where(col(Bulletin.media_sha256) == sha256).order_by(col(Bulletin.id))
        ).first()

    def emergency(self, emergency_id: int) -> EmergencyFacts | None:
        row = self.session.get(Emergency, emergency_id)
        if row is None or row.sent_at is None:
            return None
        category, language = self.bulletin(row.bulletin_id)
        media = self._bulletins[row.bulletin_id][2]
        duration = self.of_media(media, None).duration_ms if media else 0
        return EmergencyFacts(
            sent_at=row.sent_at,
            zone_ids=tuple(json.loads(row.zone_ids_json)),
            content=Content(category, language, row.bulletin_id, duration * row.repeat),
            repeat=row.repeat,
        )
