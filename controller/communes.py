"""Communes and wards for the province administrator: the list with their villages and boxes, and
renaming. Codes never change here: they name MQTT topics, broker ACLs, village codes and public pages.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, col, select

from controller import audit_log
from controller.errors import Forbidden, InvalidInput, NotFound
from controller.i18n import N_
from controller.models import Device, User, Zone


@dataclass(frozen=True)
class CommuneRow:
    zone: Zone
    villages: int
    boxes: int


def _admin_only(user: User) -> None:
    if user.role != "admin":
        raise Forbidden(N_("Only the province administrator may edit communes."))


def list_communes(session: Session, *, user: User) -> list[CommuneRow]:
    """Every commune and ward, by name, with how many villages and (unrevoked) boxes it has."""
    _admin_only(user)
    communes = session.exec(select(Zone).where(Zone.kind == "commune").order_by(col(Zone.name))).all()
    villages = dict(
        session.exec(
            select(Zone.parent_id, func.count()).where(Zone.kind == "village").group_by(col(Zone.parent_id))
        ).all()
    )
    parent = {
        z: p for z, p in session.exec(select(Zone.id, Zone.parent_id).where(Zone.kind == "village")).all()
    }
    boxes: dict[int, int] = {}
    for zone_id, count in session.exec(
        select(Device.zone_id, func.count())
        .where(col(Device.revoked_at).is_(None))
        .group_by(col(Device.zone_id))
    ).all():
        commune = parent.get(zone_id, zone_id)
        if commune is not None:
            boxes[commune] = boxes.get(commune, 0) + count
    return [CommuneRow(c, villages.get(c.id, 0), boxes.get(c.id or 0, 0)) for c in communes]


def rename_commune(session: Session, *, user: User, zone_id: int, name: str) -> Zone:
    """Give a commune or ward a new name (after a reorganisation, or to correct a spelling)."""
    _admin_only(user)
    zone = session.get(Zone, zone_id)
    if zone is None or zone.kind != "commune":
        raise NotFound(N_("No such commune/ward."))
    name = " ".join(name.split())
    if not name:
        raise InvalidInput(N_("Type the commune's name."), field="name")
    if len(name) > 200:
        raise InvalidInput(N_("The name is at most 200 characters."), field="name")
    clash = session.exec(
        select(Zone).where(Zone.kind == "commune", Zone.id != zone_id, func.lower(Zone.name) == name.lower())
    ).first()
    if clash is not None:
        raise InvalidInput(N_("Another commune/ward is already called %(name)s."), field="name", name=name)
    old, zone.name = zone.name, name
    session.add(zone)
    audit_log.record(
        session,
        actor=user,
        action="commune.rename",
        object_type="zone",
        object_id=zone.code,
        old=old,
        new=name,
    )
    session.commit()
    session.refresh(zone)
    return zone
