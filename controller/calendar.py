"""The week calendar of a commune or a village: every airing of the week on its boxes, day by day.

Airings come from the same expansion the compiler uses (``airings.occurrences_of``) and are then
compiled for the zone's boxes (``playlists.compiler``), so the calendar also says which airings the
boxes will leave out (a clash with a schedule of higher rank, quiet hours, daily caps) and on how
many of them. Days are wall days in the controller's time zone (Asia/Ho_Chi_Minh): a week runs from
Monday 00:00 to the next Monday 00:00 there.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from controller.airings import Catalogue, active_schedules, occurrences_of
from controller.auth import require
from controller.errors import InvalidInput, NotFound
from controller.i18n import N_, gettext
from controller.models import Bulletin, DeviceGroup, Playlist, Schedule, User, Zone
from controller.targets import ZoneIndex
from controller.zones import visible_zone_ids
from playlists.compiler import compile_timelines

WEEK = timedelta(days=7)
_ISO_WEEK = re.compile(r"^(\d{4})-W(\d{1,2})$")
#: Why boxes leave an airing out, as the compiler names it.
REASONS = {
    "clash": N_("clashes with a schedule that ranks higher"),
    "quiet_hours": N_("falls in quiet hours"),
    "max_sessions": N_("over the daily number of broadcasts"),
    "max_minutes": N_("over the daily minutes of broadcast"),
}


@dataclass(frozen=True)
class Airing:
    """One airing on the zone's boxes: when (local), what, to whom, and how many boxes leave it out."""

    start: datetime
    end: datetime
    schedule_id: int
    what: str
    bulletin_id: int | None
    playlist_id: int | None
    category: str  # a bulletin category, or "playlist"
    priority: str
    where: str
    boxes: int  # boxes of the zone it reaches
    dropped: int  # of those, boxes that leave it out
    reasons: tuple[str, ...] = ()  # message ids of REASONS

    @property
    def state(self) -> str:
        """plays, partly (some boxes leave it out) or dropped (every box does)."""
        if not self.dropped:
            return "plays"
        return "dropped" if self.dropped >= self.boxes else "partly"


@dataclass(frozen=True)
class Day:
    day: date
    airings: list[Airing] = field(default_factory=list)


@dataclass(frozen=True)
class Week:
    """Seven days of a zone, Monday first."""

    zone: Zone
    monday: date
    days: list[Day]
    boxes: int

    @property
    def key(self) -> str:
        return week_key(self.monday)

    @property
    def previous(self) -> str:
        return week_key(self.monday - WEEK)

    @property
    def next(self) -> str:
        return week_key(self.monday + WEEK)


def week_key(monday: date) -> str:
    """The ISO week of a day, as ``2026-W48`` (what ``<input type=week>`` sends)."""
    year, number, _ = monday.isocalendar()
    return f"{year}-W{number:02d}"


def parse_week(text: str | None, *, today: date) -> date:
    """The Monday of an ISO week (``2026-W48``); the week of ``today`` when none is given."""
    if not text:
        return today - timedelta(days=today.weekday())
    match = _ISO_WEEK.match(text.strip())
    try:
        if match is None:
            raise ValueError(text)
        return date.fromisocalendar(int(match[1]), int(match[2]), 1)
    except ValueError:
        raise InvalidInput(
            N_("Invalid week: choose it as year and week, e.g. 2026-W48."), field="week"
        ) from None


def calendar_zones(session: Session, *, user: User) -> list[Zone]:
    """Communes and villages whose calendar the user may read, each commune followed by its villages."""
    require(user, "bulletin.view")
    allowed = visible_zone_ids(session, user=user)
    query = select(Zone).where(col(Zone.kind).in_(("commune", "village")))
    if allowed is not None:
        query = query.where(col(Zone.id).in_(allowed))
    zones = session.exec(query).all()
    villages: dict[int, list[Zone]] = defaultdict(list)
    for zone in zones:
        if zone.kind == "village" and zone.parent_id is not None:
            villages[zone.parent_id].append(zone)
    result: list[Zone] = []
    for commune in sorted((z for z in zones if z.kind == "commune"), key=lambda z: z.name):
        if allowed is None and not villages.get(commune.id or 0):
            continue  # a province-wide reader need not scroll past 100 communes with no boxes set up
        result.append(commune)
        result.extend(sorted(villages.get(commune.id or 0, []), key=lambda z: z.name))
    return result


