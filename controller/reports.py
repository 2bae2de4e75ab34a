"""Airtime reports: query functions over the as-run rollups (never the receipts), returning dataclasses.

Every function takes the user and sees only their communes (controller/zones.visible_zone_ids; the
auditor and the admin see the province), and a :class:`~controller.periods.Period` of local days.
Each reads the coarsest rollup rows that fit (see docs/audit.md): box rows for villages and boxes,
commune rows for communes (and for anyone limited to communes), the province's rows otherwise; month
rows for a period's whole months, week rows for whole weeks left, day rows for the rest. A year of a
3,000-box province is then at most some 180,000 rows, whatever the receipts behind it.

Airtime is content only (bulletins and relays; chimes and silences are not counted). Every item
that was due ends aired, partial, failed, skipped or missing; ``delivery_rate`` is aired / due.
Box uptime and the clock audit are in controller/report_boxes.py, broadcasts in
controller/reconciliation.py, targets in controller/report_targets.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from sqlalchemy import ColumnElement, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from controller.auth import require
from controller.bulletins import CATEGORIES
from controller.i18n import N_, gettext
from controller.models import AirtimeRollup, Device, ReasonRollup, User, Zone
from controller.periods import Period, Unit
from controller.reconcile import (
    BOX_GRAINS,
    COMMUNE_GRAINS,
    COUNTED,
    LANGUAGES,
    OTHER,
    PROVINCE_DAY,
    REASONS,
    RELAY,
    STATE_NAMES,
)
from controller.zones import visible_zone_ids

Group = Literal["commune", "village", "box", "category", "language"]
CATEGORY_NAMES = {**CATEGORIES, RELAY: N_("Radio relay"), OTHER: N_("Other")}
CATEGORY_ORDER = ("legal", "policy", "notice", "emergency", RELAY, OTHER)  # legal dissemination first


@dataclass(frozen=True)
class Tally:
    """Content items by outcome, and the seconds that went on air."""

    aired: int = 0
    partial: int = 0
    failed: int = 0
    skipped: int = 0
    missing: int = 0
    seconds: float = 0.0

    @property
    def due(self) -> int:
        return self.aired + self.partial + self.failed + self.skipped + self.missing

    @property
    def delivery_rate(self) -> float | None:
        """Share of the items due that fully aired (None when none were due)."""
        return self.aired / self.due if self.due else None

    @property
    def minutes(self) -> float:
        return self.seconds / 60

    def __add__(self, other: Tally) -> Tally:
        return Tally(
            self.aired + other.aired,
            self.partial + other.partial,
            self.failed + other.failed,
            self.skipped + other.skipped,
            self.missing + other.missing,
            self.seconds + other.seconds,
        )


@dataclass(frozen=True)
class AirtimeRow:
    """One commune, village, box, category or language: its key (zone id, box id or code) and name."""

    key: int | str
    name: str
    tally: Tally
    commune: str | None = None  # the commune of a village or a box


@dataclass(frozen=True)
class SeriesPoint:
    period: Period
    tally: Tally


@dataclass(frozen=True)
class ReasonRow:
    """Why items did not fully air: a reason code, its label, how often, by outcome."""

    code: str
    name: str
    count: int
    by_state: dict[str, int]


def scope_of(session: Session, user: User) -> set[int] | None:
    """The zone ids the user may report on (None: the province); needs the as-run permission."""
    require(user, "asrun.view")
    return visible_zone_ids(session, user=user)


Level = Literal["box", "commune", "province"]
GRAINS: dict[Level, dict[str, str]] = {
    "box": BOX_GRAINS,
    "commune": COMMUNE_GRAINS,
    "province": {"day": PROVINCE_DAY},
}
SUMS = (*COUNTED, "seconds", "broadcasts")


def level_for(by: str, scope: set[int] | None, commune_id: int | None) -> Level:
    """The rollup a grouping reads: boxes for villages and boxes, communes for communes and whenever the
    user or the filter limits communes, else the province's own rows."""
    if by in ("village", "box"):
        return "box"
    if by == "commune" or scope is not None or commune_id is not None:
        return "commune"
    return "province"


