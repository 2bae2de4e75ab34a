"""Panel report pages: /reports (filters, tables, SVG charts, CSV/XLSX export of every table), the
reconciliation per broadcast with its drill-down to boxes, and one receipt checked against its box's
key. Everything is read-only and scoped by the data layer (controller/reports.scope_of)."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session, col, select

from controller.audit_verify import AuditError, check_receipt
from controller.auth import commune_ids
from controller.charts import Bar, bar_chart
from controller.deps import PanelLogin, ServicesDep, SessionDep
from controller.errors import NotFound
from controller.i18n import N_, decimal, gettext
from controller.models import Device, Occurrence, Receipt, User, Zone, utcnow
from controller.periods import UNIT_NAMES, UNITS, Period, Unit, custom, period_of
from controller.reconcile import LANGUAGES, REASONS
from controller.reconciliation import broadcast_boxes
from controller.report_exports import BUILDERS, Filters, Table, boxes_table, broadcasts_table, to_csv, to_xlsx
from controller.report_pdf import monthly_pdf, parse_month
from controller.reports import CATEGORY_NAMES, CATEGORY_ORDER, airtime_series, scope_of, state_names
from controller.routes.panel import page
from playlists.signing import public_key_from_b64
from playlists.wire import WireError

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Query(max_length=40)]


class ReportQuery:
    """The report pages' filters as the query string gives them (one place for every report route)."""

    def __init__(
        self,
        period: Text = "month",
        day: Text = "",
        first: Annotated[str, Query(alias="from", max_length=40)] = "",
        last: Annotated[str, Query(alias="to", max_length=40)] = "",
        commune: Text = "",
        category: Text = "",
        language: Text = "",
    ) -> None:
        self.period, self.day, self.first, self.last = period, day, first, last
        self.commune, self.category, self.language = commune, category, language

    def raw(self, **override: str) -> dict[str, str]:
        """The keyword arguments of ``_filters`` (``override`` replaces some)."""
        values = {"kind": self.period, "day": self.day, "first": self.first, "last": self.last}
        values |= {"commune": self.commune, "category": self.category, "language": self.language}
        return values | override


