"""Zone policies: quiet hours, daily caps of sessions and minutes, maximum volume by time of day (pure)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from playlists.rules import DEFAULT_TZ
from playlists.texts import Text


class Window(BaseModel):
    """A daily wall-clock window; ``end`` before ``start`` wraps past midnight (21:00–05:30)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: time
    end: time

    def covers(self, at: time) -> bool:
        if self.start <= self.end:
            return self.start <= at < self.end
        return at >= self.start or at < self.end

    def label(self) -> str:
        return f"{self.start:%H:%M}–{self.end:%H:%M}"


class VolumeLimit(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    window: Window
    max_volume: int = Field(ge=0, le=100)


class ZonePolicy(BaseModel):
    """Rules a zone's boxes keep; the nearest zone with a policy (village, commune, province) applies."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    quiet_hours: tuple[Window, ...] = ()
    max_sessions_per_day: int | None = Field(default=None, ge=0)
    max_minutes_per_day: int | None = Field(default=None, ge=0)
    volume_limits: tuple[VolumeLimit, ...] = ()
    timezone: str = DEFAULT_TZ

    def max_volume_at(self, instant: datetime) -> int:
        at = instant.astimezone(ZoneInfo(self.timezone)).time()
        return min((v.max_volume for v in self.volume_limits if v.window.covers(at)), default=100)


@dataclass(frozen=True)
class Session:
    """One airing (buổi phát) on one box."""

    key: object  # whatever identifies it to the caller
    start: datetime
    duration_ms: int
    priority: str

    @property
    def end(self) -> datetime:
        return self.start + timedelta(milliseconds=self.duration_ms)


@dataclass(frozen=True)
class Violation:
    key: object
    rule: str  # quiet_hours, max_sessions, max_minutes
    text: Text  # what to tell the reader (worded in their language by the controller)


def quiet_violation(policy: ZonePolicy, session: Session) -> str | None:
    """The quiet window a session overlaps, if any."""
    tz = ZoneInfo(policy.timezone)
    begin, finish = session.start.astimezone(tz), session.end.astimezone(tz)
    for window in policy.quiet_hours:
        if window.start == window.end:
            continue  # a window of no time, as ``Window.covers`` reads it (the panel refuses one)
        day = begin.date() - timedelta(days=1)
        while day <= finish.date():
            opens = datetime.combine(day, window.start, tzinfo=tz)
            closes_day = day if window.start < window.end else day + timedelta(days=1)
            closes = datetime.combine(closes_day, window.end, tzinfo=tz)
            if opens <= begin < closes or (begin < opens < finish):
                return window.label()
            day += timedelta(days=1)
    return None


def check(policy: ZonePolicy, sessions: Iterable[Session], *, quiet_hours: bool = True) -> list[Violation]:
    """Violations of a box's sessions, counting caps in start order (so the later sessions break them).

    Emergency sessions are never reported: they override policies (the caller logs the override).
    Sessions starting at the same instant keep the caller's order.
    """
    tz = ZoneInfo(policy.timezone)
    violations: list[Violation] = []
    per_day: dict[date, list[Session]] = defaultdict(list)
    for session in sorted(sessions, key=lambda s: s.start):
        if session.priority == "emergency":
            continue
        window = quiet_violation(policy, session) if quiet_hours and policy.quiet_hours else None
        if window is not None:
            local = session.start.astimezone(tz)
            violations.append(
                Violation(
                    session.key,
                    "quiet_hours",
                    Text.of("policy.quiet_hours", at=local, window=window),
                )
            )
            continue
        day = session.start.astimezone(tz).date()
        per_day[day].append(session)
        count = len(per_day[day])
        minutes = sum(s.duration_ms for s in per_day[day]) / 60_000
        if policy.max_sessions_per_day is not None and count > policy.max_sessions_per_day:
            violations.append(
                Violation(
                    session.key,
                    "max_sessions",
                    Text.of("policy.max_sessions", day=day, limit=policy.max_sessions_per_day),
                )
            )
            per_day[day].pop()
        elif policy.max_minutes_per_day is not None and minutes > policy.max_minutes_per_day:
            violations.append(
                Violation(
                    session.key,
                    "max_minutes",
                    Text.of("policy.max_minutes", day=day, limit=policy.max_minutes_per_day),
                )
            )
            per_day[day].pop()
    return violations
