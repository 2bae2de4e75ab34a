"""What schedules air: the catalogue of playable media and the expansion of schedules into airings
on boxes, shared by the compiler (controller/timelines.py), the checks before saving
(controller/schedules.py), the calendar and the home page."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from controller.models import Bulletin, Media, Playlist, Schedule
from controller.targets import ZoneIndex
from playlists.compiler import Occurrence
from playlists.playlist import PlaylistEntry, PlaylistError, Segment, expand
from playlists.rules import Rule
from playlists.rules import occurrences as rule_occurrences
from playlists.wire import MediaRef


@dataclass
class Catalogue:
    """Approved bulletins' media, playlists and chimes, loaded once to expand what schedules play."""

    media_url: str
    bulletins: dict[int, MediaRef | None]
    playlists: dict[int, tuple[PlaylistEntry, ...]]
    chimes: dict[str, MediaRef]

    @classmethod
    def load(cls, session: Session, media_url: str) -> Catalogue:
        base = media_url.rstrip("/")

        def ref(media: Media) -> MediaRef:
            return MediaRef(
                sha256=media.sha256,
                url=f"{base}/media/{media.sha256}",
                bytes=media.bytes,
                duration_ms=media.duration_ms,
                mime=media.mime,
            )

        media = {m.sha256: m for m in session.exec(select(Media)).all()}
        bulletins: dict[int, MediaRef | None] = {}
        for bulletin in session.exec(select(Bulletin)).all():
            approved = bulletin.status == "approved" and bulletin.media_sha256 in media
            bulletins[bulletin.id or 0] = ref(media[bulletin.media_sha256 or ""]) if approved else None
        playlists = {
            p.id or 0: tuple(PlaylistEntry.model_validate(e) for e in json.loads(p.entries_json))
            for p in session.exec(select(Playlist)).all()
        }
        return cls(base, bulletins, playlists, {sha: ref(m) for sha, m in media.items()})

    def segments(self, *, bulletin_id: int | None, playlist_id: int | None) -> tuple[Segment, ...]:
        """What one airing plays; raises PlaylistError when it cannot be played (e.g. unapproved)."""
        entry = (
            PlaylistEntry(kind="bulletin", bulletin_id=bulletin_id)
            if bulletin_id is not None
            else PlaylistEntry(kind="playlist", playlist_id=playlist_id)
        )
        return expand((entry,), playlists=self.playlists, bulletins=self.bulletins, chimes=self.chimes)


def rule_of(schedule: Schedule) -> Rule:
    return Rule.model_validate_json(schedule.rule_json)


def occurrences_of(
    schedules: Sequence[Schedule],
    *,
    index: ZoneIndex,
    catalogue: Catalogue,
    since: datetime,
    until: datetime,
    only_devices: set[str] | None = None,
) -> list[Occurrence]:
    """Every airing of the given schedules in [since, until), resolved to boxes as of now.

    With ``only_devices``, schedules that reach none of those boxes are not expanded at all.
    """
    result = []
    for schedule in schedules:
        devices = index.resolve(
            schedule.target_kind,
            zone_id=schedule.target_zone_id,
            device_id=schedule.target_device_id,
            group_id=schedule.target_group_id,
        )
        if not devices or (only_devices is not None and only_devices.isdisjoint(devices)):
            continue
        try:
            segments = catalogue.segments(bulletin_id=schedule.bulletin_id, playlist_id=schedule.playlist_id)
        except PlaylistError:
            continue  # e.g. a bulletin of the playlist is no longer approved: nothing of it airs
        if not segments:
            continue
        length = timedelta(milliseconds=sum(s.duration_ms for s in segments))
        for at in rule_occurrences(rule_of(schedule), since - length, until):
            result.append(
                Occurrence(
                    schedule_id=schedule.id or 0,
                    created_order=schedule.id or 0,
                    start_ms=int(at.timestamp() * 1000),
                    segments=segments,
                    priority=schedule.priority,  # type: ignore[arg-type]
                    device_ids=devices,
                    volume=schedule.volume,
                )
            )
    return result


def active_schedules(session: Session, *, until: datetime, since: datetime) -> Sequence[Schedule]:
    return session.exec(
        select(Schedule)
        .where(Schedule.status == "active", col(Schedule.starts_at) <= until)
        .where((col(Schedule.ends_at).is_(None)) | (col(Schedule.ends_at) >= since - timedelta(hours=6)))
        .order_by(col(Schedule.id))
    ).all()