def week_of(
    session: Session, *, user: User, zone_id: int, monday: date, tz: ZoneInfo, media_url: str
) -> Week:
    """The airings of the week starting on ``monday`` on the boxes of a commune or village."""
    require(user, "bulletin.view")
    zone = session.get(Zone, zone_id)
    allowed = visible_zone_ids(session, user=user)
    if (
        zone is None
        or zone.kind not in ("commune", "village")
        or (allowed is not None and zone_id not in allowed)
    ):
        raise NotFound(N_("Area not found."))  # another commune's looks missing too
    start = datetime.combine(monday, time(), tzinfo=tz)
    end = datetime.combine(monday + WEEK, time(), tzinfo=tz)
    index = ZoneIndex.load(session)
    devices = index.devices_below(zone_id)
    days = [Day(monday + timedelta(days=i)) for i in range(7)]
    if not devices:
        return Week(zone, monday, days, 0)
    schedules = active_schedules(session, since=start, until=end)
    found = occurrences_of(
        schedules,
        index=index,
        catalogue=Catalogue.load(session, media_url),
        since=start,
        until=end,
        only_devices=set(devices),
    )
    # Compiled from the week's first instant, so that airings already past are judged as they were.
    compiled = compile_timelines(
        found,
        devices,
        now_ms=int(start.timestamp() * 1000),
        horizon_ms=int(WEEK.total_seconds() * 1000),
        policies={d: p for d in devices if (p := index.policy_for(d)) is not None},
    )
    left_out: dict[tuple[int, int], set[str]] = defaultdict(set)
    reasons: dict[tuple[int, int], set[str]] = defaultdict(set)
    for conflict in compiled.conflicts:
        left_out[(conflict.schedule_id, conflict.start_ms)].add(conflict.device_id)
        reasons[(conflict.schedule_id, conflict.start_ms)].add(conflict.reason)
    airing_ids = {o.schedule_id for o in found}
    labels = _labels(session, [s for s in schedules if s.id in airing_ids])
    zone_devices = set(devices)
    for occurrence in sorted(found, key=lambda o: (o.start_ms, o.schedule_id)):
        local = occurrence.start.astimezone(tz)
        if not start <= local < end:
            continue  # began the week before: shown there
        schedule, what, category, where = labels[occurrence.schedule_id]
        key = (occurrence.schedule_id, occurrence.start_ms)
        days[(local.date() - monday).days].airings.append(
            Airing(
                start=local,
                end=local + timedelta(milliseconds=occurrence.duration_ms),
                schedule_id=occurrence.schedule_id,
                what=what,
                bulletin_id=schedule.bulletin_id,
                playlist_id=schedule.playlist_id,
                category=category,
                priority=occurrence.priority,
                where=where,
                boxes=len(zone_devices.intersection(occurrence.device_ids)),
                dropped=len(left_out.get(key, ())),
                reasons=tuple(REASONS.get(r, r) for r in sorted(reasons.get(key, ()))),
            )
        )
    return Week(zone, monday, days, len(devices))


def _labels(session: Session, schedules: list[Schedule]) -> dict[int, tuple[Schedule, str, str, str]]:
    """(schedule, what it plays, its colour category, where it is sent) by schedule id."""
    bulletin_ids = {s.bulletin_id for s in schedules if s.bulletin_id is not None}
    playlist_ids = {s.playlist_id for s in schedules if s.playlist_id is not None}
    zone_ids = {s.target_zone_id for s in schedules if s.target_zone_id is not None}
    group_ids = {s.target_group_id for s in schedules if s.target_group_id is not None}
    bulletins = {
        b.id: (b.title, b.category)
        for b in session.exec(select(Bulletin).where(col(Bulletin.id).in_(bulletin_ids))).all()
    }
    playlists = {
        p.id: p.name for p in session.exec(select(Playlist).where(col(Playlist.id).in_(playlist_ids))).all()
    }
    zones = {z.id: z.name for z in session.exec(select(Zone).where(col(Zone.id).in_(zone_ids))).all()}
    groups = {
        g.id: g.name
        for g in session.exec(select(DeviceGroup).where(col(DeviceGroup.id).in_(group_ids))).all()
    }
    result = {}
    for s in schedules:
        if s.bulletin_id is not None:
            what, category = bulletins.get(s.bulletin_id, ("?", "notice"))
        else:
            what = gettext("Playlist: %(name)s", name=playlists.get(s.playlist_id, "?"))
            category = "playlist"
        if s.target_kind == "device":
            where = gettext("Speaker box %(id)s", id=s.target_device_id)
        elif s.target_kind == "group":
            where = groups.get(s.target_group_id, "?")
        else:
            where = zones.get(s.target_zone_id, "?")
        result[s.id or 0] = (s, what, category, where)
    return result
