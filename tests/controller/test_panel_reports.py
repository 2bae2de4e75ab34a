"""The report pages on the test_reports scenario: each role sees its scope, the page and the exports
show the data layer's numbers, the drill-down reaches a receipt whose signature verifies."""

from __future__ import annotations

import csv
import html
import io
import re

from defusedxml import ElementTree
from openpyxl import load_workbook
from sqlmodel import select

from controller.models import Receipt, Zone, utcnow
from controller.report_exports import BUILDERS, Filters, Table, to_csv
from controller.report_targets import create_target
from controller.reports import airtime, airtime_series, totals
from tests.controller import test_reports
from tests.controller.planning_support import login
from tests.controller.test_reports import MARCH, Scenario

scenario = test_reports.scenario  # the module fixture: the same world, built once here
QUERY = "period=month&day=01/03/2026"


def _names(scenario: Scenario) -> tuple[str, str]:
    with scenario.session() as session:
        names = {z.id: z.name for z in session.exec(select(Zone)).all()}
    return names[scenario.world.commune_a], names[scenario.world.commune_b]


def _section(text: str, key: str) -> str:
    match = re.search(rf'<section class="report" id="t-{key}">(.*?)</section>', text, re.S)
    assert match, key
    return match.group(1)


def _cells(section: str) -> list[list[str]]:
    rows = re.findall(r"<tbody>(.*?)</tbody>", section, re.S)
    found = []
    for row in re.findall(r"<tr>(.*?)</tr>", rows[0] if rows else "", re.S):
        found.append(
            [
                html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
                for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
            ]
        )
    return found


def _shown(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.1f}".replace(".", ",")  # the panel speaks Vietnamese
    return str(value)


def test_auditor_page_shows_the_data_layers_numbers_and_charts(scenario: Scenario) -> None:
    client = scenario.world.client
    with scenario.session() as session:
        province = session.exec(select(Zone.id).where(Zone.kind == "province")).one() or 0
        create_target(
            session,
            user=scenario.user("admin"),
            zone_id=province,
            metric="minutes",
            amount=10,
            category="legal",
        )
    login(scenario.world, "auditor")
    page = client.get(f"/reports?{QUERY}")
    assert page.status_code == 200
    a, b = _names(scenario)
    with scenario.session() as session:
        for key, build in BUILDERS.items():
            table = build(session, scenario.user("auditor"), Filters(MARCH), utcnow(), 1000.0)
            assert _cells(_section(page.text, key)) == [[_shown(v) for v in row] for row in table.rows], key
            assert f"/reports/export/{key}.csv?{html.escape(QUERY.replace('/', '%2F'))}" in page.text
    communes = _cells(_section(page.text, "commune"))
    assert [r[0] for r in communes] == sorted([a, b])
    assert [(r[0], r[-2]) for r in _cells(_section(page.text, "targets"))] == [(a, "1/6"), (b, "1/6")]
    svgs = re.findall(r"<svg xmlns=.*?</svg>", page.text, re.S)
    assert len(svgs) == 2
    for svg in svgs:
        assert ElementTree.fromstring(svg).find("{http://www.w3.org/2000/svg}title") is not None
    assert len(re.findall(r'<rect class="bar"', svgs[0])) == 31  # one bar per day of March


def test_commune_user_sees_only_their_commune(scenario: Scenario) -> None:
    client = scenario.world.client
    login(scenario.world, "editor_b")
    a, b = _names(scenario)
    page = client.get(f"/reports?{QUERY}&commune={scenario.world.commune_a}")  # not theirs: ignored
    assert page.status_code == 200
    assert [r[0] for r in _cells(_section(page.text, "commune"))] == [b]
    assert a not in page.text and "box-a1" not in page.text and "box-a2" not in page.text
    exported = client.get(f"/reports/export/box.csv?{QUERY}").content.decode("utf-8-sig")
    assert "box-b1" in exported and "box-a1" not in exported


def test_exports_equal_the_page_tables(scenario: Scenario) -> None:
    client = scenario.world.client
    login(scenario.world, "auditor")
    with scenario.session() as session:
        table = BUILDERS["category"](
            session, scenario.user("auditor"), Filters(MARCH, category="legal"), utcnow(), 1000.0
        )
    response = client.get(f"/reports/export/category.csv?{QUERY}&category=legal")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert response.content == to_csv(table)
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert len(rows) == 2 and rows[1][1:4] == ["2", "1", "0"]  # legal in March: 2 aired, 1 partly
    xlsx = client.get(f"/reports/export/category.xlsx?{QUERY}&category=legal")
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    assert [[c.value for c in r] for r in sheet.iter_rows()][1:] == [
        [v if v is not None else None for v in row] for row in table.rows
    ]
    assert client.get(f"/reports/export/nope.csv?{QUERY}").status_code == 404
    assert client.get(f"/reports/export/box.pdf?{QUERY}").status_code == 404


