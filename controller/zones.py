"""Zone tree queries: which boxes a target reaches, which villages a user may target."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from controller.auth import commune_ids
from controller.models import User, Zone


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
