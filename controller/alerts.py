"""Alerts on a box's health: computed from its last status and recent receipts, never stored.

Because nothing is stored, an alert clears itself as soon as the box reports that the problem is
gone. The rules, each a pure function of what the controller knows about one box:

- ``offline``: the box has not been heard for longer than ``offline_after`` (default 30 min). A box
  counts as offline as soon as its will says so, *or* when it still says "online" but has sent
  nothing for ``stale_after`` (3 × the status interval: its will has not arrived yet, or the broker
  lost it); in both cases the clock starts at ``last_seen_at``, the last status heard.
- ``low_disk``: under 200 MB free; ``cache_over_quota``: the media cache is over its quota.
- ``clock_offset``: the clock is more than 1 s off NTP; ``clock_not_sane``: the box has no trusted
  time and plays nothing until it has.
- ``failed_plays``: 3 or more failed plays (``failed`` receipts of an item) in 24 h.
- ``outbox_backlog``: more than 100 receipts waiting to be acknowledged.
- ``rejected_documents``: the box refused documents since it started (forged, rolled back, expired).

A box that was never heard of (registered, not yet installed) has no alert: its state says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from controller.i18n import N_, decimal, gettext, ngettext
from controller.models import Receipt

LOW_DISK_MB = 200
MAX_CLOCK_OFFSET_MS = 1000.0
FAILED_PLAYS = 3
FAILED_WINDOW = timedelta(hours=24)
MAX_OUTBOX = 100
STALE_INTERVALS = 3

STATE_LABELS = {"online": N_("Online"), "offline": N_("Disconnected"), "unknown": N_("Never connected")}
LABELS = {
    "offline": N_("Disconnected for too long"),
    "low_disk": N_("Running out of space"),
    "cache_over_quota": N_("Audio cache over its quota"),
    "clock_offset": N_("Clock off"),
    "clock_not_sane": N_("Clock not synchronised: the box has paused playing"),
    "failed_plays": N_("Repeated failed plays"),
    "outbox_backlog": N_("Receipts piling up"),
    "rejected_documents": N_("The box refused documents (suspected forgery)"),
}


@dataclass(frozen=True)
class Alert:
    """One problem of one box: a stable ``code``, a ``label`` and a short ``detail`` (both in the
    language of the request that asked, Vietnamese by default)."""

    code: str
    label: str
    detail: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "label": self.label, "detail": self.detail}


@dataclass(frozen=True)
class AlertRules:
    """The thresholds; the two that depend on the deployment come from the settings."""

    offline_after: timedelta = timedelta(minutes=30)
    stale_after: timedelta = timedelta(seconds=STALE_INTERVALS * 60)

    @classmethod
    def from_settings(cls, settings: Any) -> AlertRules:
        return cls(
            offline_after=timedelta(minutes=settings.offline_alert_minutes),
            stale_after=timedelta(seconds=STALE_INTERVALS * settings.status_interval_seconds),
        )


def effective_state(state: str, last_seen_at: datetime | None, *, now: datetime, rules: AlertRules) -> str:
    """``online``, ``offline`` or ``unknown``: "online" only while the box keeps reporting."""
    if last_seen_at is None:
        return "offline" if state == "offline" else "unknown"
    if state == "online" and now - last_seen_at <= rules.stale_after:
        return "online"
    return "offline"


def alerts_for(
    *,
    state: str,
    last_seen_at: datetime | None,
    status: Mapping[str, Any],
    failed_plays: int,
    now: datetime,
    rules: AlertRules,
) -> tuple[Alert, ...]:
    """Every alert of one box, most serious first."""
    found: list[Alert] = []
    if (
        last_seen_at is not None
        and effective_state(state, last_seen_at, now=now, rules=rules) == "offline"
        and now - last_seen_at > rules.offline_after
    ):
        found.append(_alert("offline", duration_text(now - last_seen_at)))
    if status.get("clock_sane") is False:
        found.append(_alert("clock_not_sane"))
    offset = status.get("clock_offset_ms")
    if isinstance(offset, int | float) and abs(offset) > MAX_CLOCK_OFFSET_MS:
        found.append(
            _alert("clock_offset", gettext("%(seconds)s s", seconds=decimal(offset / 1000, "+0.0;-0.0")))
        )
    if failed_plays >= FAILED_PLAYS:
        found.append(
            _alert(
                "failed_plays",
                ngettext("%(num)s time in 24 hours", "%(num)s times in 24 hours", failed_plays),
            )
        )
    free = status.get("disk_free_mb")
    if isinstance(free, int | float) and free < LOW_DISK_MB:
        found.append(_alert("low_disk", gettext("%(mb)s MB left", mb=round(free))))
    cache, quota = status.get("cache_mb"), status.get("media_quota_mb")
    if isinstance(cache, int | float) and isinstance(quota, int | float) and cache > quota:
        found.append(_alert("cache_over_quota", f"{cache:.0f}/{quota:.0f} MB"))
    pending = status.get("outbox_pending")
    if isinstance(pending, int) and pending > MAX_OUTBOX:
        found.append(
            _alert(
                "outbox_backlog",
                ngettext("%(num)s receipt not yet sent", "%(num)s receipts not yet sent", pending),
            )
        )
    rejected = status.get("rejected_documents")
    if isinstance(rejected, int) and rejected > 0:
        found.append(
            _alert("rejected_documents", ngettext("%(num)s document", "%(num)s documents", rejected))
        )
    return tuple(found)


def _alert(code: str, detail: str = "") -> Alert:
    return Alert(code, gettext(LABELS[code]), detail)


def duration_text(delta: timedelta) -> str:
    """A rough duration in the reader's language: "45 phút", "3 giờ", "2 ngày"."""
    minutes = int(delta.total_seconds() // 60)
    if minutes < 120:
        return ngettext("%(num)s minute", "%(num)s minutes", minutes)
    if minutes < 48 * 60:
        return ngettext("%(num)s hour", "%(num)s hours", minutes // 60)
    return ngettext("%(num)s day", "%(num)s days", minutes // (24 * 60))


def failed_play_counts(
    session: Session, *, now: datetime, device_ids: Iterable[str] | None = None
) -> dict[str, int]:
    """Failed plays (``failed`` receipts of an item) per box over the last 24 h, boxes with none left out."""
    since = now - FAILED_WINDOW
    floor = first_receipt_id_since(session, since)
    if floor is None:
        return {}
    query = (
        select(Receipt.device_id, func.count())
        .where(
            col(Receipt.id) >= floor,
            Receipt.event == "failed",
            col(Receipt.item_id).is_not(None),
            col(Receipt.recorded_at) >= since,
        )
        .group_by(col(Receipt.device_id))
    )
    if device_ids is not None:
        query = query.where(col(Receipt.device_id).in_(list(device_ids)))
    return {device_id: count for device_id, count in session.exec(query).all()}


def first_receipt_id_since(session: Session, since: datetime) -> int | None:
    """The first receipt received at or after ``since``, by binary search over the primary key.

    The receipt table has no index on time, and grows by millions of rows a year; but ids grow with
    arrival, so about 25 primary-key lookups find the window where a full scan would read them all.
    """
    low = session.exec(select(func.min(Receipt.id))).one()
    high = session.exec(select(func.max(Receipt.id))).one()
    if low is None or high is None:
        return None
    found: int | None = None
    while low <= high:
        middle = (low + high) // 2
        row = session.exec(
            select(Receipt.id, Receipt.received_at)
            .where(col(Receipt.id) >= middle)
            .order_by(col(Receipt.id))
            .limit(1)
        ).first()
        if row is None or row[0] is None:
            high = middle - 1
        elif row[1] >= since:
            found, high = row[0], middle - 1
        else:
            low = row[0] + 1
    return found
