"""Playlists, saved groups of boxes and zone policies: what schedules refer to."""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlmodel import Session, col, select

from controller import audit_log
from controller.airings import Catalogue
from controller.auth import can_touch_zone, commune_ids, require
from controller.errors import Forbidden, InvalidInput, NotFound
from controller.i18n import N_
from controller.library_text import invalid_input
from controller.models import (
    Bulletin,
    Device,
    DeviceGroup,
    DeviceGroupMember,
    Playlist,
    Schedule,
    User,
    Zone,
)
from playlists.playlist import PlaylistEntry, PlaylistError, expand, total_duration_ms
from playlists.policy import ZonePolicy
from playlists.wire import MediaRef

_PROBE = MediaRef(sha256="0" * 64, url="http://probe/", bytes=0, duration_ms=0)


def _scope(session: Session, user: User, commune_id: int | None) -> None:
    allowed = commune_ids(session, user)
    if commune_id is None:
        if allowed is not None:
            raise Forbidden(N_("Only the province administrator may create province-wide items."))
    elif allowed is not None and commune_id not in allowed:
        raise InvalidInput(N_("You do not look after this commune."), field="commune_id")


def create_playlist(
    session: Session, *, user: User, name: str, commune_id: int | None, entries: Sequence[PlaylistEntry]
) -> Playlist:
    """Save a playlist after checking that every bulletin, chime and nested playlist exists, with no cycle."""
    require(user, "schedule.write")
    _scope(session, user, commune_id)
    if not name.strip():
        raise InvalidInput(N_("Please name the playlist."), field="name")
    if not entries:
        raise InvalidInput(N_("A playlist needs at least one item."), field="entries")
    catalogue = Catalogue.load(session, "http://probe")
    allowed = commune_ids(session, user)
    visible = {
        b.id: _PROBE
        for b in session.exec(select(Bulletin)).all()
        if allowed is None or b.commune_id in allowed
    }
    try:
        expand(tuple(entries), playlists=catalogue.playlists, bulletins=visible, chimes=catalogue.chimes)
    except PlaylistError as exc:
        raise invalid_input(exc, field="entries") from exc
    playlist = Playlist(
        name=name.strip()[:200],
        commune_id=commune_id,
        created_by=user.id or 0,
        entries_json=json.dumps([e.model_dump(mode="json", exclude_none=True) for e in entries]),
    )
    session.add(playlist)
    session.flush()
    audit_log.record(
        session, actor=user, action="playlist.create", object_type="playlist", object_id=playlist.id
    )
    session.commit()
    session.refresh(playlist)
    return playlist


def playlist_duration_ms(session: Session, playlist: Playlist) -> int | None:
    """Total playing time, or None while something in it cannot be played (e.g. not approved)."""
    catalogue = Catalogue.load(session, "http://probe")
    try:
        return total_duration_ms(catalogue.segments(bulletin_id=None, playlist_id=playlist.id))
    except PlaylistError:
        return None


def list_playlists(session: Session, *, user: User) -> Sequence[Playlist]:
    require(user, "bulletin.view")
    query = select(Playlist).order_by(col(Playlist.id).desc())
    allowed = commune_ids(session, user)
    if allowed is not None:
        query = query.where(col(Playlist.commune_id).in_(allowed) | col(Playlist.commune_id).is_(None))
    return session.exec(query).all()


def create_group(
    session: Session, *, user: User, name: str, commune_id: int | None, device_ids: Sequence[str]
) -> DeviceGroup:
    """A saved set of boxes; every box must be in the user's communes."""
    require(user, "schedule.write")
    _scope(session, user, commune_id)
    if not name.strip() or not device_ids:
        raise InvalidInput(N_("A group needs a name and at least one speaker box."), field="device_ids")
    for device_id in set(device_ids):
        device = session.get(Device, device_id)
        zone = session.get(Zone, device.zone_id) if device else None
        if zone is None or not can_touch_zone(session, user, zone):
            raise InvalidInput(
                N_("Speaker box %(id)s is not in the area you look after."), field="device_ids", id=device_id
            )
    group = DeviceGroup(name=name.strip()[:200], commune_id=commune_id)
    session.add(group)
    session.flush()
    for device_id in sorted(set(device_ids)):
        session.add(DeviceGroupMember(group_id=group.id or 0, device_id=device_id))
    audit_log.record(
        session,
        actor=user,
        action="group.create",
        object_type="group",
        object_id=group.id,
        devices=sorted(set(device_ids)),
    )
    session.commit()
    session.refresh(group)
    return group


def list_groups(session: Session, *, user: User) -> list[tuple[DeviceGroup, list[str]]]:
    """Saved groups the user may use, with their boxes."""
    require(user, "device.view")
    query = select(DeviceGroup).order_by(col(DeviceGroup.name))
    allowed = commune_ids(session, user)
    if allowed is not None:
        query = query.where(col(DeviceGroup.commune_id).in_(allowed))
    groups = session.exec(query).all()
    members: dict[int, list[str]] = {g.id or 0: [] for g in groups}
    for member in session.exec(
        select(DeviceGroupMember).where(col(DeviceGroupMember.group_id).in_(list(members)))
    ).all():
        members[member.group_id].append(member.device_id)
    return [(g, sorted(members[g.id or 0])) for g in groups]


def delete_group(session: Session, *, user: User, group_id: int) -> None:
    """Remove a saved group; schedules that target it are refused (they would reach no box)."""
    require(user, "schedule.write")
    group = session.get(DeviceGroup, group_id)
    allowed = commune_ids(session, user)
    if group is None or (allowed is not None and group.commune_id not in allowed):
        raise NotFound(N_("No such group."))  # another commune's looks missing too
    in_use = session.exec(
        select(Schedule).where(
            Schedule.target_kind == "group", Schedule.target_group_id == group_id, Schedule.status == "active"
        )
    ).first()
    if in_use is not None:
        raise InvalidInput(
            N_("The group is used by a schedule; cancel that schedule first."), field="group_id"
        )
    for member in session.exec(select(DeviceGroupMember).where(DeviceGroupMember.group_id == group_id)).all():
        session.delete(member)
    session.flush()  # members first: no relationship tells the unit of work the order
    session.delete(group)
    audit_log.record(session, actor=user, action="group.delete", object_type="group", object_id=group_id)
    session.commit()


def set_policy(session: Session, *, user: User, zone_id: int, policy: ZonePolicy | None) -> Zone:
    """Set (or clear) a zone's policy: admins anywhere, approvers in their communes."""
    zone = session.get(Zone, zone_id)
    if zone is None:
        raise InvalidInput(N_("Area not found."), field="zone_id")
    if (
        user.role not in ("admin", "approver")
        or not can_touch_zone(session, user, zone)
        or (zone.kind == "province" and user.role != "admin")
    ):
        raise Forbidden(N_("You may not set broadcast rules for this area."))
    zone.policy_json = policy.model_dump_json() if policy is not None else None
    session.add(zone)
    audit_log.record(
        session,
        actor=user,
        action="zone.policy",
        object_type="zone",
        object_id=zone.id,
        policy=json.loads(zone.policy_json) if zone.policy_json else None,
    )
    session.commit()
    session.refresh(zone)
    return zone