def sum_rollup(
    session: Session,
    *,
    scope: set[int] | None,
    period: Period,
    columns: Sequence[Any],
    level: Level,
    where: Sequence[ColumnElement[bool]] = (),
    units: tuple[Unit, ...] = ("month", "week"),
) -> list[Any]:
    """``columns`` + aired, partial, failed, skipped, missing, seconds, broadcasts of the airtime rollup
    over ``period``, summed: month rows for its whole months, week rows for whole weeks left, day rows
    for the rest (``units`` may leave out months or weeks)."""
    t = AirtimeRollup
    grains = GRAINS[level]
    filters = list(where)
    if scope is not None:
        filters.append(col(t.commune_id).in_(scope))
    found: list[Any] = []
    for unit, first, end in period.cover(tuple(u for u in units if u in grains)):
        query = (
            sa_select(*columns, *(func.sum(getattr(t, c)) for c in SUMS))
            .where(col(t.grain) == grains[unit], col(t.period) >= first, col(t.period) < end, *filters)
            .group_by(*columns)
        )
        found += session.connection().execute(query).all()
    return found


def tally_of(sums: Sequence[Any]) -> Tally:
    """A Tally from the sums ``sum_rollup`` returns after its columns."""
    aired, partial, failed, skipped, missing = (int(x or 0) for x in sums[:5])
    return Tally(aired, partial, failed, skipped, missing, float(sums[5] or 0))


def _filters(
    category: str | None, commune_id: int | None, language: str | None = None
) -> list[ColumnElement[bool]]:
    found = []
    if category is not None:
        found.append(col(AirtimeRollup.category) == category)
    if language is not None:
        found.append(col(AirtimeRollup.language) == language)
    if commune_id is not None:
        found.append(col(AirtimeRollup.commune_id) == commune_id)
    return found


def airtime(
    session: Session,
    *,
    user: User,
    period: Period,
    by: Group,
    category: str | None = None,
    commune_id: int | None = None,
    language: str | None = None,
) -> list[AirtimeRow]:
    """Airtime and outcomes of the period by commune, village, box, category or language, optionally
    for one category, one language and one commune. Zones and boxes by name; categories legal
    dissemination first."""
    scope = scope_of(session, user)
    t = AirtimeRollup
    columns: dict[Group, list[Any]] = {
        "commune": [t.commune_id],
        "village": [t.zone_id, t.commune_id],
        "box": [t.device_id, t.commune_id],
        "category": [t.category],
        "language": [t.language],
    }
    rows = sum_rollup(
        session,
        scope=scope,
        period=period,
        columns=columns[by],
        level=level_for(by, scope, commune_id),
        where=_filters(category, commune_id, language),
    )
    tallies: dict[tuple[Any, ...], Tally] = {}
    width = len(columns[by])
    for row in rows:
        key = tuple(row[:width])
        tallies[key] = tallies.get(key, Tally()) + tally_of(row[width:])
    zones = zone_names(session, {k[-1] for k in tallies} | {k[0] for k in tallies if by == "village"})
    if by == "category":
        order = {c: i for i, c in enumerate(CATEGORY_ORDER)}
        keys = sorted(tallies, key=lambda k: (order.get(k[0], len(order)), k[0]))
        return [AirtimeRow(k[0], gettext(CATEGORY_NAMES.get(k[0], k[0])), tallies[k]) for k in keys]
    if by == "language":
        order = {code: i for i, code in enumerate(LANGUAGES)}
        keys = sorted(tallies, key=lambda k: (order.get(k[0], len(order)), k[0]))
        return [AirtimeRow(k[0], gettext(LANGUAGES.get(k[0], k[0])), tallies[k]) for k in keys]
    if by == "commune":
        found = [AirtimeRow(k[0], zones.get(k[0], "—"), v) for k, v in tallies.items()]
    elif by == "village":
        found = [AirtimeRow(k[0], zones.get(k[0], "—"), v, zones.get(k[1])) for k, v in tallies.items()]
    else:
        boxes = device_names(session, {k[0] for k in tallies})
        found = [AirtimeRow(k[0], boxes.get(k[0], k[0]), v, zones.get(k[1])) for k, v in tallies.items()]
    return sorted(found, key=lambda r: (r.commune or "", r.name))


