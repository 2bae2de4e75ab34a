"""Schedule rules in plain words, in the reader's language ("Hằng tuần (Thứ Hai, Thứ Tư), lúc 06:00…").

The Vietnamese wording is the one of ``playlists.rules.describe_vi`` (a test holds them equal); here
every piece goes through the catalogue so that an English reader gets English.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from controller.i18n import N_, gettext, ngettext
from playlists.rules import Rule

#: Monday first, as ``Rule.weekdays`` counts them.
WEEKDAY_NAMES = (
    N_("Monday"),
    N_("Tuesday"),
    N_("Wednesday"),
    N_("Thursday"),
    N_("Friday"),
    N_("Saturday"),
    N_("Sunday"),
)
_NTH = {1: N_("1st"), 2: N_("2nd"), 3: N_("3rd"), 4: N_("4th"), -1: N_("last")}


def weekday_name(day: int) -> str:
    """The name of a weekday (0 = Monday) in the current language."""
    return gettext(WEEKDAY_NAMES[day])


def _head(rule: Rule) -> str:
    n = rule.interval
    if rule.kind == "daily":
        return gettext("Every %(n)s days", n=n) if n > 1 else gettext("Daily")
    if rule.kind == "weekly":
        days = ", ".join(weekday_name(d) for d in sorted(set(rule.weekdays)))
        if n > 1:
            return gettext("Every %(n)s weeks (%(days)s)", n=n, days=days)
        return gettext("Weekly (%(days)s)", days=days)
    if rule.nth_weekday is not None:
        nth = gettext(_NTH.get(rule.nth_weekday.n, str(rule.nth_weekday.n)))
        weekday = weekday_name(rule.nth_weekday.weekday)
        if n > 1:
            return gettext("The %(nth)s %(weekday)s of every %(n)s months", nth=nth, weekday=weekday, n=n)
        return gettext("The %(nth)s %(weekday)s of every month", nth=nth, weekday=weekday)
    if rule.month_day == -1:
        if n > 1:
            return gettext("Last day of every %(n)s months", n=n)
        return gettext("Last day of every month")
    if n > 1:
        return gettext("Day %(day)s of every %(n)s months", day=rule.month_day, n=n)
    return gettext("Day %(day)s of every month", day=rule.month_day)


def describe_rule(rule: Rule) -> str:
    """A short description of the rule for the panel, in the current language."""
    if rule.kind == "once":
        assert rule.at is not None
        at = rule.at.astimezone(ZoneInfo(rule.timezone)).strftime("%H:%M %d/%m/%Y")
        return gettext("Once, %(at)s", at=at)
    assert rule.start_date is not None
    words = {
        "rule": _head(rule),
        "times": ", ".join(t.strftime("%H:%M") for t in rule.times),
        "start": f"{rule.start_date:%d/%m/%Y}",
        "end": f"{rule.end_date:%d/%m/%Y}" if rule.end_date else "",
    }
    skipped = len(rule.exceptions)
    if rule.end_date and skipped:
        return ngettext(
            "%(rule)s, at %(times)s, from %(start)s to %(end)s, except %(num)s day",
            "%(rule)s, at %(times)s, from %(start)s to %(end)s, except %(num)s days",
            skipped,
            **words,
        )
    if skipped:
        return ngettext(
            "%(rule)s, at %(times)s, from %(start)s, except %(num)s day",
            "%(rule)s, at %(times)s, from %(start)s, except %(num)s days",
            skipped,
            **words,
        )
    if rule.end_date:
        return gettext("%(rule)s, at %(times)s, from %(start)s to %(end)s", **words)
    return gettext("%(rule)s, at %(times)s, from %(start)s", **words)
