"""Reading the panel's schedule form into a Rule, with Vietnamese errors naming the field."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from controller.errors import InvalidInput
from controller.models import utcnow
from playlists.rules import NthWeekday, Rule


def parse_day(text: str, *, field: str) -> date:
    try:
        return datetime.strptime(text.strip(), "%d/%m/%Y").date()
    except ValueError:
        raise InvalidInput(
            "Ngày không hợp lệ, hãy nhập theo dạng dd/mm/yyyy (ví dụ 30/11/2026).", field=field
        ) from None


def parse_time(text: str, *, field: str) -> time:
    try:
        return datetime.strptime(text.strip(), "%H:%M").time()
    except ValueError:
        raise InvalidInput(
            "Giờ không hợp lệ, hãy nhập theo dạng 24 giờ HH:MM (ví dụ 06:30).", field=field
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
            raise InvalidInput("Chọn thời gian phát.", field="when")
        times = tuple(sorted({parse_time(t, field="times") for t in _split(get("times"))}))
        if not times:
            raise InvalidInput("Nhập ít nhất một giờ phát, ví dụ 06:00, 17:30.", field="times")
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
        raise InvalidInput("Số trong quy tắc lặp không hợp lệ.", field="rule") from None


_MESSAGES_VI = {
    "weekly rule needs at least one weekday": "Chọn ít nhất một ngày trong tuần.",
    "end date is before the start date": "Ngày kết thúc phải sau ngày bắt đầu.",
    "monthly rule needs either": "Chọn ngày trong tháng hoặc thứ trong tháng.",
    "day of the month": "Ngày trong tháng từ 1 đến 31, hoặc -1 là ngày cuối tháng.",
    "n must be": "Thứ tự trong tháng là 1, 2, 3, 4 hoặc cuối cùng.",
}


def _rule_message(exc: ValidationError) -> str:
    text = str(exc)
    for key, message in _MESSAGES_VI.items():
        if key in text:
            return message
    if "interval" in text:
        return "Khoảng lặp từ 1 đến 52."
    return "Quy tắc lặp không hợp lệ, vui lòng kiểm tra lại."