def totals(
    session: Session,
    *,
    user: User,
    period: Period,
    category: str | None = None,
    commune_id: int | None = None,
    language: str | None = None,
) -> Tally:
    """Everything the user sees in the period, summed."""
    scope = scope_of(session, user)
    rows = sum_rollup(
        session,
        scope=scope,
        period=period,
        columns=[],
        level=level_for("total", scope, commune_id),
        where=_filters(category, commune_id, language),
    )
    return sum((tally_of(row) for row in rows), Tally())


def airtime_series(
    session: Session,
    *,
    user: User,
    period: Period,
    unit: Unit,
    category: str | None = None,
    commune_id: int | None = None,
    language: str | None = None,
) -> list[SeriesPoint]:
    """The period cut into days, weeks, months, quarters or years, each with its airtime (for charts)."""
    scope = scope_of(session, user)
    level = level_for("series", scope, commune_id)
    # Month rows fall wholly in a month, quarter or year; day and week charts read days.
    units: tuple[Unit, ...] = (
        ("month",) if unit in ("month", "quarter", "year") and level != "province" else ()
    )
    rows = sum_rollup(
        session,
        scope=scope,
        period=period,
        columns=[AirtimeRollup.period],
        level=level,
        where=_filters(category, commune_id, language),
        units=units,
    )
    buckets = period.buckets(unit)
    tallies = [Tally() for _ in buckets]
    starts = [b.start for b in buckets]
    for row in rows:
        index = _bucket_index(starts, row[0])
        tallies[index] = tallies[index] + tally_of(row[1:])
    return [SeriesPoint(b, t) for b, t in zip(buckets, tallies, strict=True)]


def _bucket_index(starts: list[date], day: date) -> int:
    low, high = 0, len(starts) - 1
    while low < high:
        mid = (low + high + 1) // 2
        if starts[mid] <= day:
            low = mid
        else:
            high = mid - 1
    return low


def top_failure_reasons(
    session: Session, *, user: User, period: Period, limit: int = 10, commune_id: int | None = None
) -> list[ReasonRow]:
    """Why items did not fully air, most frequent first (missing: no report received)."""
    scope = scope_of(session, user)
    r = ReasonRollup
    by_reason: dict[str, dict[str, int]] = {}
    for unit, first, end in period.cover(("month",)):
        query = (
            sa_select(col(r.reason), col(r.state), func.sum(r.count))
            .where(col(r.grain) == COMMUNE_GRAINS[unit], col(r.period) >= first, col(r.period) < end)
            .group_by(col(r.reason), col(r.state))
        )
        if scope is not None:
            query = query.where(col(r.commune_id).in_(scope))
        if commune_id is not None:
            query = query.where(col(r.commune_id) == commune_id)
        for reason, state, count in session.connection().execute(query):
            states = by_reason.setdefault(reason, {})
            states[state] = states.get(state, 0) + int(count)
    found = [
        ReasonRow(code, gettext(REASONS[code]) if code in REASONS else code or "—", sum(s.values()), s)
        for code, s in by_reason.items()
    ]
    return sorted(found, key=lambda r: (-r.count, r.code))[:limit]


def state_names() -> dict[str, str]:
    """The outcomes, in the reader's language."""
    return {code: gettext(name) for code, name in STATE_NAMES.items()}


def zone_names(session: Session, ids: set[Any]) -> dict[int, str]:
    wanted = [i for i in ids if isinstance(i, int) and i]
    if not wanted:
        return {}
    rows = session.exec(select(Zone.id, Zone.name).where(col(Zone.id).in_(wanted))).all()
    return {zone_id or 0: name for zone_id, name in rows}


def device_names(session: Session, ids: set[Any]) -> dict[str, str]:
    if not ids:
        return {}
    return dict(session.exec(select(Device.id, Device.name).where(col(Device.id).in_(ids))).all())
