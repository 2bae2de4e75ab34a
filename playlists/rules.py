"""Schedule rules: one-off and recurring, in a wall-clock zone, expanded to UTC instants (pure).

Recurrence is python-dateutil's rrule (RFC 5545); this module only maps Loa's rule shape onto it
and combines dates with the list of times of day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from dateutil.rrule import DAILY, MONTHLY, WEEKLY, rrule, weekday
from pydantic import BaseModel, ConfigDict, Field, model_validator

DEFAULT_TZ = "Asia/Ho_Chi_Minh"
WEEKDAY_NAMES_VI = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật")


class RuleError(ValueError):
    """A rule that cannot be expanded; the message says what to fix."""


class NthWeekday(BaseModel):
    """'The n-th <weekday> of the month': n in 1..4, or -1 for the last one."""

    model_config = ConfigDict(frozen=True)

    weekday: int = Field(ge=0, le=6, description="0 = Monday … 6 = Sunday")
    n: int = Field(description="1..4, or -1 for the last")

    @model_validator(mode="after")
    def _n_range(self) -> NthWeekday:
        if self.n not in (1, 2, 3, 4, -1):
            raise ValueError("n must be 1, 2, 3, 4 or -1 (last)")
        return self


class Rule(BaseModel):
    """When a schedule airs. ``once`` uses ``at``; the others repeat from ``start_date`` at ``times``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["once", "daily", "weekly", "monthly"]
    at: datetime | None = Field(default=None, description="once: the aware instant")
    start_date: date | None = Field(default=None, description="first day the rule may fire (wall date)")
    end_date: date | None = Field(default=None, description="last day the rule may fire, inclusive")
    times: tuple[time, ...] = Field(default=(), description="wall-clock times of day")
    interval: int = Field(default=1, ge=1, le=52, description="every N days / weeks / months")
    weekdays: tuple[int, ...] = Field(default=(), description="weekly: 0 = Monday … 6 = Sunday")
    month_day: int | None = Field(default=None, description="monthly: 1..31, or -1 for the last day")
    nth_weekday: NthWeekday | None = Field(default=None, description="monthly: e.g. last Tuesday")
    exceptions: tuple[date, ...] = Field(default=(), description="wall dates on which it does not fire")
    timezone: str = DEFAULT_TZ

    @model_validator(mode="after")
    def _consistent(self) -> Rule:
        if self.kind == "once":
            if self.at is None or self.at.tzinfo is None:
                raise ValueError("a one-off rule needs an aware instant 'at'")
            return self
        if self.start_date is None:
            raise ValueError("a recurring rule needs a start date")
        if not self.times:
            raise ValueError("a recurring rule needs at least one time of day")
        if self.end_date is not None and self.end_date < self.start_date:
            raise ValueError("the end date is before the start date")
        if self.kind == "weekly" and not self.weekdays:
            raise ValueError("a weekly rule needs at least one weekday")
        if any(not 0 <= d <= 6 for d in self.weekdays):
            raise ValueError("weekdays are 0 (Monday) to 6 (Sunday)")
        if self.kind == "monthly" and (self.month_day is None) == (self.nth_weekday is None):
            raise ValueError("a monthly rule needs either a day of the month or an n-th weekday")
        if self.month_day is not None and not (1 <= self.month_day <= 31 or self.month_day == -1):
            raise ValueError("the day of the month is 1..31, or -1 for the last day")
        return self


def occurrences(rule: Rule, start: datetime, end: datetime) -> list[datetime]:
    """Every instant the rule fires in [start, end), as aware UTC datetimes in order."""
    if start.tzinfo is None or end.tzinfo is None:
        raise RuleError("the window must be aware datetimes")
    if rule.kind == "once":
        assert rule.at is not None
        once = rule.at.astimezone(UTC)
        return [once] if start <= once < end else []
    tz = ZoneInfo(rule.timezone)
    assert rule.start_date is not None
    first_day = max(rule.start_date, start.astimezone(tz).date() - timedelta(days=1))
    last_day = end.astimezone(tz).date() + timedelta(days=1)
    if rule.end_date is not None:
        last_day = min(last_day, rule.end_date)
    if last_day < first_day:
        return []
    skip = set(rule.exceptions)
    result = []
    for day in _days(rule, first_day, last_day):
        if day in skip:
            continue
        for wall in rule.times:
            instant = datetime.combine(day, wall, tzinfo=tz).astimezone(UTC)
            if start <= instant < end:
                result.append(instant)
    result.sort()
    return result