Asked = Annotated[ReportQuery, Depends()]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _day(text: str) -> date | None:
    """A date typed as dd/mm/yyyy (or yyyy-mm-dd); None if it is not one."""
    for pattern in ("%d/%m/%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(text.strip(), pattern).date()
        except ValueError:
            continue
    return None


def _communes(session: Session, user: User) -> list[Zone]:
    allowed = commune_ids(session, user)
    query = select(Zone).where(Zone.kind == "commune").order_by(col(Zone.name))
    if allowed is not None:
        query = query.where(col(Zone.id).in_(allowed or {-1}))
    return list(session.exec(query).all())


def _filters(
    session: Session,
    user: User,
    tz: ZoneInfo,
    kind: str,
    day: str,
    first: str,
    last: str,
    commune: str,
    category: str,
    language: str = "",
) -> tuple[Filters, dict[str, str], str | None]:
    """The filters from the query (bad input falls back to this month, with a message), and the query
    to keep them in links."""
    scope_of(session, user)  # the permission first
    today = utcnow().astimezone(tz).date()
    error = None
    period: Period
    if kind == "custom":
        a, b = _day(first), _day(last)
        if a is None or b is None or b < a or (b - a).days > 366 * 2:
            error = gettext("Enter a range as dd/mm/yyyy, at most two years.")
            kind, period = "month", period_of("month", today)
        else:
            period = custom(a, b)
    else:
        unit: Unit = next((u for u in UNITS if u == kind), "month")
        anchor = _day(day) if day else today
        if anchor is None:
            error, anchor = gettext("Enter a date as dd/mm/yyyy."), today
        kind, period = unit, period_of(unit, anchor)
    zones = {z.id: z.name for z in _communes(session, user)}
    commune_id = int(commune) if commune.isdigit() and int(commune) in zones else None
    chosen = category if category in CATEGORY_NAMES else None
    spoken = language if language in LANGUAGES else None
    query = {
        "period": kind,
        "day": period.start.strftime("%d/%m/%Y") if kind != "custom" else "",
        "from": first if kind == "custom" else "",
        "to": last if kind == "custom" else "",
        "commune": str(commune_id or ""),
        "category": chosen or "",
        "language": spoken or "",
    }
    found = Filters(period, commune_id, zones.get(commune_id) if commune_id else None, chosen, spoken)
    return found, {k: v for k, v in query.items() if v}, error


def _series_unit(period: Period) -> Unit:
    if period.days <= 62:
        return "day"
    return "week" if period.days <= 120 else "month"


def _charts(session: Session, user: User, f: Filters) -> list[dict[str, Any]]:
    unit = _series_unit(f.period)
    points = airtime_series(
        session,
        user=user,
        period=f.period,
        unit=unit,
        category=f.category,
        commune_id=f.commune_id,
        language=f.language,
    )
    label = "%d/%m" if unit in ("day", "week") else "%m/%Y"
    minutes = [Bar(p.period.start.strftime(label), p.tally.minutes, decimal(p.tally.minutes)) for p in points]
    rates = [
        Bar(p.period.start.strftime(label), (p.tally.delivery_rate or 0) * 100, _pct(p.tally.delivery_rate))
        for p in points
    ]
    unit_name = gettext(UNIT_NAMES[unit]).lower()
    return [
        {
            "id": "chart-minutes",
            "title": gettext("Minutes aired per %(unit)s", unit=unit_name),
            "svg": bar_chart(
                minutes,
                chart_id="chart-minutes",
                title=gettext("Minutes aired per %(unit)s", unit=unit_name),
                desc=gettext("Bar chart of the minutes aired, %(period)s.", period=f.period.label()),
                axis_text=gettext("minutes"),
            ),
            "bars": minutes,
        },
        {
            "id": "chart-rate",
            "title": gettext("Delivery rate per %(unit)s", unit=unit_name),
            "svg": bar_chart(
                rates,
                chart_id="chart-rate",
                title=gettext("Delivery rate per %(unit)s", unit=unit_name),
                desc=gettext(
                    "Bar chart of the delivery rate in percent, %(period)s.", period=f.period.label()
                ),
                top=100.0,
                axis_text="%",
            ),
            "bars": rates,
        },
    ]


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{decimal(value * 100)} %"


def _context(session: Session, user: User, services: ServicesDep, **raw: str) -> dict[str, Any]:
    tz = ZoneInfo(services.settings.timezone)
    f, query, error = _filters(session, user, tz, **raw)
    return {
        "f": f,
        "query": query,
        "qs": urlencode(query),
        "error": error,
        "tz": tz,
        "communes": _communes(session, user),
        "categories": [(c, gettext(CATEGORY_NAMES[c])) for c in CATEGORY_ORDER],
        "spoken_languages": [(code, gettext(name)) for code, name in LANGUAGES.items()],
        "kinds": [(k, gettext(UNIT_NAMES[k])) for k in (*UNITS, "custom")],
    }


@router.get("/reports", response_class=HTMLResponse)
def reports_page(
    request: Request,
    login: PanelLogin,
    session: SessionDep,
    services: ServicesDep,
    asked: Asked,
) -> HTMLResponse:
    user = login[0]
    context = _context(session, user, services, **asked.raw())
    now, threshold = utcnow(), float(services.settings.clock_audit_threshold_ms)
    tables = [build(session, user, context["f"], now, threshold) for build in BUILDERS.values()]
    return page(
        request, login, "reports.html", tables=tables, charts=_charts(session, user, context["f"]), **context
    )


@router.get("/reports/export/{key}.{fmt}")
def report_export(
    key: str,
    fmt: str,
    login: PanelLogin,
    session: SessionDep,
    services: ServicesDep,
    asked: Asked,
) -> Response:
    """One table as CSV or XLSX, with the page's filters."""
    if fmt not in ("csv", "xlsx") or (key not in BUILDERS and key != "broadcasts"):
        raise NotFound(N_("Report not found."))
    user = login[0]
    tz = ZoneInfo(services.settings.timezone)
    f, _query, _error = _filters(session, user, tz, **asked.raw())
    table: Table
    if key == "broadcasts":
        table, _keys = broadcasts_table(session, user, f, tz, limit=10_000)
    else:
        table = BUILDERS[key](session, user, f, utcnow(), float(services.settings.clock_audit_threshold_ms))
    return _download(table, fmt, f"loa-{key}-{f.period.start:%Y%m%d}-{f.period.last:%Y%m%d}.{fmt}")


def _download(table: Table, fmt: str, name: str) -> Response:
    body, media = (to_csv(table), "text/csv; charset=utf-8") if fmt == "csv" else (to_xlsx(table), XLSX)
    return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/reports/monthly.pdf")
def monthly_report(
    login: PanelLogin, session: SessionDep, services: ServicesDep, month: Text = "", commune: Text = ""
) -> Response:
    """The month's report (this month by default) as a PDF in Vietnamese with the province's header."""
    settings = services.settings
    tz = ZoneInfo(settings.timezone)
    now = utcnow()
    first = parse_month(month) if month else now.astimezone(tz).date().replace(day=1)
    body = monthly_pdf(
        session,
        user=login[0],
        month=first,
        tz=tz,
        now=now,
        issuer=settings.report_issuer,
        commune_id=int(commune) if commune.isdigit() and len(commune) < 10 else None,
        font_dir=settings.report_font_dir,
        threshold_ms=float(settings.clock_audit_threshold_ms),
    )
    name = f"loa-report-{first:%Y-%m}.pdf"
    return Response(
        body, media_type="application/pdf", headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@router.get("/reports/broadcasts/{key}/export.{fmt}")
def broadcast_export(key: str, fmt: str, login: PanelLogin, session: SessionDep) -> Response:
    """One broadcast's boxes as CSV or XLSX."""
    if fmt not in ("csv", "xlsx"):
        raise NotFound(N_("Report not found."))
    table = boxes_table(session, login[0], key)
    return _download(table, fmt, f"loa-broadcast-{re.sub(r'[^A-Za-z0-9-]', '', key)}.{fmt}")


@router.get("/reports/broadcasts", response_class=HTMLResponse)
def broadcasts_page(
    request: Request,
    login: PanelLogin,
    session: SessionDep,
    services: ServicesDep,
    asked: Asked,
) -> HTMLResponse:
    """The reconciliation: each broadcast of the period, its boxes by outcome, its delivery rate."""
    user = login[0]
    context = _context(session, user, services, **asked.raw(commune="", language=""))
    table, keys = broadcasts_table(session, user, context["f"], context["tz"])
    return page(request, login, "reports_broadcasts.html", table=table, keys=keys, **context)


@router.get("/reports/broadcasts/{key}", response_class=HTMLResponse)
def broadcast_page(
    key: str,
    request: Request,
    login: PanelLogin,
    session: SessionDep,
    services: ServicesDep,
) -> HTMLResponse:
    """One broadcast's boxes in the user's communes, each linking to the receipt that decided it."""
    boxes = broadcast_boxes(session, user=login[0], broadcast_key=key)
    return page(
        request,
        login,
        "reports_broadcast.html",
        key=key,
        boxes=boxes,
        states=state_names(),
        reasons={code: gettext(text) for code, text in REASONS.items()},
        categories={c: gettext(n) for c, n in CATEGORY_NAMES.items()},
        tz=ZoneInfo(services.settings.timezone),
    )


@router.get("/reports/receipts/{receipt_id}", response_class=HTMLResponse)
def receipt_page(receipt_id: int, request: Request, login: PanelLogin, session: SessionDep) -> HTMLResponse:
    """A receipt as its box signed it, and whether the signature and the stored columns still match."""
    scope = scope_of(session, login[0])
    receipt = session.get(Receipt, receipt_id)
    if receipt is None:
        raise NotFound(N_("Receipt not found."))
    if scope is not None:
        seen = session.exec(
            select(Occurrence.id).where(
                Occurrence.receipt_id == receipt_id, col(Occurrence.commune_id).in_(scope)
            )
        ).first()
        device = session.get(Device, receipt.device_id)
        if seen is None and (device is None or device.zone_id not in scope):
            raise NotFound(N_("Receipt not found."))
    device = session.get(Device, receipt.device_id)
    problem = None
    try:
        keys = [public_key_from_b64(device.public_key)] if device and device.public_key else []
        check_receipt(receipt, keys, f"receipt {receipt_id}")
    except (AuditError, WireError) as exc:
        problem = str(exc)
    return page(request, login, "reports_receipt.html", receipt=receipt, device=device, problem=problem)
