"""Schedule rules against hand-checked calendars (Hà Nội wall time, UTC instants)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from playlists.rules import NthWeekday, Rule, describe_vi, occurrences

VN = timedelta(hours=7)


def local_days(rule: Rule, start: date, end: date) -> list[str]:
    """The rule's firings between two wall dates, as 'dd/mm HH:MM' in Hà Nội time."""
    found = occurrences(
        rule, datetime.combine(start, time(), tzinfo=UTC) - VN, datetime.combine(end, time(), tzinfo=UTC) - VN
    )
    return [(at + VN).strftime("%d/%m %H:%M") for at in found]


def test_once_fires_only_inside_the_window() -> None:
    at = datetime(2026, 12, 1, 6, 30, tzinfo=UTC)
    rule = Rule(kind="once", at=at)
    assert occurrences(rule, at - timedelta(hours=1), at + timedelta(hours=1)) == [at]
    assert occurrences(rule, at + timedelta(seconds=1), at + timedelta(hours=1)) == []


@pytest.mark.parametrize(
    ("rule", "start", "end", "expected"),
    [
        # daily at two times, converted from Hà Nội time
        (
            Rule(kind="daily", start_date=date(2026, 12, 1), times=(time(6), time(17, 30))),
            date(2026, 12, 1),
            date(2026, 12, 3),
            ["01/12 06:00", "01/12 17:30", "02/12 06:00", "02/12 17:30"],
        ),
        # every 3 days from the start date
        (
            Rule(kind="daily", start_date=date(2026, 12, 1), times=(time(6),), interval=3),
            date(2026, 12, 1),
            date(2026, 12, 11),
            ["01/12 06:00", "04/12 06:00", "07/12 06:00", "10/12 06:00"],
        ),
        # Mondays and Thursdays; 01/12/2026 is a Tuesday
        (
            Rule(kind="weekly", start_date=date(2026, 12, 1), times=(time(6),), weekdays=(0, 3)),
            date(2026, 12, 1),
            date(2026, 12, 9),
            ["03/12 06:00", "07/12 06:00"],
        ),
        # every 2 weeks, anchored at the week of the start date, whatever the window
        (
            Rule(kind="weekly", start_date=date(2026, 11, 30), times=(time(6),), weekdays=(0,), interval=2),
            date(2026, 12, 10),
            date(2027, 1, 12),
            ["14/12 06:00", "28/12 06:00", "11/01 06:00"],
        ),
        # exceptions are skipped
        (
            Rule(
                kind="daily",
                start_date=date(2026, 12, 30),
                times=(time(6),),
                exceptions=(date(2027, 1, 1), date(2027, 1, 2)),
            ),
            date(2026, 12, 30),
            date(2027, 1, 4),
            ["30/12 06:00", "31/12 06:00", "03/01 06:00"],
        ),
        # an end date is inclusive
        (
            Rule(kind="daily", start_date=date(2026, 12, 1), end_date=date(2026, 12, 2), times=(time(20),)),
            date(2026, 11, 1),
            date(2027, 1, 1),
            ["01/12 20:00", "02/12 20:00"],
        ),
        # day 31 fires only in months that have it
        (
            Rule(kind="monthly", start_date=date(2027, 1, 1), times=(time(7),), month_day=31),
            date(2027, 1, 1),
            date(2027, 6, 1),
            ["31/01 07:00", "31/03 07:00", "31/05 07:00"],
        ),
        # -1 is the last day of every month, leap year included
        (
            Rule(kind="monthly", start_date=date(2028, 1, 1), times=(time(7),), month_day=-1),
            date(2028, 1, 1),
            date(2028, 4, 1),
            ["31/01 07:00", "29/02 07:00", "31/03 07:00"],
        ),
        (
            Rule(kind="monthly", start_date=date(2027, 1, 1), times=(time(7),), month_day=-1),
            date(2027, 2, 1),
            date(2027, 3, 1),
            ["28/02 07:00"],
        ),
        # the last Tuesday of the month
        (
            Rule(
                kind="monthly",
                start_date=date(2026, 12, 1),
                times=(time(6, 30),),
                nth_weekday=NthWeekday(weekday=1, n=-1),
            ),
            date(2026, 12, 1),
            date(2027, 4, 1),
            ["29/12 06:30", "26/01 06:30", "23/02 06:30", "30/03 06:30"],
        ),
        # the first Monday, every 2 months
        (
            Rule(
                kind="monthly",
                start_date=date(2027, 1, 1),
                times=(time(6),),
                interval=2,
                nth_weekday=NthWeekday(weekday=0, n=1),
            ),
            date(2027, 1, 1),
            date(2027, 7, 1),
            ["04/01 06:00", "01/03 06:00", "03/05 06:00"],
        ),
        # a late-evening time is still the right wall day (UTC is the previous day for early mornings)
        (
            Rule(kind="weekly", start_date=date(2026, 12, 1), times=(time(5, 0),), weekdays=(6,)),
            date(2026, 12, 1),
            date(2026, 12, 14),
            ["06/12 05:00", "13/12 05:00"],
        ),
        # nothing before the start date
        (
            Rule(kind="daily", start_date=date(2026, 12, 10), times=(time(6),)),
            date(2026, 12, 1),
            date(2026, 12, 12),
            ["10/12 06:00", "11/12 06:00"],
        ),
    ],
)
def test_rule_calendar(rule: Rule, start: date, end: date, expected: list[str]) -> None:
    assert local_days(rule, start, end) == expected


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "once"},
        {"kind": "once", "at": datetime(2026, 1, 1)},  # naive
        {"kind": "daily", "times": [time(6)]},  # no start date
        {"kind": "daily", "start_date": date(2026, 1, 1)},  # no times
        {"kind": "weekly", "start_date": date(2026, 1, 1), "times": [time(6)]},  # no weekday
        {"kind": "monthly", "start_date": date(2026, 1, 1), "times": [time(6)]},  # neither day nor nth
        {"kind": "monthly", "start_date": date(2026, 1, 1), "times": [time(6)], "month_day": 32},
        {"kind": "daily", "start_date": date(2026, 2, 1), "end_date": date(2026, 1, 1), "times": [time(6)]},
        {"kind": "daily", "start_date": date(2026, 1, 1), "times": [time(6)], "interval": 0},
    ],
)
def test_inconsistent_rules_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Rule.model_validate(fields)


