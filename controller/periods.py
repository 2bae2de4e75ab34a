"""Report periods in local days (LOA_TIMEZONE): a day, ISO week, month, quarter, year or any range (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from controller.i18n import N_, gettext

Unit = Literal["day", "week", "month", "quarter", "year"]
UNITS: tuple[Unit, ...] = ("day", "week", "month", "quarter", "year")
UNIT_NAMES = {
    "day": N_("Day"),
    "week": N_("Week"),
    "month": N_("Month"),
    "quarter": N_("Quarter"),
    "year": N_("Year"),
    "custom": N_("Range"),
}


def _dmy(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def bucket_start(day: date, unit: Unit) -> date:
    """The first day of the day, ISO week (Monday), month, quarter or year that holds ``day``."""
    if unit == "day":
        return day
    if unit == "week":
        return day - timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    if unit == "quarter":
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return date(day.year, 1, 1)


def _next(start: date, unit: Unit) -> date:
    if unit == "day":
        return start + timedelta(days=1)
    if unit == "week":
        return start + timedelta(days=7)
    months = {"month": 1, "quarter": 3, "year": 12}[unit]
    index = start.year * 12 + start.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class Period:
    """Local days ``start`` (included) to ``end`` (excluded)."""

    start: date
    end: date
    kind: Unit | Literal["custom"] = "custom"

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError("a period ends after it starts")

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def last(self) -> date:
        return self.end - timedelta(days=1)

    def label(self) -> str:
        """As the panel shows it, in the reader's language: "Tháng 03/2026", "Quý 1/2026", …"""
        if self.kind == "day":
            return gettext("Day %(day)s", day=_dmy(self.start))
        if self.kind == "week":
            year, week, _ = self.start.isocalendar()
            first, last = self.start.strftime("%d/%m"), _dmy(self.last)
            return gettext(
                "Week %(week)s/%(year)s (%(first)s–%(last)s)", week=week, year=year, first=first, last=last
            )
        if self.kind == "month":
            return gettext("Month %(month)s", month=self.start.strftime("%m/%Y"))
        if self.kind == "quarter":
            return gettext(
                "Quarter %(quarter)s/%(year)s", quarter=(self.start.month - 1) // 3 + 1, year=self.start.year
            )
        if self.kind == "year":
            return gettext("Year %(year)s", year=self.start.year)
        return f"{_dmy(self.start)} – {_dmy(self.last)}"

    def share_of(self, unit: Unit) -> float:
        """How much of the whole ``unit`` (week, month, …) that holds its start this period covers."""
        whole = bucket_start(self.start, unit)
        return self.days / (_next(whole, unit) - whole).days

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """The period as UTC instants."""
        return local_midnight(self.start, tz), local_midnight(self.end, tz)

    def months_inside(self) -> list[date]:
        """First days of the calendar months wholly inside the period."""
        found, month = [], bucket_start(self.start, "month")
        if month < self.start:
            month = _next(month, "month")
        while _next(month, "month") <= self.end:
            found.append(month)
            month = _next(month, "month")
        return found

    def edges(self) -> list[tuple[date, date]]:
        """Day ranges ``[start, end)`` of the period outside :meth:`months_inside` (at most two)."""
        months = self.months_inside()
        if not months:
            return [(self.start, self.end)]
        ranges = [(self.start, months[0]), (_next(months[-1], "month"), self.end)]
        return [(a, b) for a, b in ranges if a < b]

    def cover(self, units: tuple[Unit, ...] = ("month", "week")) -> list[tuple[Unit, date, date]]:
        """The period as ``(unit, first, end)`` runs of whole units, largest first, then days: each day
        in exactly one run. E.g. 20 Jan – 10 Apr: February and March as months, the whole ISO weeks
        left in January and April as weeks, the other days as days."""
        runs: list[tuple[Unit, date, date]] = []
        pending = [(self.start, self.end)]
        for unit in units:
            rest = []
            for a, b in pending:
                first = bucket_start(a, unit)
                if first < a:
                    first = _next(first, unit)
                last = first
                while _next(last, unit) <= b:
                    last = _next(last, unit)
                if last > first:
                    runs.append((unit, first, last))
                    rest += [(x, y) for x, y in ((a, first), (last, b)) if x < y]
                else:
                    rest.append((a, b))
            pending = rest
        runs += [("day", a, b) for a, b in sorted(pending)]
        return runs

    def buckets(self, unit: Unit) -> list[Period]:
        """The period cut into days, weeks, months, quarters or years (the first and last clipped)."""
        found, start = [], self.start
        while start < self.end:
            end = min(_next(bucket_start(start, unit), unit), self.end)
            whole = start == bucket_start(start, unit) and end == _next(start, unit)
            found.append(Period(start, end, unit if whole else "custom"))
            start = end
        return found


def period_of(kind: Unit, anchor: date) -> Period:
    """The day, week, month, quarter or year that holds ``anchor``."""
    start = bucket_start(anchor, kind)
    return Period(start, _next(start, kind), kind)


def custom(first: date, last: date) -> Period:
    """From ``first`` to ``last``, both included."""
    return Period(first, last + timedelta(days=1))


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tz).astimezone(UTC)


def split_by_day(start: datetime, end: datetime, tz: ZoneInfo) -> list[tuple[date, float]]:
    """Seconds of ``[start, end)`` falling on each local day."""
    found: list[tuple[date, float]] = []
    while start < end:
        day = start.astimezone(tz).date()
        cut = min(end, local_midnight(day + timedelta(days=1), tz))
        found.append((day, (cut - start).total_seconds()))
        start = cut
    return found
