"""The report tables — one shape for the page, CSV and XLSX, so the three always show the same
numbers — built from the report data layer (controller/reports.py and its siblings).

CSV is UTF-8 with a byte-order mark (Excel then reads Vietnamese); any text cell starting with
``= + - @`` (or a tab or carriage return) gets a leading apostrophe so a spreadsheet never runs it
as a formula. XLSX is written with openpyxl, text cells as text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from sqlmodel import Session

from controller.i18n import N_, gettext
from controller.models import User
from controller.periods import Period
from controller.reconciliation import broadcast_boxes, reconciliation
from controller.report_boxes import clock_audit, uptime
from controller.report_targets import METRICS, PER_NAMES, target_report
from controller.reports import CATEGORY_NAMES, Group, Tally, airtime, state_names, top_failure_reasons

Cell = str | int | float | None
DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Filters:
    """What the reader asked for: the period, and optionally one commune, one category and one language."""

    period: Period
    commune_id: int | None = None
    commune: str | None = None  # its name, for the box reports that have no commune filter
    category: str | None = None
    language: str | None = None  # airtime tables only


@dataclass(frozen=True)
class Table:
    """A report table: its key (in export links), title, column headers and rows of plain values."""

    key: str
    title: str
    headers: list[str]
    rows: list[list[Cell]]


def _rate(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 1)


def _tally_headers() -> list[str]:
    return [
        gettext("Aired"),
        gettext("Partly aired"),
        gettext("Failed"),
        gettext("Skipped"),
        gettext("Missing"),
        gettext("Minutes aired"),
        gettext("Delivery rate (%)"),
    ]


def _tally_cells(tally: Tally) -> list[Cell]:
    return [
        tally.aired,
        tally.partial,
        tally.failed,
        tally.skipped,
        tally.missing,
        round(tally.minutes, 1),
        _rate(tally.delivery_rate),
    ]


AIRTIME_TABLES: dict[Group, str] = {
    "commune": N_("Airtime by commune"),
    "village": N_("Airtime by village"),
    "box": N_("Airtime by speaker box"),
    "category": N_("Airtime by category"),
    "language": N_("Airtime by language"),
}
FIRST_COLUMN: dict[Group, str] = {
    "commune": N_("Commune"),
    "village": N_("Village"),
    "box": N_("Speaker box"),
    "category": N_("Category"),
    "language": N_("Language"),
}


def _airtime(key: Group) -> Builder:
    def build(session: Session, user: User, f: Filters, now: datetime, threshold_ms: float) -> Table:
        rows = airtime(
            session,
            user=user,
            period=f.period,
            by=key,
            category=f.category,
            commune_id=f.commune_id,
            language=f.language,
        )
        with_commune = key in ("village", "box")
        headers = (
            [gettext(FIRST_COLUMN[key])] + ([gettext("Commune")] if with_commune else []) + _tally_headers()
        )
        cells: list[list[Cell]] = []
        for r in rows:
            first: list[Cell] = [r.name, r.commune] if with_commune else [r.name]
            cells.append(first + _tally_cells(r.tally))
        return Table(key, gettext(AIRTIME_TABLES[key]), headers, cells)

    return build


def _reasons(session: Session, user: User, f: Filters, now: datetime, threshold_ms: float) -> Table:
    rows = top_failure_reasons(session, user=user, period=f.period, commune_id=f.commune_id)
    states = ("partial", "failed", "skipped", "missing")
    headers = [gettext("Reason"), gettext("Times"), *_tally_headers()[1:5]]
    cells: list[list[Cell]] = [[r.name, r.count, *(r.by_state.get(s, 0) for s in states)] for r in rows]
    return Table("reasons", gettext("Top failure reasons"), headers, cells)


def _uptime(session: Session, user: User, f: Filters, now: datetime, threshold_ms: float) -> Table:
    rows = [
        r
        for r in uptime(session, user=user, period=f.period, by="box", now=now)
        if f.commune is None or r.commune == f.commune
    ]
    headers = [gettext("Speaker box"), gettext("Commune"), gettext("Hours online"), gettext("Uptime (%)")]
    cells: list[list[Cell]] = [[r.name, r.commune, round(r.online_s / 3600, 1), _rate(r.share)] for r in rows]
    return Table("uptime", gettext("Box uptime"), headers, cells)


def _clock(session: Session, user: User, f: Filters, now: datetime, threshold_ms: float) -> Table:
    rows = [
        r
        for r in clock_audit(session, user=user, period=f.period, threshold_ms=threshold_ms)
        if f.commune is None or r.commune == f.commune
    ]
    headers = [
        gettext("Speaker box"),
        gettext("Commune"),
        gettext("Receipts"),
        gettext("Largest clock error (s)"),
        gettext("Days flagged"),
    ]
    cells: list[list[Cell]] = [
        [r.name, r.commune, r.receipts, round(r.worst_ms / 1000, 1), r.flagged_days] for r in rows
    ]
    return Table("clock", gettext("Clock audit: boxes whose clock was off"), headers, cells)


def _targets(session: Session, user: User, f: Filters, now: datetime, threshold_ms: float) -> Table:
    rows = [
        r for r in target_report(session, user=user, period=f.period) if f.commune_id in (None, r.commune_id)
    ]
    headers = [
        gettext("Commune"),
        gettext("Target"),
        gettext("Achieved"),
        gettext("Goal"),
        gettext("Periods met"),
        gettext("Met"),
    ]
    cells: list[list[Cell]] = []
    for r in rows:
        t = r.target
        what = gettext(
            "at least %(amount)s %(metric)s %(per)s",
            amount=t.amount,
            metric=gettext(METRICS[t.metric]),
            per=gettext(PER_NAMES[t.per]),
        )
        if t.category:
            what += f" ({gettext(CATEGORY_NAMES.get(t.category, t.category))})"
        met = gettext("Yes") if r.met else gettext("No")
        cells.append(
            [r.commune, what, round(r.achieved, 1), round(r.goal, 1), f"{r.met_count}/{len(r.buckets)}", met]
        )
    return Table("targets", gettext("Communes against their targets"), headers, cells)


def broadcasts_table(
    session: Session, user: User, f: Filters, tz: ZoneInfo, limit: int = 200
) -> tuple[Table, list[str]]:
    """The reconciliation per broadcast, and each row's broadcast key (for the drill-down links)."""
    rows = reconciliation(session, user=user, period=f.period, tz=tz, category=f.category, limit=limit)
    headers = [
        gettext("Time"),
        gettext("Broadcast"),
        gettext("Category"),
        gettext("Targeted boxes"),
        *_tally_headers()[:5],
        gettext("Pending"),
        gettext("Delivery rate (%)"),
    ]
    states = ("aired", "partial", "failed", "skipped", "missing", "pending")
    cells: list[list[Cell]] = [
        [
            r.at.astimezone(tz).strftime("%d/%m/%Y %H:%M"),
            r.title or r.key,
            gettext(CATEGORY_NAMES.get(r.category, r.category)),
            r.targeted,
            *(r.counts.get(s, 0) for s in states),
            _rate(r.delivery_rate),
        ]
        for r in rows
    ]
    return Table("broadcasts", gettext("Reconciliation per broadcast"), headers, cells), [r.key for r in rows]


