"""Helpers for the playlist, schedule and calendar page tests: approved bulletins and schedules made
straight in the database (their audio is a Media row of a chosen length; no file is read), and a
panel login that returns the CSRF token."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from controller.models import Bulletin, Media, Schedule, User
from playlists.rules import Rule, occurrences
from tests.controller.conftest import PASSWORD, World

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def login(world: World, username: str) -> str:
    """Log the world's client in as ``username``; returns the session's CSRF token."""
    response = world.client.post(
        "/login", data={"username": username, "password": PASSWORD}, follow_redirects=False
    )
    assert response.status_code == 303
    match = re.search(r'name="csrf_token" value="([^"]+)"', world.client.get("/").text)
    assert match
    return match.group(1)


def daily_form(world: World, csrf: str, **fields: str) -> dict[str, str]:
    """The schedule form of a daily slot from tomorrow (Vietnam's date) on village A1; ``fields``
    adds to it or overrides it (``what``, ``times``, …)."""
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).astimezone(VN).strftime("%d/%m/%Y")
    form = {
        "csrf_token": csrf,
        "target": f"zone:{world.village_a1}",
        "when": "repeat",
        "freq": "daily",
        "interval": "1",
        "start_date": tomorrow,
        "end_date": "",
        "priority": "normal",
    }
    return form | fields


def user_id(session: Session, username: str) -> int:
    return session.exec(select(User.id).where(User.username == username)).one() or 0


def approved(session: Session, *, commune_id: int, title: str, seconds: int = 60) -> Bulletin:
    """An approved bulletin whose audio lasts ``seconds``."""
    sha = hashlib.sha256(f"{title}/{commune_id}/{seconds}".encode()).hexdigest()
    if session.get(Media, sha) is None:
        session.add(Media(sha256=sha, bytes=seconds * 4000, duration_ms=seconds * 1000, mime="audio/ogg"))
    bulletin = Bulletin(
        commune_id=commune_id,
        title=title,
        body="Kính thưa bà con.",
        status="approved",
        author_id=user_id(session, "editor_a"),
        media_sha256=sha,
        text_sha256=sha,
    )
    session.add(bulletin)
    session.commit()
    session.refresh(bulletin)
    session.expunge(bulletin)  # stays readable after later commits and the session's end
    return bulletin


def scheduled(
    session: Session, *, bulletin_id: int, zone_id: int, rule: Rule, priority: str = "normal"
) -> Schedule:
    """An active schedule saved as it is (no checks): for weeks past or far ahead."""
    fired = occurrences(rule, datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
    schedule = Schedule(
        bulletin_id=bulletin_id,
        target_kind="zone",
        target_zone_id=zone_id,
        rule_json=rule.model_dump_json(),
        starts_at=fired[0],
        ends_at=fired[-1] + timedelta(seconds=1),
        priority=priority,
        created_by=user_id(session, "editor_a"),
    )
    session.add(schedule)
    session.commit()
    session.refresh(schedule)
    session.expunge(schedule)
    return schedule


def day_cells(html: str) -> dict[str, str]:
    """The calendar's day cells by ISO date (the HTML of each)."""
    parts = re.split(r'<li class="day[^"]*" data-day="(\d{4}-\d{2}-\d{2})"', html)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}
