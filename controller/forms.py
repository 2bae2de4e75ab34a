"""Reading the panel's schedule form into a Rule, with errors (in the reader's language) naming the field."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from controller.errors import InvalidInput
from controller.i18n import N_
from controller.models import utcnow
from playlists.rules import NthWeekday, Rule


def parse_day(text: str, *, field: str) -> date:
    try:
        return datetime.strptime(text.strip(), "%d/%m/%Y").date()
    except ValueError:
        raise InvalidInput(
            N_("Invalid date: type it as dd/mm/yyyy (for example 30/11/2026)."), field=field
        ) from None


def parse_time(text: str, *, field: str) -> time:
    try:
        return datetime.strptime(text.strip(), "%H:%M").time()
    except ValueError:
        raise InvalidInput(
            N_("Invalid time: type it as 24-hour HH:MM (for example 06:30)."), field=field
        ) from None


def _split(text: str) -> list[str]:
    return [part for part in text.replace(";", ",").replace("\n", ",").split(",") if part.strip()]


def rule_from_form(form: Mapping[str, str | list[str]], *, tz: ZoneInfo) -> Rule:
    """'soon' = one minute from now; 'at' = once at a wall date and time; 'repeat' = a recurring rule."""

    def get(name: str) -> str:
        value = form.get(name, "")
        return value[0] if isinstance(value, list) else value

    when = get("when") or "soon"
    try:
        if when == "soon":
            return Rule(kind="once", at=utcnow() + timedelta(minutes=1), timezone=tz.key)
        if when == "at":
            day = parse_day(get("date"), field="date")
            at = parse_time(get("time"), field="time")
            return Rule(kind="once", at=datetime.combine(day, at, tzinfo=tz), timezone=tz.key)
        if when != "repeat":
            raise InvalidInput(N_("Choose when to broadcast."), field="when")
        times = tuple(sorted({parse_time(t, field="times") for t in _split(get("times"))}))
        if not times:
            raise InvalidInput(N_("Type at least one time of day, for example 06:00, 17:30."), field="times")
        start = (
            parse_day(get("start_date"), field="start_date")
            if get("start_date").strip()
            else utcnow().astimezone(tz).date()
        )
        end = parse_day(get("end_date"), field="end_date") if get("end_date").strip() else None
        exceptions = tuple(sorted({parse_day(d, field="exceptions") for d in _split(get("exceptions"))}))
        freq = get("freq") or "daily"
        interval = int(get("interval") or "1")
        weekdays_raw = form.get("weekdays", [])
        weekdays = tuple(
            sorted(
                {int(d) for d in (weekdays_raw if isinstance(weekdays_raw, list) else [weekdays_raw]) if d}
            )
        )
        month_day = nth = None
        if freq == "monthly":
            if get("monthly_mode") == "nth":
                nth = NthWeekday(weekday=int(get("nth_weekday") or "0"), n=int(get("nth_n") or "1"))
            else:
                month_day = int(get("month_day") or "1")
        return Rule(
            kind=freq,  # type: ignore[arg-type]
            start_date=start,
            end_date=end,
            times=times,
            interval=interval,
            weekdays=weekdays if freq == "weekly" else (),
            month_day=month_day,
            nth_weekday=nth,
            exceptions=exceptions,
            timezone=tz.key,
        )
    except ValidationError as exc:
        raise InvalidInput(_rule_message(exc), field="rule") from None
    except ValueError:
        raise InvalidInput(N_("A number in the repeat rule is not valid."), field="rule") from None


_MESSAGES = {
    "weekly rule needs at least one weekday": N_("Choose at least one day of the week."),
    "end date is before the start date": N_("The end date must be after the start date."),
    "monthly rule needs either": N_("Choose a day of the month or a weekday of the month."),
    "day of the month": N_("The day of the month is 1 to 31, or -1 for the last day of the month."),
    "n must be": N_("The weekday of the month is the 1st, 2nd, 3rd, 4th or last."),
}


def _rule_message(exc: ValidationError) -> str:
    text = str(exc)
    for key, message in _MESSAGES.items():
        if key in text:
            return message
    if "interval" in text:
        return N_("The repeat interval is 1 to 52.")
    return N_("The repeat rule is not valid; please check it.")
