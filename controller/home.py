"""What the home page shows a user, within their communes: the broadcasts of today and tomorrow, what
is on air now, their boxes online and offline with their alerts, and the bulletins waiting for them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from controller.airings import active_schedules, rule_of
from controller.alerts import Alert, AlertRules
from controller.auth import PERMISSIONS, commune_ids, require
from controller.devices import DeviceRow, live_rows, scope_zone_ids
from controller.i18n import gettext
from controller.models import Bulletin, Device, DeviceGroup, Emergency, Playlist, Schedule, User, Zone
from controller.reconcile import broadcast_of
from playlists.rules import occurrences

MAX_PER_DAY = 30
MAX_PLAYING = 20
MAX_ALERTS = 8


@dataclass(frozen=True)
class Airing:
    """One broadcast a schedule makes: when, what, where, how urgently."""

    at: datetime
    wall: str  # the local time of day, HH:MM
    schedule_id: int
    what: str
    bulletin_id: int | None
    where: str
    priority: str


@dataclass(frozen=True)
class Day:
    day: date
    airings: list[Airing]
    more: int  # airings of the day not listed (past MAX_PER_DAY)


@dataclass(frozen=True)
class Playing:
    """A box on air now, and what it plays."""

    device_id: str
    device_name: str
    zone_name: str
    what: str
    bulletin_id: int | None
    emergency: bool


@dataclass(frozen=True)
class Boxes:
    """The user's boxes by state (revoked ones left out), and the first of their alerts."""

    online: int
    offline: int
    never: int
    with_alerts: int
    alerts: list[tuple[DeviceRow, Alert]]


def _bulletins(session: Session, ids: set[int]) -> dict[int, tuple[str, int | None]]:
    """Title and commune of the given bulletins."""
    if not ids:
        return {}
    query = select(Bulletin.id, Bulletin.title, Bulletin.commune_id).where(col(Bulletin.id).in_(ids))
    return {i: (title, commune) for i, title, commune in session.exec(query).all() if i is not None}


def _playlists(session: Session, ids: set[int]) -> dict[int, tuple[str, int | None]]:
    """Name and commune (None: the province's) of the given playlists."""
    if not ids:
        return {}
    query = select(Playlist.id, Playlist.name, Playlist.commune_id).where(col(Playlist.id).in_(ids))
    return {i: (name, commune) for i, name, commune in session.exec(query).all() if i is not None}


def _where(session: Session, schedules: Sequence[Schedule]) -> dict[int, str]:
    """Where each schedule airs, in words: a zone's or a group's name, or a box."""
    zone_ids = {s.target_zone_id for s in schedules if s.target_zone_id is not None}
    group_ids = {s.target_group_id for s in schedules if s.target_group_id is not None}
    zones = dict(session.exec(select(Zone.id, Zone.name).where(col(Zone.id).in_(zone_ids))).all())
    groups = dict(
        session.exec(select(DeviceGroup.id, DeviceGroup.name).where(col(DeviceGroup.id).in_(group_ids))).all()
    )
    where = {}
    for s in schedules:
        if s.target_kind == "device":
            where[s.id or 0] = gettext("Speaker box %(id)s", id=s.target_device_id)
        elif s.target_kind == "group":
            where[s.id or 0] = groups.get(s.target_group_id, "?")
        else:
            where[s.id or 0] = zones.get(s.target_zone_id, "?")
    return where


def airings(session: Session, *, user: User, tz: ZoneInfo, now: datetime, days: int = 2) -> list[Day]:
    """Every broadcast from the start of today (local time) for ``days`` days, of the schedules of the
    user's communes (a schedule belongs to the commune of the bulletin or playlist it plays)."""
    require(user, "bulletin.view")
    first = now.astimezone(tz).date()
    start = datetime.combine(first, time(), tzinfo=tz)
    end = datetime.combine(first + timedelta(days=days), time(), tzinfo=tz)
    schedules = active_schedules(session, until=end, since=start)
    bulletins = _bulletins(session, {s.bulletin_id for s in schedules if s.bulletin_id is not None})
    playlists = _playlists(session, {s.playlist_id for s in schedules if s.playlist_id is not None})
    allowed = commune_ids(session, user)
    mine = []
    for schedule in schedules:
        what, commune = (
            bulletins.get(schedule.bulletin_id, ("?", None))
            if schedule.bulletin_id is not None
            else playlists.get(schedule.playlist_id or 0, ("?", None))
        )
        if schedule.playlist_id is not None:
            what = gettext("Playlist: %(name)s", name=what)
        if allowed is None or commune in allowed:
            mine.append((schedule, what))
    where = _where(session, [s for s, _what in mine])
    by_day: dict[date, list[Airing]] = {first + timedelta(days=n): [] for n in range(days)}
    for schedule, what in mine:
        for at in occurrences(rule_of(schedule), start, end):
            by_day.setdefault(at.astimezone(tz).date(), []).append(
                Airing(
                    at,
                    at.astimezone(tz).strftime("%H:%M"),
                    schedule.id or 0,
                    what,
                    schedule.bulletin_id,
                    where[schedule.id or 0],
                    schedule.priority,
                )
            )
    result = []
    for day, found in sorted(by_day.items()):
        found.sort(key=lambda a: (a.at, a.schedule_id))
        result.append(Day(day, found[:MAX_PER_DAY], max(0, len(found) - MAX_PER_DAY)))
    return result


