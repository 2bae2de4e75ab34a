"""The monthly report as a PDF in Vietnamese, fit to attach to an official report: the administrative
header of the province (issuing body, national motto, place and date), the month's totals and delivery
rate, two charts, airtime by commune, legal dissemination against the targets, languages, box uptime
and the top failure reasons — the same numbers as the /reports page, scoped to the reader's communes.

Drawn with fpdf2 in DejaVu (Debian ``fonts-dejavu-core``: every Vietnamese glyph), found on disk at
run time; nothing is fetched. The charts are drawn natively from the same bars as the page's SVGs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from fpdf.enums import XPos, YPos
from sqlmodel import Session, col, select

from controller.auth import commune_ids
from controller.charts import Bar
from controller.errors import InvalidInput
from controller.i18n import N_, decimal, gettext, use_language
from controller.models import User, Zone
from controller.pdf_layout import Document, find_fonts
from controller.periods import Period, period_of
from controller.report_boxes import clock_audit, uptime
from controller.report_exports import BUILDERS, Cell, Filters, Table
from controller.reports import airtime_series, scope_of, totals


@dataclass(frozen=True)
class Header:
    """Who issues the report and where: "UBND TỈNH NGHỆ AN" / the issuing body / "Nghệ An, ngày …"."""

    province: str
    issuer: str
    place: str


def parse_month(text: str) -> date:
    """The first day of a month written YYYY-MM (or MM/YYYY)."""
    for pattern in ("%Y-%m", "%m/%Y"):
        try:
            first = datetime.strptime(text.strip(), pattern).date()
        except ValueError:
            continue
        if 2000 <= first.year <= 2200:
            return first
    raise InvalidInput(N_("Give the month as YYYY-MM, e.g. 2026-11."), field="month")


def official_date(day: date, place: str) -> str:
    """ "Nghệ An, ngày 05 tháng 3 năm 2026": a leading zero for days below 10 and for January and
    February, as official documents write them (Decree 30/2020/NĐ-CP)."""
    month = f"{day.month:02d}" if day.month < 3 else str(day.month)
    number = f"{day.day:02d}"
    return gettext(
        "%(place)s, day %(day)s month %(month)s year %(year)s",
        place=place,
        day=number,
        month=month,
        year=day.year,
    )


def header_of(session: Session, issuer: str) -> Header:
    """The province's name from the zones table, and the issuing body (a setting, or the provincial
    Department of Culture, Sports and Tourism)."""
    name = session.exec(select(Zone.name).where(Zone.kind == "province")).first() or ""
    province = name.removeprefix("Tỉnh ").removeprefix("Thành phố ").strip()
    body = issuer or gettext("Department of Culture, Sports and Tourism")
    return Header(province=province, issuer=body, place=province)


def _scope_label(session: Session, user: User, commune: Zone | None) -> str:
    if commune is not None:
        return commune.name
    allowed = commune_ids(session, user)
    if allowed is None:
        return gettext("the whole province")
    names = session.exec(select(Zone.name).where(col(Zone.id).in_(allowed or {-1})).order_by(Zone.name))
    return ", ".join(names.all()) or "—"


class MonthlyReport:
    """Builds one month's PDF for one reader."""

    def __init__(self, session: Session, *, user: User, header: Header, fonts: dict[tuple[str, str], Path]):
        self.session = session
        self.user = user
        self.header = header
        self.pdf = Document(fonts)

    @property
    def width(self) -> float:
        return self.pdf.width

    def build(
        self, period: Period, *, commune: Zone | None, now: datetime, tz: ZoneInfo, threshold_ms: float
    ) -> bytes:
        """The whole document."""
        pdf = self.pdf
        local_now = now.astimezone(tz)
        pdf.set_title(gettext("Monthly broadcasting report, %(period)s", period=period.label()))
        pdf.set_lang("vi")
        pdf.set_creator("Loa")
        pdf.footer_text = gettext(
            "Loa: figures from the as-run log, made %(when)s (Vietnam time).",
            when=local_now.strftime("%H:%M %d/%m/%Y"),
        )
        pdf.add_page()
        self._heading(local_now.date())
        self._title(period, _scope_label(self.session, self.user, commune))
        f = Filters(period, commune.id if commune else None, commune.name if commune else None)
        self._summary(f, now=now, tz=tz, threshold_ms=threshold_ms)
        self._charts(f)
        self.pdf.section(
            gettext("Airtime by commune"), BUILDERS["commune"](self.session, self.user, f, now, threshold_ms)
        )
        self.pdf.section(
            gettext("Legal dissemination and the other categories"),
            BUILDERS["category"](self.session, self.user, f, now, threshold_ms),
        )
        self.pdf.section(
            gettext("Communes against their targets"),
            BUILDERS["targets"](self.session, self.user, f, now, threshold_ms),
        )
        self.pdf.section(
            gettext("Airtime by language"),
            BUILDERS["language"](self.session, self.user, f, now, threshold_ms),
        )
        self.pdf.section(gettext("Box uptime by commune"), self._uptime_table(f, now=now, tz=tz))
        self.pdf.section(
            gettext("Top failure reasons"), BUILDERS["reasons"](self.session, self.user, f, now, threshold_ms)
        )
        self._signature()
        return bytes(pdf.output())

    def _heading(self, today: date) -> None:
        """The administrative header: the issuing body left, the national motto right, then the date."""
        pdf, h = self.pdf, self.header
        left, right = self.width * 0.46, self.width * 0.54
        x, line = pdf.l_margin, 5.5
        pdf.set_font("serif", "", 11)
        ubnd = gettext("PEOPLE'S COMMITTEE OF %(province)s PROVINCE", province=h.province.upper())
        pdf.cell(left, line, ubnd, align="C")
        pdf.set_font("serif", "B", 11)
        republic = gettext("SOCIALIST REPUBLIC OF VIETNAM")
        pdf.cell(right, line, republic, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        y = pdf.get_y()
        issuer = h.issuer.upper()
        pdf.multi_cell(left, line, issuer, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        issuer_bottom = pdf.get_y()
        pdf.set_xy(x + left, y)
        pdf.set_font("serif", "B", 12)
        motto = gettext("Independence - Freedom - Happiness")
        pdf.cell(right, line, motto, align="C")
        motto_w = pdf.get_string_width(motto)
        pdf.set_line_width(0.3)
        pdf.line(
            x + left + (right - motto_w) / 2, y + line + 0.4, x + left + (right + motto_w) / 2, y + line + 0.4
        )
        pdf.line(x + left / 3, issuer_bottom + 0.8, x + left * 2 / 3, issuer_bottom + 0.8)
        pdf.set_xy(x + left, max(issuer_bottom, y + line) + 3)
        pdf.set_font("serif", "I", 11)
        place_date = official_date(today, h.place)
        pdf.cell(right, 6, place_date, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(6)

    def _title(self, period: Period, scope: str) -> None:
        pdf = self.pdf
        pdf.set_font("serif", "B", 14)
        pdf.cell(0, 7, gettext("REPORT"), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font("serif", "B", 12)
        pdf.multi_cell(
            0,
            6,
            gettext(
                "Results of grassroots loudspeaker broadcasting, %(period)s", period=period.label().lower()
            ),
            align="C",
            new_x=XPos.LMARGIN,
        )
        pdf.set_font("serif", "I", 11)
        pdf.multi_cell(0, 6, gettext("Scope: %(scope)s.", scope=scope), align="C", new_x=XPos.LMARGIN)
        pdf.ln(3)

    def _summary(self, f: Filters, *, now: datetime, tz: ZoneInfo, threshold_ms: float) -> None:
        tally = totals(self.session, user=self.user, period=f.period, commune_id=f.commune_id)
        boxes = [
            r
            for r in uptime(self.session, user=self.user, period=f.period, by="commune", now=now, tz=tz)
            if f.commune is None or r.name == f.commune
        ]
        online = sum(r.online_s for r in boxes)
        expected = sum(r.expected_s for r in boxes)
        clocks = [
            r
            for r in clock_audit(self.session, user=self.user, period=f.period, threshold_ms=threshold_ms)
            if f.commune is None or r.commune == f.commune
        ]
        rate = "—" if tally.delivery_rate is None else f"{decimal(tally.delivery_rate * 100)} %"
        share = f"{decimal(online / expected * 100)} %" if expected else "—"
        rows: list[list[Cell]] = [
            [gettext("Items due"), tally.due],
            [gettext("Aired"), tally.aired],
            [gettext("Partly aired"), tally.partial],
            [gettext("Failed"), tally.failed],
            [gettext("Skipped"), tally.skipped],
            [gettext("Missing"), tally.missing],
            [gettext("Minutes aired"), round(tally.minutes, 1)],
            [gettext("Delivery rate"), rate],
            [gettext("Box uptime"), share],
            [gettext("Boxes whose clock was off"), len(clocks)],
        ]
        self.pdf.section(
            gettext("Summary"),
            Table("summary", "", [gettext("Measure"), gettext("Value")], rows),
            widths=(3, 1),
            aligns=("LEFT", "RIGHT"),
        )

    def _charts(self, f: Filters) -> None:
        points = airtime_series(
            self.session, user=self.user, period=f.period, unit="day", commune_id=f.commune_id
        )
        minutes = [
            Bar(p.period.start.strftime("%d"), p.tally.minutes, decimal(p.tally.minutes)) for p in points
        ]
        rates = [Bar(p.period.start.strftime("%d"), (p.tally.delivery_rate or 0) * 100, "") for p in points]
        self.pdf.subheading(gettext("Minutes aired per day"))
        self.pdf.bar_chart(minutes, axis_text=gettext("minutes"))
        self.pdf.subheading(gettext("Delivery rate per day"))
        self.pdf.bar_chart(rates, top=100.0, axis_text="%")

    def _uptime_table(self, f: Filters, *, now: datetime, tz: ZoneInfo) -> Table:
        rows = [
            r
            for r in uptime(self.session, user=self.user, period=f.period, by="commune", now=now, tz=tz)
            if f.commune is None or r.name == f.commune
        ]
        headers = [gettext("Commune"), gettext("Boxes"), gettext("Hours online"), gettext("Uptime (%)")]
        cells: list[list[Cell]] = [
            [
                r.name,
                r.boxes,
                round(r.online_s / 3600, 1),
                None if r.share is None else round(r.share * 100, 1),
            ]
            for r in rows
        ]
        return Table("uptime", gettext("Box uptime by commune"), headers, cells)

    def _signature(self) -> None:
        pdf = self.pdf
        if pdf.get_y() > pdf.h - 55:
            pdf.add_page()
        half = self.width / 2
        pdf.set_x(pdf.l_margin + half)
        pdf.set_font("serif", "B", 11)
        pdf.cell(half, 6, gettext("PREPARED BY"), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_x(pdf.l_margin + half)
        pdf.set_font("serif", "I", 10)
        pdf.cell(
            half, 5, gettext("(signature and full name)"), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )
        pdf.ln(18)
        pdf.set_x(pdf.l_margin + half)
        pdf.set_font("serif", "B", 11)
        pdf.cell(half, 6, self.user.full_name or self.user.username, align="C")


def monthly_pdf(
    session: Session,
    *,
    user: User,
    month: date,
    tz: ZoneInfo,
    now: datetime,
    issuer: str = "",
    commune_id: int | None = None,
    font_dir: Path | None = None,
    threshold_ms: float = 1000.0,
) -> bytes:
    """The month's report for ``user`` (their communes, or one of them), in Vietnamese."""
    scope_of(session, user)  # the permission first
    allowed = commune_ids(session, user)
    commune = None
    if commune_id is not None:
        zone = session.get(Zone, commune_id)
        if zone is not None and zone.kind == "commune" and (allowed is None or commune_id in allowed):
            commune = zone
    fonts = find_fonts(font_dir)
    with use_language("vi"):
        report = MonthlyReport(session, user=user, header=header_of(session, issuer), fonts=fonts)
        return report.build(
            period_of("month", month), commune=commune, now=now, tz=tz, threshold_ms=threshold_ms
        )
