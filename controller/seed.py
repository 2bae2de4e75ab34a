"""Loading reference data: the province's communes and wards (idempotent)."""

from __future__ import annotations

from sqlmodel import Session, select

from controller.auth import hash_password
from controller.models import User, UserZone, Zone
from device_registry.zones import NGHE_AN_CODE, province_units


def load_province(session: Session, province_code: int = NGHE_AN_CODE) -> Zone:
    """Insert the province and its communes/wards that are not there yet; returns the province."""
    existing = {z.code: z for z in session.exec(select(Zone).where(Zone.kind != "village")).all()}
    for unit in province_units(province_code):
        if unit.code in existing:
            continue
        parent = existing.get(unit.parent_code) if unit.parent_code else None
        zone = Zone(code=unit.code, name=unit.name, kind=unit.kind, parent_id=parent.id if parent else None)
        session.add(zone)
        session.flush()
        existing[unit.code] = zone
    session.commit()
    return existing[f"p{province_code}"]


def add_village(session: Session, *, commune: Zone, code: str, name: str) -> Zone:
    village = session.exec(select(Zone).where(Zone.code == code)).first()
    if village is None:
        village = Zone(code=code, name=name, kind="village", parent_id=commune.id)
        session.add(village)
        session.commit()
        session.refresh(village)
    return village


def add_user(
    session: Session,
    *,
    username: str,
    full_name: str,
    password: str,
    role: str,
    commune_ids: list[int],
    password_hash: str | None = None,
) -> User:
    """Create a login unless it exists; ``password_hash`` (argon2 of ``password``) saves hashing again."""
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        hashed = password_hash or hash_password(password)
        user = User(username=username, full_name=full_name, password_hash=hashed, role=role)
        session.add(user)
        session.flush()
        for zone_id in commune_ids:
            session.add(UserZone(user_id=user.id or 0, zone_id=zone_id))
        session.commit()
        session.refresh(user)
    return user