def boxes(rows: Sequence[DeviceRow]) -> Boxes:
    """Counts and alerts of the given boxes (the user's, from devices.matching_rows). Pure."""
    active = [r for r in rows if not r.revoked]
    alerts = [(row, alert) for row in active for alert in row.alerts]
    return Boxes(
        online=sum(1 for r in active if r.state == "online"),
        offline=sum(1 for r in active if r.state == "offline"),
        never=sum(1 for r in active if r.state == "unknown"),
        with_alerts=sum(1 for r in active if r.alerts),
        alerts=alerts[:MAX_ALERTS],
    )


def now_playing(session: Session, rows: Sequence[DeviceRow]) -> list[Playing]:
    """The boxes among ``rows`` that say they are playing, with what (from the item id they report)."""
    on_air = [r for r in rows if not r.revoked and r.state == "online" and r.status.get("playing_item_id")]
    refs = {r.id: broadcast_of(str(r.status["playing_item_id"])) for r in on_air[:MAX_PLAYING]}
    schedule_ids = {ref.source_id for ref in refs.values() if ref and ref.source == "schedule"}
    emergency_ids = {ref.source_id for ref in refs.values() if ref and ref.source == "emergency"}
    schedules = (
        {s.id: s for s in session.exec(select(Schedule).where(col(Schedule.id).in_(schedule_ids))).all()}
        if schedule_ids
        else {}
    )
    emergencies = (
        dict(
            session.exec(
                select(Emergency.id, Emergency.bulletin_id).where(col(Emergency.id).in_(emergency_ids))
            ).all()
        )
        if emergency_ids
        else {}
    )
    bulletin_ids = {s.bulletin_id for s in schedules.values() if s.bulletin_id} | set(emergencies.values())
    titles = _bulletins(session, {i for i in bulletin_ids if i is not None})
    playlists = _playlists(session, {s.playlist_id for s in schedules.values() if s.playlist_id})
    result = []
    for row in on_air[:MAX_PLAYING]:
        ref = refs[row.id]
        what, bulletin_id = gettext("Other audio (%(item)s)", item=row.status["playing_item_id"]), None
        if ref is not None and ref.source == "emergency":
            bulletin_id = emergencies.get(ref.source_id)
        elif ref is not None and (schedule := schedules.get(ref.source_id)) is not None:
            bulletin_id = schedule.bulletin_id
            if schedule.playlist_id is not None:
                what = gettext("Playlist: %(name)s", name=playlists.get(schedule.playlist_id, ("?", None))[0])
        if bulletin_id is not None and bulletin_id in titles:
            what = titles[bulletin_id][0]
        result.append(
            Playing(
                device_id=row.id,
                device_name=row.name,
                zone_name=row.zone_name,
                what=what,
                bulletin_id=bulletin_id,
                emergency=ref is not None and ref.source == "emergency",
            )
        )
    return result


def playing_rows(session: Session, *, user: User, now: datetime, rules: AlertRules) -> list[DeviceRow]:
    """The user's boxes whose last status says they are playing: a cheap read for live redraws."""
    zones = scope_zone_ids(session, user=user)
    query = select(Device.id).where(
        Device.state == "online", col(Device.status_json).contains('"playing_item_id":"', autoescape=True)
    )
    if zones is not None:
        query = query.where(col(Device.zone_id).in_(zones))
    ids = session.exec(query.order_by(col(Device.id)).limit(MAX_PLAYING)).all()
    return live_rows(session, zone_ids=zones, device_ids=ids, now=now, rules=rules) if ids else []


def waiting_for(session: Session, *, user: User) -> list[Bulletin]:
    """Bulletins of the user's communes awaiting approval, if they approve (oldest request first)."""
    if user.role not in PERMISSIONS["bulletin.decide"]:
        return []
    query = select(Bulletin).where(Bulletin.status == "submitted").order_by(col(Bulletin.submitted_at))
    allowed = commune_ids(session, user)
    if allowed is not None:
        query = query.where(col(Bulletin.commune_id).in_(allowed))
    return list(session.exec(query.limit(50)).all())


def my_unfinished(session: Session, *, user: User) -> list[Bulletin]:
    """The user's own drafts and rejected bulletins, if they write (latest change first)."""
    if user.role not in PERMISSIONS["bulletin.write"]:
        return []
    query = (
        select(Bulletin)
        .where(Bulletin.author_id == user.id, col(Bulletin.status).in_(("draft", "rejected")))
        .order_by(col(Bulletin.updated_at).desc())
    )
    allowed = commune_ids(session, user)
    if allowed is not None:
        query = query.where(col(Bulletin.commune_id).in_(allowed))
    return list(session.exec(query.limit(50)).all())
