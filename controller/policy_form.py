"""Reading the panel's zone-policy form into a ``ZonePolicy`` and back, with an error per field.

The form is text a commune official can type on a phone: quiet hours as ``21:00-05:30, 11:30-13:30``,
volume limits as ``22:00-05:00 = 40`` (one per line or separated by ``;``). The rules themselves
(caps not negative, volume 0 to 100) are ``ZonePolicy``'s, the same model the API validates with.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pydantic import ValidationError

from controller.errors import InvalidInput
from controller.i18n import N_
from playlists.policy import Window, ZonePolicy

FIELDS = ("quiet_hours", "max_sessions_per_day", "max_minutes_per_day", "volume_limits")
_WINDOW = r"(\d{1,2}:\d{2})\s*[-–—]\s*(\d{1,2}:\d{2})"
_WINDOW_RE = re.compile(rf"^{_WINDOW}$")
_LIMIT_RE = re.compile(rf"^{_WINDOW}\s*(?:=|\s)\s*(-?\d+)\s*%?$")
_MESSAGES = {
    "max_sessions_per_day": N_("The number of sessions a day is a whole number, 0 or more."),
    "max_minutes_per_day": N_("The number of minutes a day is a whole number, 0 or more."),
    "volume_limits": N_("A volume limit is 0 to 100 (percent)."),
    "quiet_hours": N_("A quiet window is written as 21:00-05:30."),
}


class PolicyInvalid(InvalidInput):
    """Some fields of the form are wrong: ``errors`` holds one error per field, to show beside it."""

    def __init__(self, errors: dict[str, InvalidInput]) -> None:
        super().__init__(
            N_("Some rules are not valid; see the fields marked below."), field=next(iter(errors))
        )
        self.errors = errors


def form_of(policy: ZonePolicy | None) -> dict[str, str]:
    """The form's text for a policy (empty fields for none)."""
    if policy is None:
        return dict.fromkeys(FIELDS, "")
    return {
        "quiet_hours": ", ".join(_label(w) for w in policy.quiet_hours),
        "max_sessions_per_day": _number(policy.max_sessions_per_day),
        "max_minutes_per_day": _number(policy.max_minutes_per_day),
        "volume_limits": "\n".join(f"{_label(v.window)} = {v.max_volume}" for v in policy.volume_limits),
    }


def policy_from_form(form: Mapping[str, str], *, timezone: str) -> ZonePolicy:
    """The policy the form describes; raises ``PolicyInvalid`` naming every wrong field."""
    errors: dict[str, InvalidInput] = {}
    data: dict[str, object] = {"timezone": timezone}
    for name, reader in (
        ("quiet_hours", _windows),
        ("max_sessions_per_day", _count),
        ("max_minutes_per_day", _count),
        ("volume_limits", _limits),
    ):
        try:
            data[name] = reader(form.get(name, ""), name)
        except InvalidInput as exc:
            errors[name] = exc
    try:  # the fields that read well go through the model too, so every wrong field is named at once
        policy = ZonePolicy.model_validate(data)
    except ValidationError as exc:
        for problem in exc.errors():
            name = str(problem["loc"][0]) if problem["loc"] else "quiet_hours"
            message = _MESSAGES.get(name, _MESSAGES["quiet_hours"])
            errors.setdefault(name, InvalidInput(message, field=name))
    else:
        if not errors:
            return policy
    raise PolicyInvalid(errors)


def _label(window: Window) -> str:
    return f"{window.start:%H:%M}-{window.end:%H:%M}"


def _number(value: int | None) -> str:
    return "" if value is None else str(value)


def _parts(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"[,;\n]", text) if p.strip()]


def _window(start: str, end: str, field: str, item: str) -> dict[str, str]:
    for value in (start, end):
        hours, minutes = value.split(":")
        if int(hours) > 23 or int(minutes) > 59:
            raise InvalidInput(N_("%(item)s: a time is 00:00 to 23:59."), field=field, item=item)
    if start.zfill(5) == end.zfill(5):
        raise InvalidInput(N_("%(item)s: the start and the end are the same."), field=field, item=item)
    return {"start": start.zfill(5), "end": end.zfill(5)}


def _windows(text: str, field: str) -> list[dict[str, str]]:
    windows = []
    for part in _parts(text):
        match = _WINDOW_RE.match(part)
        if match is None:
            raise InvalidInput(
                N_("%(item)s: write a quiet window as start-end, for example 21:00-05:30."),
                field=field,
                item=part,
            )
        windows.append(_window(match[1], match[2], field, part))
    return windows


def _count(text: str, field: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not re.fullmatch(r"-?\d{1,6}", text):
        raise InvalidInput(_MESSAGES[field], field=field)
    return int(text)  # a negative number is ZonePolicy's to refuse


def _limits(text: str, field: str) -> list[dict[str, object]]:
    limits: list[dict[str, object]] = []
    for part in [p.strip() for p in re.split(r"[;\n]", text) if p.strip()]:
        match = _LIMIT_RE.match(part)
        if match is None:
            raise InvalidInput(
                N_("%(item)s: write a volume limit as start-end = volume, for example 22:00-05:00 = 40."),
                field=field,
                item=part,
            )
        limits.append({"window": _window(match[1], match[2], field, part), "max_volume": int(match[3])})
    return limits