def boxes_table(session: Session, user: User, broadcast_key: str) -> Table:
    """One broadcast's boxes in the user's communes: outcome, seconds aired, the receipts behind it."""
    states = state_names()
    headers = [
        gettext("Speaker box"),
        gettext("Village"),
        gettext("Outcome"),
        gettext("Seconds aired"),
        gettext("Receipt"),
    ]
    cells: list[list[Cell]] = [
        [
            b.device_name,
            b.zone_name,
            states.get(b.state, b.state),
            round(b.seconds, 1),
            " ".join(f"#{i.receipt_id}" for i in b.items if i.receipt_id) or None,
        ]
        for b in broadcast_boxes(session, user=user, broadcast_key=broadcast_key)
    ]
    return Table("boxes", gettext("Speaker boxes of the broadcast"), headers, cells)


Builder = Callable[[Session, User, Filters, datetime, float], Table]
BUILDERS: dict[str, Builder] = {
    **{key: _airtime(key) for key in AIRTIME_TABLES},
    "reasons": _reasons,
    "uptime": _uptime,
    "clock": _clock,
    "targets": _targets,
}


def safe_text(value: str) -> str:
    """Text a spreadsheet will show, never evaluate."""
    return "'" + value if value.startswith(DANGEROUS) else value


def _plain(value: Cell) -> Cell:
    if value is None:
        return ""
    return safe_text(value) if isinstance(value, str) else value


def to_csv(table: Table) -> bytes:
    """The table as CSV, UTF-8 with a BOM."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_text(h) for h in table.headers])
    writer.writerows([_plain(v) for v in row] for row in table.rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(table: Table) -> bytes:
    """The table as an Excel workbook of one sheet; text cells are stored as text."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = table.key[:31]
    sheet.append([safe_text(h) for h in table.headers])
    for row in table.rows:
        sheet.append([_plain(v) for v in row])
    for line in sheet.iter_rows():
        for cell in line:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # never a formula, whatever it starts with
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
