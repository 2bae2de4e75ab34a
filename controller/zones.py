"""Zone tree queries: which boxes a target reaches, which villages a user may target."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from controller import audit_log, registry_text
from controller.auth import commune_ids
from controller.errors import Forbidden, InvalidInput
from controller.i18n import N_
from controller.models import User, Zone
from device_registry.csv_import import parse_villages_csv


def descendant_ids(session: Session, zone_id: int) -> set[int]:
    """The zone and every zone below it."""
    found, frontier = {zone_id}, [zone_id]
    while frontier:
        children = session.exec(select(Zone.id).where(col(Zone.parent_id).in_(frontier))).all()
        frontier = [c for c in children if c is not None and c not in found]
        found.update(frontier)
    return found


def visible_zone_ids(session: Session, *, user: User) -> set[int] | None:
    """Every zone in the user's communes (villages included); None means the whole province."""
    allowed = commune_ids(session, user)
    if allowed is None:
        return None
    zones: set[int] = set()
    for commune_id in allowed:
        zones |= descendant_ids(session, commune_id)
    return zones


def targetable_zones(session: Session, *, user: User) -> Sequence[Zone]:
    """Communes and villages the user may schedule to, communes first."""
    allowed = commune_ids(session, user)
    if allowed is None:
        communes = session.exec(
            select(Zone).where(
                Zone.kind == "commune", col(Zone.id).in_(select(Zone.parent_id).where(Zone.kind == "village"))
            )
        ).all()
    else:
        communes = session.exec(select(Zone).where(col(Zone.id).in_(allowed))).all()
    result: list[Zone] = []
    for commune in sorted(communes, key=lambda z: z.name):
        result.append(commune)
        result.extend(
            session.exec(select(Zone).where(Zone.parent_id == commune.id).order_by(col(Zone.name))).all()
        )
    return result


VILLAGE_KINDS_VI = ("thôn", "xóm", "bản", "khối", "tổ dân phố")


def add_village(session: Session, *, user: User, commune_id: int, name: str, kind: str = "thôn") -> Zone:
    """A village (thôn, xóm, bản, khối, tổ dân phố) of a commune the user looks after."""
    commune = session.get(Zone, commune_id)
    if commune is None or commune.kind != "commune":
        raise InvalidInput(N_("Choose a commune/ward."), field="commune_id")
    _may_edit_villages(session, user, commune)
    village = _new_village(session, commune=commune, name=name, kind=kind)
    audit_log.record(session, actor=user, action="village.add", object_type="zone", object_id=village.code)
    session.commit()
    session.refresh(village)
    return village


def import_villages(session: Session, *, user: User, data: bytes) -> list[Zone]:
    """Villages from CSV (commune_code,name,kind), all or none with every line's problem listed."""
    communes = {z.code: z for z in session.exec(select(Zone).where(Zone.kind == "commune")).all()}
    parsed = parse_villages_csv(data, known_communes=communes.keys())
    if not parsed.ok:
        raise registry_text.invalid_file(
            N_("The list of villages cannot be imported: %(errors)s."), parsed.errors
        )
    if not parsed.rows:
        raise InvalidInput(N_("The file has no rows to import."), field="file")
    made = []
    for row in parsed.rows:
        commune = communes[row.commune_code]
        _may_edit_villages(session, user, commune)
        made.append(_new_village(session, commune=commune, name=row.name, kind=row.kind))
    audit_log.record(
        session, actor=user, action="village.import", object_type="zone", object_id="*", count=len(made)
    )
    session.commit()
    return made


def _may_edit_villages(session: Session, user: User, commune: Zone) -> None:
    if user.role not in ("admin", "technician", "editor"):
        raise Forbidden(N_("You may not add villages."))
    allowed = commune_ids(session, user)
    if allowed is not None and commune.id not in allowed:
        raise Forbidden(N_("You do not look after this commune."))


def _new_village(session: Session, *, commune: Zone, name: str, kind: str) -> Zone:
    name = " ".join(name.split())
    if not name:
        raise InvalidInput(N_("Type the village's name."), field="name")
    if kind not in VILLAGE_KINDS_VI:
        raise InvalidInput(N_("The kind must be thôn, xóm, bản, khối or tổ dân phố."), field="kind")
    bare = name[len(kind) :].strip() if name.lower().startswith(kind + " ") else name
    full = f"{kind.capitalize()} {bare}"
    siblings = session.exec(select(Zone).where(Zone.parent_id == commune.id)).all()
    if any(s.name.lower() == full.lower() for s in siblings):
        raise InvalidInput(
            N_("%(commune)s already has %(village)s."), field="name", commune=commune.name, village=full
        )
    number = len(siblings) + 1
    while session.exec(select(Zone).where(Zone.code == f"{commune.code}-v{number}")).first() is not None:
        number += 1
    village = Zone(code=f"{commune.code}-v{number}", name=full[:200], kind="village", parent_id=commune.id)
    session.add(village)
    session.flush()
    return village