def _days(rule: Rule, first: date, last: date) -> list[date]:
    """The wall dates the rule fires on between first and last (inclusive), anchored at start_date."""
    assert rule.start_date is not None
    anchor = datetime.combine(_aligned_start(rule, first), time())
    until = datetime.combine(last, time())
    if rule.kind == "daily":
        recurrence = rrule(DAILY, interval=rule.interval, dtstart=anchor, until=until)
    elif rule.kind == "weekly":
        # Weeks are counted from the week of start_date (weeks start on Monday), so "every 2 weeks"
        # keeps its rhythm whatever the window asked for.
        recurrence = rrule(
            WEEKLY,
            interval=rule.interval,
            byweekday=sorted(set(rule.weekdays)),
            wkst=0,
            dtstart=anchor,
            until=until,
        )
    elif rule.nth_weekday is not None:
        recurrence = rrule(
            MONTHLY,
            interval=rule.interval,
            byweekday=weekday(rule.nth_weekday.weekday, rule.nth_weekday.n),
            dtstart=anchor,
            until=until,
        )
    else:
        # Day 29–31 fires only in months that have it (RFC 5545); -1 is the last day of every month.
        recurrence = rrule(
            MONTHLY, interval=rule.interval, bymonthday=rule.month_day, dtstart=anchor, until=until
        )
    first_dt = datetime.combine(first, time())
    return [d.date() for d in recurrence.between(first_dt, until, inc=True)]


def _aligned_start(rule: Rule, first: date) -> date:
    """The latest date on or before ``first`` from which the rule repeats exactly as from its start date.

    Recurrence walks from its start; starting it near the window keeps old rules as cheap as new ones.
    """
    assert rule.start_date is not None
    start = rule.start_date
    if first <= start:
        return start
    if rule.kind == "daily":
        return start + timedelta(days=(first - start).days // rule.interval * rule.interval)
    if rule.kind == "weekly":
        weeks = (first - start).days // 7 // rule.interval * rule.interval
        return start + timedelta(weeks=weeks)
    months = ((first.year - start.year) * 12 + first.month - start.month) // rule.interval * rule.interval
    if months == 0:
        return start
    year, month = divmod(start.month - 1 + months, 12)
    return date(start.year + year, month + 1, 1)


def describe_vi(rule: Rule) -> str:
    """A short Vietnamese description of the rule for the panel."""
    times = ", ".join(t.strftime("%H:%M") for t in rule.times)
    if rule.kind == "once":
        assert rule.at is not None
        return "Một lần, " + rule.at.astimezone(ZoneInfo(rule.timezone)).strftime("%H:%M %d/%m/%Y")
    every = f"{rule.interval} " if rule.interval > 1 else ""
    if rule.kind == "daily":
        head = f"Mỗi {every}ngày" if every else "Hằng ngày"
    elif rule.kind == "weekly":
        days = ", ".join(WEEKDAY_NAMES_VI[d] for d in sorted(set(rule.weekdays)))
        head = f"Mỗi {every}tuần ({days})" if every else f"Hằng tuần ({days})"
    elif rule.nth_weekday is not None:
        nth = "cuối cùng" if rule.nth_weekday.n == -1 else f"thứ {rule.nth_weekday.n}"
        period = f"mỗi {every}tháng" if every else "hằng tháng"
        head = f"{WEEKDAY_NAMES_VI[rule.nth_weekday.weekday]} {nth} của {period}"
    else:
        day = "ngày cuối" if rule.month_day == -1 else f"ngày {rule.month_day}"
        head = f"{day.capitalize()} {'mỗi ' + every + 'tháng' if every else 'hằng tháng'}"
    assert rule.start_date is not None
    span = f"từ {rule.start_date:%d/%m/%Y}" + (f" đến {rule.end_date:%d/%m/%Y}" if rule.end_date else "")
    extra = f", trừ {len(rule.exceptions)} ngày" if rule.exceptions else ""
    return f"{head}, lúc {times}, {span}{extra}"
