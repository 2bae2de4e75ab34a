"""Schedules: what airs (a bulletin or a playlist), where (a target), when (a rule), how urgently.

Saving checks the rule, the target's scope, the zone policies (refused for normal and priority;
emergency overrides and the override is logged) and clashes with existing schedules (shown before
saving; the later schedule loses on the boxes where it clashes unless it has a higher priority).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from sqlmodel import Session, col, select

from controller import audit_log
from controller.airings import Catalogue, active_schedules, occurrences_of, rule_of
from controller.auth import can_touch_zone, commune_ids, require
from controller.errors import Forbidden, InvalidInput, NotFound
from controller.i18n import N_, gettext, use_language
from controller.library_text import invalid_input, words
from controller.models import Bulletin, Device, DeviceGroup, Playlist, Schedule, User, Zone, utcnow
from controller.schedule_words import describe_rule
from controller.targets import ZoneIndex
from playlists.compiler import Conflict, compile_timelines
from playlists.playlist import PlaylistError
from playlists.rules import Rule
from playlists.rules import occurrences as rule_occurrences

# A schedule must leave boxes time to receive the timeline and fetch the audio.
MIN_LEAD = timedelta(seconds=5)
# How far ahead saving looks for policy breaches and clashes (covers monthly rules).
CHECK_WINDOW = timedelta(days=35)
PRIORITIES = {"normal": N_("Normal"), "priority": N_("Priority"), "emergency": N_("Emergency")}


@dataclass(frozen=True)
class Target:
    kind: str  # zone, device, group
    zone_id: int | None = None
    device_id: str | None = None
    group_id: int | None = None


@dataclass
class SaveReport:
    """What saving a schedule would do: boxes reached, policy breaches, clashes."""

    devices: tuple[str, ...] = ()
    occurrences: int = 0
    violations: list[Conflict] = field(default_factory=list)
    clashes: list[Conflict] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        def row(c: Conflict) -> dict[str, object]:
            at = datetime.fromtimestamp(c.start_ms / 1000, UTC)
            return {
                "device_id": c.device_id,
                "schedule_id": c.schedule_id,
                "start": at.isoformat(),
                "reason": c.reason,
                "other_schedule_id": c.winner_schedule_id,
                "message": words(c.text),
            }

        return {
            "devices": list(self.devices),
            "occurrences": self.occurrences,
            "violations": [row(c) for c in self.violations],
            "clashes": [row(c) for c in self.clashes],
        }


class ScheduleRefused(InvalidInput):
    """Saving was refused; ``report`` says why, box by box."""

    def __init__(
        self, message: str, report: SaveReport, *, field: str | None = None, **params: object
    ) -> None:
        super().__init__(message, field=field, **params)
        self.report = report

    def details(self) -> dict[str, object]:
        return {"report": self.report.as_dict()}


def _check_target(session: Session, user: User, target: Target) -> None:
    """Editors reach only their communes; only province-wide roles reach the province."""
    if target.kind == "zone":
        zone = session.get(Zone, target.zone_id) if target.zone_id is not None else None
        if zone is None:
            raise InvalidInput(N_("Please choose where to broadcast."), field="target")
        if zone.kind == "province" and user.role != "admin":
            raise Forbidden(N_("Only the province administrator may schedule a province-wide broadcast."))
        if not can_touch_zone(session, user, zone):
            raise InvalidInput(N_("Please choose a village or commune that you look after."), field="target")
    elif target.kind == "device":
        device = session.get(Device, target.device_id) if target.device_id else None
        zone = session.get(Zone, device.zone_id) if device else None
        if zone is None or not can_touch_zone(session, user, zone):
            raise InvalidInput(N_("This speaker box is not in a commune you look after."), field="target")
    elif target.kind == "group":
        group = session.get(DeviceGroup, target.group_id) if target.group_id is not None else None
        allowed = commune_ids(session, user)
        if group is None or (allowed is not None and group.commune_id not in allowed):
            raise InvalidInput(N_("No such group of speaker boxes."), field="target")
    else:
        raise InvalidInput(N_("Invalid kind of target."), field="target")


def _window(rule: Rule, now: datetime) -> tuple[datetime, datetime | None]:
    """First instant and last possible instant of a rule (None: open-ended)."""
    if rule.kind == "once":
        assert rule.at is not None
        return rule.at, rule.at
    upcoming = rule_occurrences(rule, now, now + timedelta(days=400))
    if not upcoming:
        raise InvalidInput(N_("This repeat rule has no upcoming airing."), field="rule")
    last = None
    if rule.end_date is not None:
        beyond = datetime.combine(rule.end_date + timedelta(days=2), time(), tzinfo=UTC)
        last = rule_occurrences(rule, now, beyond)[-1]
    return upcoming[0], last


def plan_schedule(
    session: Session,
    *,
    user: User,
    bulletin_id: int | None,
    playlist_id: int | None,
    target: Target,
    rule: Rule,
    priority: str,
    volume: int,
    media_url: str,
    horizon: timedelta,
) -> tuple[Schedule, SaveReport]:
    """Validate a schedule and work out its report, without saving it."""
    require(user, "schedule.write")
    if priority not in PRIORITIES:
        raise InvalidInput(N_("Invalid priority."), field="priority")
    if priority == "emergency" and user.role not in ("admin", "approver"):
        raise Forbidden(N_("Only approvers and administrators may schedule emergencies."))
    if not 0 <= volume <= 100:
        raise InvalidInput(N_("Volume is 0 to 100."), field="volume")
    if (bulletin_id is None) == (playlist_id is None):
        raise InvalidInput(N_("Choose one bulletin or one playlist."), field="bulletin_id")
    _check_target(session, user, target)
    now = utcnow()
    first, last = _window(rule, now)
    if first < now + MIN_LEAD:
        raise InvalidInput(
            N_("The broadcast time must be in the future (at least a few seconds from now)."),
            field="starts_at",
        )
    if rule.kind == "once" and first > now + horizon:
        raise InvalidInput(
            N_("A one-off schedule can only be set within the next %(days)s days."),
            field="starts_at",
            days=max(1, horizon.days),
        )
    catalogue = Catalogue.load(session, media_url)
    try:
        catalogue.segments(bulletin_id=bulletin_id, playlist_id=playlist_id)
    except PlaylistError as exc:
        raise invalid_input(exc, field="bulletin_id") from exc
    if bulletin_id is not None:
        bulletin = session.get(Bulletin, bulletin_id)
        allowed = commune_ids(session, user)
        if bulletin is None or (allowed is not None and bulletin.commune_id not in allowed):
            raise InvalidInput(N_("Bulletin not found."), field="bulletin_id")
    schedule = Schedule(
        bulletin_id=bulletin_id,
        playlist_id=playlist_id,
        target_kind=target.kind,
        target_zone_id=target.zone_id,
        target_device_id=target.device_id,
        target_group_id=target.group_id,
        rule_json=rule.model_dump_json(),
        starts_at=first,
        ends_at=last,
        priority=priority,
        volume=volume,
        created_by=user.id or 0,
    )
    index = ZoneIndex.load(session)
    devices = index.resolve(
        target.kind, zone_id=target.zone_id, device_id=target.device_id, group_id=target.group_id
    )
    if not devices:
        raise InvalidInput(N_("There are no speaker boxes at this target yet."), field="target")
    report = _report(session, schedule, devices=devices, index=index, catalogue=catalogue, now=now)
    return schedule, report


PROPOSED_ID = 2**31 - 1  # the schedule being planned ranks after every saved one


def _report(
    session: Session,
    schedule: Schedule,
    *,
    devices: tuple[str, ...],
    index: ZoneIndex,
    catalogue: Catalogue,
    now: datetime,
) -> SaveReport:
    until = now + CHECK_WINDOW
    existing = active_schedules(session, since=now, until=until)
    schedule.id = PROPOSED_ID
    try:
        proposed = occurrences_of([schedule], index=index, catalogue=catalogue, since=now, until=until)
        others = occurrences_of(existing, index=index, catalogue=catalogue, since=now, until=until)
    finally:
        schedule.id = None
    policies = {d: p for d in devices if (p := index.policy_for(d)) is not None}
    window_ms = int(CHECK_WINDOW.total_seconds() * 1000)
    before = compile_timelines(
        others, devices, now_ms=int(now.timestamp() * 1000), horizon_ms=window_ms, policies=policies
    )
    after = compile_timelines(
        [*others, *proposed],
        devices,
        now_ms=int(now.timestamp() * 1000),
        horizon_ms=window_ms,
        policies=policies,
    )
    if schedule.priority == "emergency":
        # Emergencies override policies; compile it once as "priority" to name what it overrides.
        as_priority = [dataclasses.replace(o, priority="priority") for o in proposed]
        probe = compile_timelines(
            [*others, *as_priority],
            devices,
            now_ms=int(now.timestamp() * 1000),
            horizon_ms=window_ms,
            policies=policies,
        )
        overridden = [c for c in probe.conflicts if c.schedule_id == PROPOSED_ID and c.reason != "clash"]
    else:
        overridden = []
    seen_before = {(c.device_id, c.schedule_id, c.start_ms) for c in before.conflicts}
    report = SaveReport(devices=devices, occurrences=len(proposed), violations=overridden)
    for conflict in after.conflicts:
        mine = conflict.schedule_id == PROPOSED_ID
        if not mine and (conflict.device_id, conflict.schedule_id, conflict.start_ms) in seen_before:
            continue
        if conflict.reason == "clash" or not mine:
            report.clashes.append(conflict)
        else:
            report.violations.append(conflict)
    return report


def save_schedule(
    session: Session, *, user: User, schedule: Schedule, report: SaveReport, accept_clashes: bool
) -> Schedule:
    """Save a planned schedule; refuses policy breaches (unless emergency) and unaccepted clashes."""
    if report.violations and schedule.priority != "emergency":
        raise ScheduleRefused(
            N_("The schedule breaks the area's rules: %(problem)s"),
            report,
            field="rule",
            problem=words(report.violations[0].text),
        )
    if report.clashes and not accept_clashes:
        raise ScheduleRefused(
            N_(
                "The schedule clashes with other schedules (speaker boxes affected: %(boxes)s). "
                "See the list below, change the time or confirm to save anyway."
            ),
            report,
            field="rule",
            boxes=len({c.device_id for c in report.clashes}),
        )
    session.add(schedule)
    session.flush()
    detail: dict[str, object] = {
        "rule": json.loads(schedule.rule_json),
        "target": schedule.target_kind,
        "devices": len(report.devices),
        "priority": schedule.priority,
    }
    if report.violations:
        with use_language("vi"):  # the audit log reads the same whoever saved
            detail["policy_override"] = [words(c.text) for c in report.violations[:20]]
    if report.clashes:
        detail["accepted_clashes"] = len(report.clashes)
    audit_log.record(
        session, actor=user, action="schedule.create", object_type="schedule", object_id=schedule.id, **detail
    )
    session.commit()
    session.refresh(schedule)
    return schedule


def cancel_schedule(session: Session, *, user: User, schedule_id: int) -> Schedule:
    require(user, "schedule.write")
    schedule = session.get(Schedule, schedule_id)
    if schedule is None or not _visible(session, user, schedule):
        raise NotFound(N_("Schedule not found."))  # another commune's looks missing too
    schedule.status = "cancelled"
    session.add(schedule)
    audit_log.record(
        session, actor=user, action="schedule.cancel", object_type="schedule", object_id=schedule_id
    )
    session.commit()
    session.refresh(schedule)
    return schedule


def _visible(session: Session, user: User, schedule: Schedule) -> bool:
    allowed = commune_ids(session, user)
    if allowed is None:
        return True
    if schedule.bulletin_id is not None:
        bulletin = session.get(Bulletin, schedule.bulletin_id)
        return bulletin is not None and bulletin.commune_id in allowed
    playlist = session.get(Playlist, schedule.playlist_id) if schedule.playlist_id else None
    return playlist is not None and playlist.commune_id in allowed


def list_schedules(session: Session, *, user: User) -> list[tuple[Schedule, str, str]]:
    """(schedule, what it plays, where) newest first, limited to the user's communes."""
    require(user, "bulletin.view")
    rows = session.exec(select(Schedule).order_by(col(Schedule.starts_at).desc()).limit(500)).all()
    titles = {b.id: b.title for b in session.exec(select(Bulletin)).all()}
    playlists = {p.id: p.name for p in session.exec(select(Playlist)).all()}
    zones = {z.id: z.name for z in session.exec(select(Zone)).all()}
    result = []
    for schedule in rows:
        if not _visible(session, user, schedule):
            continue
        what = (
            titles.get(schedule.bulletin_id, "?")
            if schedule.bulletin_id is not None
            else gettext("Playlist: %(name)s", name=playlists.get(schedule.playlist_id, "?"))
        )
        if schedule.target_kind == "zone":
            where = zones.get(schedule.target_zone_id, "?")
        elif schedule.target_kind == "device":
            where = gettext("Speaker box %(id)s", id=schedule.target_device_id)
        else:
            where = gettext("Group %(id)s", id=schedule.target_group_id)
        result.append((schedule, what, where))
    return result


def describe(schedule: Schedule) -> str:
    """The schedule's rule in words, in the reader's language."""
    return describe_rule(rule_of(schedule))
