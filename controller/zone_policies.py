"""Which zones' broadcast rules a user may set, and which rules apply where (for the policies page).

Setting a policy is ``library.set_policy`` (the API's function): admins anywhere, approvers in their
own communes; this module only reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, select

from controller.auth import commune_ids
from controller.errors import Forbidden
from controller.i18n import N_
from controller.models import User, Zone
from playlists.policy import ZonePolicy

MANAGERS = frozenset({"admin", "approver"})  # the roles library.set_policy lets through


@dataclass(frozen=True)
class ZoneRules:
    """A zone, the policy it sets itself, and the one its boxes keep (its own or the nearest above)."""

    zone: Zone
    own: ZonePolicy | None
    effective: ZonePolicy | None
    from_zone: Zone | None  # where ``effective`` is set (None: nowhere, no rules)


def check_manager(user: User) -> None:
    if user.role not in MANAGERS:
        raise Forbidden(N_("You may not set broadcast rules for this area."))


def policy_zones(session: Session, *, user: User) -> list[Zone]:
    """The zones the user may set rules for: the province (admins), then each commune and its villages."""
    check_manager(user)
    allowed = commune_ids(session, user)
    result: list[Zone] = []
    if allowed is None:
        result.extend(session.exec(select(Zone).where(Zone.kind == "province").order_by(col(Zone.id))).all())
        communes: Sequence[Zone] = session.exec(select(Zone).where(Zone.kind == "commune")).all()
    else:
        communes = session.exec(select(Zone).where(col(Zone.id).in_(allowed))).all()
    villages: dict[int | None, list[Zone]] = {}
    commune_keys = [c.id for c in communes]
    for village in session.exec(
        select(Zone)
        .where(col(Zone.parent_id).in_(commune_keys), Zone.kind == "village")
        .order_by(col(Zone.name))
    ).all():
        villages.setdefault(village.parent_id, []).append(village)
    for commune in sorted(communes, key=lambda z: z.name):
        result.append(commune)
        result.extend(villages.get(commune.id, []))
    return result


def rules_of(session: Session, zone: Zone) -> ZoneRules:
    """The zone's own policy and the one that applies to its boxes."""
    own = _policy(zone)
    current: Zone | None = zone
    while current is not None:
        found = _policy(current)
        if found is not None:
            return ZoneRules(zone, own, found, current)
        current = session.get(Zone, current.parent_id) if current.parent_id else None
    return ZoneRules(zone, own, None, None)


def with_own_policy(zones: Sequence[Zone]) -> list[ZoneRules]:
    """The zones of ``zones`` that set rules themselves."""
    return [ZoneRules(z, p, p, z) for z in zones if (p := _policy(z)) is not None]


def _policy(zone: Zone) -> ZonePolicy | None:
    return ZonePolicy.model_validate_json(zone.policy_json) if zone.policy_json else None