def test_descriptions_are_vietnamese() -> None:
    rule = Rule(
        kind="monthly",
        start_date=date(2026, 12, 1),
        times=(time(6, 30),),
        nth_weekday=NthWeekday(weekday=1, n=-1),
        exceptions=(date(2027, 1, 26),),
    )
    assert describe_vi(rule) == "Thứ Ba cuối cùng của hằng tháng, lúc 06:30, từ 01/12/2026, trừ 1 ngày"
    weekly = Rule(kind="weekly", start_date=date(2026, 12, 1), times=(time(6),), weekdays=(0, 3), interval=2)
    assert describe_vi(weekly).startswith("Mỗi 2 tuần (Thứ Hai, Thứ Năm), lúc 06:00")


@settings(max_examples=120, deadline=None)
@given(
    kind=st.sampled_from(["daily", "weekly", "monthly"]),
    interval=st.integers(1, 5),
    start=st.dates(min_value=date(2020, 1, 1), max_value=date(2026, 12, 31)),
    weekdays=st.lists(st.integers(0, 6), min_size=1, max_size=3, unique=True),
    month_day=st.sampled_from([1, 15, 29, 31, -1]),
    offset_days=st.integers(0, 2000),
)
def test_a_window_far_from_the_start_sees_what_walking_from_the_start_sees(
    kind: str, interval: int, start: date, weekdays: list[int], month_day: int, offset_days: int
) -> None:
    rule = Rule.model_validate(
        {
            "kind": kind,
            "start_date": start,
            "times": [time(6), time(17, 30)],
            "interval": interval,
            "weekdays": weekdays if kind == "weekly" else [],
            "month_day": month_day if kind == "monthly" else None,
        }
    )
    window_start = datetime.combine(start + timedelta(days=offset_days), time(), tzinfo=UTC)
    window_end = window_start + timedelta(days=70)
    from_start = occurrences(rule, datetime.combine(start, time(), tzinfo=UTC) - VN, window_end)
    assert occurrences(rule, window_start, window_end) == [at for at in from_start if at >= window_start]