def test_reconciliation_drill_down_to_a_verified_receipt(scenario: Scenario) -> None:
    client = scenario.world.client
    login(scenario.world, "auditor")
    listing = client.get(f"/reports/broadcasts?{QUERY}")
    assert listing.status_code == 200
    assert f"/reports/broadcasts/{scenario.s2b_key}" in listing.text
    detail = client.get(f"/reports/broadcasts/{scenario.s2b_key}")
    assert detail.status_code == 200 and "box-b1" in detail.text
    boxes = client.get(f"/reports/broadcasts/{scenario.s2b_key}/export.xlsx")
    sheet = load_workbook(io.BytesIO(boxes.content)).active
    assert sheet is not None
    rows = [[c.value for c in r] for r in sheet.iter_rows()][1:]
    assert [r[:4] for r in rows] == [["box-b1", "Thôn B1", "Lỗi", 0]]
    receipt_id = int(re.search(r'/reports/receipts/(\d+)"', detail.text).group(1))  # type: ignore[union-attr]
    receipt = client.get(f"/reports/receipts/{receipt_id}")
    assert receipt.status_code == 200 and 'class="ok"' in receipt.text
    with scenario.session() as session:  # a quiet edit shows
        row = session.get(Receipt, receipt_id)
        assert row is not None
        reason, row.reason = row.reason, "edited"
        session.add(row)
        session.commit()
    try:
        assert 'class="error"' in client.get(f"/reports/receipts/{receipt_id}").text
    finally:
        with scenario.session() as session:
            row = session.get(Receipt, receipt_id)
            assert row is not None
            row.reason = reason
            session.add(row)
            session.commit()
    login(scenario.world, "editor_a")  # commune A: neither B's broadcast nor its receipt
    assert client.get(f"/reports/broadcasts/{scenario.s2b_key}").status_code == 404
    assert client.get(f"/reports/receipts/{receipt_id}").status_code == 404
    assert client.get(f"/reports/broadcasts/{scenario.s2b_key}/export.csv").status_code == 404


def test_bad_dates_fall_back_and_technicians_are_refused(scenario: Scenario) -> None:
    client = scenario.world.client
    login(scenario.world, "auditor")
    page = client.get("/reports?period=custom&from=31/02/2026&to=x")
    assert page.status_code == 200 and 'role="alert"' in page.text
    login(scenario.world, "tech")
    assert client.get(f"/reports?{QUERY}").status_code == 403


def test_long_tables_are_cut_on_the_page_but_not_in_the_files(scenario: Scenario) -> None:
    env = scenario.world.client.app.state.templates.env  # type: ignore[attr-defined]
    table = Table("box", "Hộp", ["Cụm loa", "Phút"], [[f"box-{i}", float(i)] for i in range(5)])
    shown = str(env.get_template("reports_macros.html").module.report_table(table, "period=month", limit=3))
    assert len(_cells(shown)) == 3 and "Chỉ hiện 3 dòng đầu trong tổng số 5 dòng" in shown
    assert len(list(csv.reader(io.StringIO(to_csv(table).decode("utf-8-sig"))))) == 6


def test_airtime_filters_by_language_in_the_data_layer_the_page_and_the_exports(scenario: Scenario) -> None:
    """March in Thái: s2a aired on box a1 (300 s, commune A), s2b failed on box b1 (commune B)."""
    auditor = scenario.user("auditor")
    a, b = _names(scenario)
    with scenario.session() as session:
        communes = airtime(session, user=auditor, period=MARCH, by="commune", language="thai")
        tally = totals(session, user=auditor, period=MARCH, language="thai")
        days = airtime_series(session, user=auditor, period=MARCH, unit="day", language="thai")
        table = BUILDERS["commune"](session, auditor, Filters(MARCH, language="thai"), utcnow(), 1000.0)
    assert sorted((r.name, r.tally.aired, r.tally.failed, r.tally.seconds) for r in communes) == sorted(
        [(a, 1, 0, 300.0), (b, 0, 1, 0.0)]
    )
    assert (tally.aired, tally.partial, tally.failed, tally.seconds) == (1, 0, 1, 300.0)
    assert [(p.period.start.day, p.tally.seconds) for p in days if p.tally.due] == [(10, 300.0)]
    client = scenario.world.client
    login(scenario.world, "auditor")
    page = client.get(f"/reports?{QUERY}&language=thai")
    assert '<option value="thai" selected>' in page.text
    assert _cells(_section(page.text, "commune")) == [[_shown(v) for v in row] for row in table.rows]
    assert "language=thai" in page.text  # the export links keep the filter
    exported = client.get(f"/reports/export/commune.csv?{QUERY}&language=thai")
    assert exported.content == to_csv(table)
    unknown = client.get(f"/reports?{QUERY}&language=klingon")  # ignored: every language
    assert '<option value="thai" selected>' not in unknown.text
