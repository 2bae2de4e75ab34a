"""Schedules: when and where approved bulletins air. The skeleton has one-off schedules."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from controller import audit_log
from controller.auth import can_touch_zone, commune_ids, require
from controller.errors import InvalidInput
from controller.models import Bulletin, Media, Schedule, User, Zone, utcnow
from controller.zones import devices_in
from playlists.compiler import Occurrence
from playlists.wire import MediaRef

# A schedule must leave boxes time to receive the timeline and fetch the audio.
MIN_LEAD = timedelta(seconds=5)
PRIORITIES_VI = {"normal": "Thường", "priority": "Ưu tiên", "emergency": "Khẩn cấp"}


def create_one_off(
    session: Session,
    *,
    user: User,
    bulletin: Bulletin,
    target_zone_id: int,
    starts_at: datetime,
    horizon: timedelta,
) -> Schedule:
    """Schedule an approved bulletin once, at an instant, to a commune or village."""
    require(user, "schedule.write")
    if starts_at.tzinfo is None:
        raise InvalidInput("Thời điểm phát phải có múi giờ.", field="starts_at")
    if bulletin.status != "approved" or bulletin.media_sha256 is None:
        raise InvalidInput("Chỉ lên lịch được bản tin đã duyệt.", field="bulletin_id")
    zone = session.get(Zone, target_zone_id)
    if zone is None or zone.kind not in ("commune", "village") or not can_touch_zone(session, user, zone):
        raise InvalidInput("Vui lòng chọn thôn/xóm hoặc xã mà bạn phụ trách.", field="target_zone_id")
    now = utcnow()
    if starts_at < now + MIN_LEAD:
        raise InvalidInput("Thời điểm phát phải ở tương lai (ít nhất vài giây nữa).", field="starts_at")
    if starts_at > now + horizon:
        raise InvalidInput(f"Chỉ lên lịch được trong {horizon.days or 1} ngày tới.", field="starts_at")
    if not devices_in(session, zone.id or 0):
        raise InvalidInput("Khu vực này chưa có cụm loa nào.", field="target_zone_id")
    schedule = Schedule(
        bulletin_id=bulletin.id or 0,
        target_zone_id=zone.id or 0,
        starts_at=starts_at,
        created_by=user.id or 0,
    )
    session.add(schedule)
    session.flush()
    audit_log.record(
        session,
        actor=user,
        action="schedule.create",
        object_type="schedule",
        object_id=schedule.id,
        bulletin_id=bulletin.id,
        zone_id=zone.id,
        starts_at=starts_at.isoformat(),
    )
    session.commit()
    session.refresh(schedule)
    return schedule


def list_schedules(session: Session, *, user: User) -> Sequence[tuple[Schedule, Bulletin, Zone]]:
    require(user, "bulletin.view")
    query = (
        select(Schedule, Bulletin, Zone)
        .join(Bulletin, col(Bulletin.id) == Schedule.bulletin_id)
        .join(Zone, col(Zone.id) == Schedule.target_zone_id)
        .order_by(col(Schedule.starts_at).desc())
    )
    allowed = commune_ids(session, user)
    if allowed is not None:
        query = query.where(col(Bulletin.commune_id).in_(allowed))
    return session.exec(query).all()


def occurrences(session: Session, *, media_url: str, since: datetime, until: datetime) -> list[Occurrence]:
    """Every airing between two instants, with its target resolved to boxes as of now."""
    rows = session.exec(
        select(Schedule, Bulletin, Media)
        .join(Bulletin, col(Bulletin.id) == Schedule.bulletin_id)
        .join(Media, col(Media.sha256) == Bulletin.media_sha256)
        .where(Schedule.status == "active", Bulletin.status == "approved")
        .where(col(Schedule.starts_at) <= until)
    ).all()
    result = []
    for schedule, bulletin, media in rows:
        start_ms = int(schedule.starts_at.timestamp() * 1000)
        if start_ms + media.duration_ms <= since.timestamp() * 1000:
            continue
        ref = MediaRef(
            sha256=media.sha256,
            url=f"{media_url.rstrip('/')}/media/{media.sha256}",
            bytes=media.bytes,
            duration_ms=media.duration_ms,
            mime=media.mime,
        )
        result.append(
            Occurrence(
                schedule_id=schedule.id or 0,
                created_order=schedule.id or 0,
                start_ms=start_ms,
                media=ref,
                priority=schedule.priority,  # type: ignore[arg-type]
                device_ids=tuple(sorted(devices_in(session, schedule.target_zone_id))),
                bulletin_id=bulletin.id,
            )
        )
    return result
