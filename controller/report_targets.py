"""Targets a province sets for its communes — "at least 60 minutes of legal dissemination a week",
"at least 3 broadcasts a week" — and each commune measured against them.

A target on the province applies to every commune; one on a commune applies to it alone and replaces
a province target with the same measure, category and period. Minutes are content seconds aired
(partly aired items count for what aired); a broadcast counts for a commune when at least one of its
boxes there aired it, wholly or partly (the fold keeps that count in the commune rollups). The report
cuts the period into the target's weeks or months; a week or month the period only partly covers gets
the same share of the goal.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, select

from controller import audit_log
from controller.errors import Forbidden, InvalidInput, NotFound
from controller.i18n import N_
from controller.models import AirtimeRollup, AirtimeTarget, Device, User, Zone
from controller.periods import Period, Unit
from controller.reports import CATEGORY_NAMES, scope_of, sum_rollup

METRICS = {"minutes": N_("minutes aired"), "broadcasts": N_("broadcasts aired")}
PER: dict[str, Unit] = {"week": "week", "month": "month"}
PER_NAMES = {"week": N_("a week"), "month": N_("a month")}


def create_target(
    session: Session,
    *,
    user: User,
    zone_id: int,
    metric: str,
    amount: int,
    per: str = "week",
    category: str | None = None,
) -> AirtimeTarget:
    """A goal for every commune (``zone_id`` the province) or for one commune; admins only."""
    if user.role != "admin":
        raise Forbidden(N_("Only a provincial administrator can set targets."))
    zone = session.get(Zone, zone_id)
    if zone is None or zone.kind not in ("province", "commune"):
        raise InvalidInput(N_("Choose the province or a commune."), field="zone_id")
    if metric not in METRICS:
        raise InvalidInput(N_("Choose minutes or broadcasts."), field="metric")
    if per not in PER:
        raise InvalidInput(N_("Choose a week or a month."), field="per")
    if not 1 <= amount <= 100_000:
        raise InvalidInput(N_("The target must be a whole number from 1 to 100,000."), field="amount")
    if category is not None and category not in CATEGORY_NAMES:
        raise InvalidInput(N_("Invalid bulletin category."), field="category")
    target = AirtimeTarget(
        zone_id=zone_id, metric=metric, amount=amount, per=per, category=category, created_by=user.id
    )
    session.add(target)
    session.flush()
    audit_log.record(
        session,
        actor=user,
        action="target.create",
        object_type="target",
        object_id=target.id,
        zone=zone.code,
        metric=metric,
        amount=amount,
        per=per,
        category=category,
    )
    session.commit()
    session.refresh(target)
    return target


def remove_target(session: Session, *, user: User, target_id: int) -> AirtimeTarget:
    """Stop measuring against a target (it is kept, inactive, for the record); admins only."""
    if user.role != "admin":
        raise Forbidden(N_("Only a provincial administrator can set targets."))
    target = session.get(AirtimeTarget, target_id)
    if target is None or not target.is_active:
        raise NotFound(N_("Target not found."))
    target.is_active = False
    session.add(target)
    audit_log.record(session, actor=user, action="target.remove", object_type="target", object_id=target_id)
    session.commit()
    session.refresh(target)
    return target


def list_targets(session: Session, *, user: User) -> Sequence[AirtimeTarget]:
    """The active targets (everyone who sees reports sees them)."""
    scope_of(session, user)
    query = (
        select(AirtimeTarget).where(col(AirtimeTarget.is_active).is_(True)).order_by(col(AirtimeTarget.id))
    )
    return session.exec(query).all()


@dataclass(frozen=True)
class TargetBucket:
    period: Period
    achieved: float  # minutes or broadcasts
    goal: float

    @property
    def met(self) -> bool:
        return self.achieved + 1e-9 >= self.goal


@dataclass(frozen=True)
class TargetRow:
    """One commune against one target over the report's period."""

    commune_id: int
    commune: str
    target: AirtimeTarget
    buckets: list[TargetBucket]

    @property
    def achieved(self) -> float:
        return sum(b.achieved for b in self.buckets)

    @property
    def goal(self) -> float:
        return sum(b.goal for b in self.buckets)

    @property
    def met_count(self) -> int:
        return sum(b.met for b in self.buckets)

    @property
    def met(self) -> bool:
        """Every week (or month) of the period met the goal."""
        return self.met_count == len(self.buckets)


def target_report(session: Session, *, user: User, period: Period) -> list[TargetRow]:
    """Each commune the user sees (that has boxes) against each target that applies to it."""
    scope = scope_of(session, user)
    targets = list_targets(session, user=user)
    communes = _communes_with_boxes(session, scope)
    provinces = set(session.exec(select(Zone.id).where(Zone.kind == "province")).all())
    rows: list[TargetRow] = []
    measured: dict[tuple[str, str | None, str], dict[tuple[int, int], float]] = {}
    for commune_id, name in communes:
        own = {_what(t) for t in targets if t.zone_id == commune_id}
        for target in targets:
            if target.zone_id != commune_id and (target.zone_id not in provinces or _what(target) in own):
                continue
            what = _what(target)
            if what not in measured:
                measured[what] = _measure(session, scope, period, *what)
            unit = PER[target.per]
            buckets = [
                TargetBucket(b, measured[what].get((commune_id, i), 0.0), target.amount * b.share_of(unit))
                for i, b in enumerate(period.buckets(unit))
            ]
            rows.append(TargetRow(commune_id, name, target, buckets))
    return sorted(rows, key=lambda r: (r.commune, r.target.id or 0))


def _what(target: AirtimeTarget) -> tuple[str, str | None, str]:
    return target.metric, target.category, target.per


def _communes_with_boxes(session: Session, scope: set[int] | None) -> list[tuple[int, str]]:
    zones = {z.id: z for z in session.exec(select(Zone)).all()}
    found: set[int] = set()
    for zone_id in set(session.exec(select(Device.zone_id).where(col(Device.public_key).is_not(None))).all()):
        zone = zones.get(zone_id)
        while zone is not None and zone.kind not in ("commune", "province"):
            zone = zones.get(zone.parent_id)
        if zone is not None and zone.kind == "commune" and zone.id is not None:
            found.add(zone.id)
    if scope is not None:
        found &= scope
    return sorted(((c, zones[c].name) for c in found), key=lambda c: c[1])


def _measure(
    session: Session,
    scope: set[int] | None,
    period: Period,
    metric: str,
    category: str | None,
    per: str,
) -> dict[tuple[int, int], float]:
    """(commune, bucket index) → minutes or broadcasts aired, from the commune rows of whole weeks (or
    months) and the day rows of the rest."""
    unit = PER[per]
    starts = [b.start for b in period.buckets(unit)]
    where = [] if category is None else [col(AirtimeRollup.category) == category]
    found: dict[tuple[int, int], float] = defaultdict(float)
    rows = sum_rollup(
        session,
        scope=scope,
        period=period,
        columns=[AirtimeRollup.commune_id, AirtimeRollup.period],
        level="commune",
        where=where,
        units=(unit,),
    )
    for commune_id, start, *sums in rows:
        index = bisect_right(starts, start) - 1
        found[(commune_id, index)] += float(sums[5] or 0) / 60 if metric == "minutes" else float(sums[6] or 0)
    return found
