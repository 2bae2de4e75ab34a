"""Chimes of a commune or of the province: uploaded in the panel, checked with ffmpeg, kept by hash.

A bulletin opens and closes with its commune's chime, else the province's, else the configured one
(``LOA_OPENING_CHIME`` / ``LOA_CLOSING_CHIME``, or the generated bell). The files go into the media
store as uploaded (by sha256, whole or absent, backed up with the media); a replaced chime keeps its
file, since approved audio never changes and the render cache knows a chime by its content.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session, col, select

from audio import AudioError, MediaStore
from audio.chimes import MAX_CHIME_S
from audio.ffmpeg import analyse
from controller import audit_log
from controller.auth import can_touch_zone, commune_ids
from controller.errors import Forbidden, InvalidInput, NotFound
from controller.i18n import N_
from controller.models import User, Zone, ZoneChime, utcnow

WHICH = {"opening": N_("Opening chime"), "closing": N_("Closing chime")}
EDITORS = frozenset({"admin", "editor"})
MAX_CHIME_MB = 10  # a 30-second chime needs far less, even as WAV


@dataclass(frozen=True)
class ZoneChimes:
    """A zone, and for each chime the row it uses (its own, or the province's) or None (configured)."""

    zone: Zone
    chosen: dict[str, ZoneChime | None]
    own: frozenset[str]


def chime_zones(session: Session, *, user: User) -> list[Zone]:
    """The zones whose chimes the user may set: the province (admins), then communes by name."""
    if user.role not in EDITORS:
        raise Forbidden(N_("You may not change the chimes."))
    allowed = commune_ids(session, user)
    if allowed is None:
        province = session.exec(select(Zone).where(Zone.kind == "province").order_by(col(Zone.id))).all()
        communes = session.exec(select(Zone).where(Zone.kind == "commune").order_by(col(Zone.name))).all()
        return [*province, *communes]
    return list(session.exec(select(Zone).where(col(Zone.id).in_(allowed)).order_by(col(Zone.name))).all())


def table(session: Session, zones: Sequence[Zone]) -> list[ZoneChimes]:
    """What each zone opens and closes with."""
    rows = _rows(session)
    result = []
    for zone in zones:
        chosen = {which: _nearest(session, rows, zone, which) for which in WHICH}
        own = frozenset(which for which in WHICH if (zone.id, which) in rows)
        result.append(ZoneChimes(zone, chosen, own))
    return result


def files_for(session: Session, *, zone_id: int | None, store: MediaStore) -> tuple[Path | None, Path | None]:
    """The opening and closing chime files of a zone's bulletins (None: the configured chime)."""
    if zone_id is None:
        return None, None
    zone = session.get(Zone, zone_id)
    if zone is None:
        return None, None
    rows = _rows(session)
    found = [_nearest(session, rows, zone, which) for which in ("opening", "closing")]
    opening, closing = (store.path_for(c.sha256) if c is not None else None for c in found)
    return opening, closing


def save_chime(
    session: Session, *, user: User, zone_id: int, which: str, path: Path, name: str, store: MediaStore
) -> ZoneChime:
    """Check an uploaded file as a chime (ffmpeg decodes it cleanly, it is not silent, it is short)
    and make it the zone's; on any problem nothing changes."""
    zone = _editable(session, user, zone_id)
    if which not in WHICH:
        raise InvalidInput(N_("Choose the opening or the closing chime."), field="which")
    duration_ms = check_chime(path)
    digest = store.put_file(path).sha256
    row = session.get(ZoneChime, (zone.id, which)) or ZoneChime(
        zone_id=zone.id or 0, which=which, sha256=digest, name="", duration_ms=0, uploaded_by=0
    )
    row.sha256, row.name, row.duration_ms = digest, (Path(name).name or "chime")[:200], duration_ms
    row.uploaded_by, row.uploaded_at = user.id or 0, utcnow()
    session.add(row)
    audit_log.record(
        session,
        actor=user,
        action="chime.set",
        object_type="zone",
        object_id=zone.code,
        which=which,
        sha256=digest,
    )
    session.commit()
    session.refresh(row)
    return row


def remove_chime(session: Session, *, user: User, zone_id: int, which: str) -> None:
    """The zone goes back to the chime above it (the province's, or the configured one)."""
    zone = _editable(session, user, zone_id)
    row = session.get(ZoneChime, (zone.id, which))
    if row is None:
        raise NotFound(N_("This area has no chime of its own."))
    session.delete(row)
    audit_log.record(
        session, actor=user, action="chime.remove", object_type="zone", object_id=zone.code, which=which
    )
    session.commit()


def chime_file(session: Session, *, user: User, zone_id: int, which: str, store: MediaStore) -> Path:
    """The file of a zone's own chime, to listen to in the panel."""
    zone = _editable(session, user, zone_id)
    row = session.get(ZoneChime, (zone.id, which))
    if row is None or not store.has(row.sha256):
        raise NotFound(N_("This area has no chime of its own."))
    return store.path_for(row.sha256)


def check_chime(path: Path) -> int:
    """The chime's length in ms, or InvalidInput saying in plain words what is wrong with the file."""
    try:
        found = analyse(path)
    except AudioError:
        raise InvalidInput(
            N_("The file is not a sound file the server can read (for example WAV, MP3, OGG or M4A)."),
            field="file",
        ) from None
    if found.errors or found.duration_s <= 0:
        raise InvalidInput(N_("The sound file is damaged: it cannot be played to the end."), field="file")
    if found.integrated_lufs <= -69.0:
        raise InvalidInput(N_("The sound file is silent."), field="file")
    if found.duration_s > MAX_CHIME_S:
        raise InvalidInput(
            N_("A chime plays at most %(seconds)s seconds; this file plays %(length)s seconds."),
            field="file",
            seconds=f"{MAX_CHIME_S:g}",
            length=f"{found.duration_s:.0f}",
        )
    return round(found.duration_s * 1000)


def _editable(session: Session, user: User, zone_id: int) -> Zone:
    if user.role not in EDITORS:
        raise Forbidden(N_("You may not change the chimes."))
    zone = session.get(Zone, zone_id)
    if zone is None or zone.kind not in ("province", "commune") or not can_touch_zone(session, user, zone):
        raise NotFound(N_("Area not found."))  # the province too, for commune roles: not theirs
    return zone


def _rows(session: Session) -> dict[tuple[int | None, str], ZoneChime]:
    return {(c.zone_id, c.which): c for c in session.exec(select(ZoneChime)).all()}


def _nearest(
    session: Session, rows: dict[tuple[int | None, str], ZoneChime], zone: Zone, which: str
) -> ZoneChime | None:
    current: Zone | None = zone
    seen: set[int | None] = set()
    while current is not None and current.id not in seen:
        seen.add(current.id)
        if (current.id, which) in rows:
            return rows[(current.id, which)]
        current = session.get(Zone, current.parent_id) if current.parent_id else None
    return None
