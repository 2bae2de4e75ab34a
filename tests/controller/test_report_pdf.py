"""The monthly PDF report on the test_reports scenario: it parses, carries the province's
administrative header in Vietnamese and the data layer's numbers, is scoped like the pages, and is
reached from /reports and from `loa report monthly`."""

from __future__ import annotations

import io
import re
from datetime import date
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlmodel import select

from controller.errors import InvalidInput
from controller.models import Zone, utcnow
from controller.report_pdf import find_fonts, monthly_pdf, official_date, parse_month
from loa.cli import main
from tests.controller import test_reports
from tests.controller.asrun_support import HCM
from tests.controller.planning_support import login
from tests.controller.test_reports import Scenario

scenario = test_reports.scenario  # the module fixture: the same world, built once here


def _text(body: bytes) -> str:
    assert body.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(body))
    return re.sub(r"\s+", " ", "\n".join(page.extract_text() for page in reader.pages))


def _pdf(scenario: Scenario, username: str, **kwargs: object) -> str:
    with scenario.session() as session:
        body = monthly_pdf(
            session,
            user=scenario.user(username),
            month=date(2026, 3, 1),
            tz=HCM,
            now=utcnow(),
            **kwargs,  # type: ignore[arg-type]
        )
    return _text(body)


def test_the_province_report_has_the_official_header_and_the_months_numbers(scenario: Scenario) -> None:
    text = _pdf(scenario, "auditor")
    today = utcnow().astimezone(HCM).date()
    for line in (
        "UBND TỈNH NGHỆ AN",
        "SỞ VĂN HÓA, THỂ THAO VÀ DU LỊCH",
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        official_date(today, "Nghệ An"),
        "BÁO CÁO",
        "tháng 03/2026",
        "toàn tỉnh",
    ):
        assert line in text, line
    # March (test_reports): 5 items due, 3 aired, 1 partly, 1 failed, 1,700 s; delivery rate 60 %.
    summary = text[text.index("Tổng hợp") : text.index("Số phút phát mỗi ngày")]
    assert re.search(r"Số mục phải phát 5 Đã phát 3 Phát một phần 1 Lỗi 1 ", summary), summary
    assert "28,3" in summary and "60,0 %" in summary
    for expected in ("Phổ biến pháp luật", "Tiếng Việt", "Tiếng Thái", "Thời gian hoạt động của loa"):
        assert expected in text, expected
    assert "Loa chưa có tệp âm thanh 1" in text  # the top failure reasons


def test_a_commune_user_gets_only_their_commune(scenario: Scenario) -> None:
    with scenario.session() as session:
        names = {z.id: z.name for z in session.exec(select(Zone)).all()}
    a, b = names[scenario.world.commune_a], names[scenario.world.commune_b]
    editor = _pdf(scenario, "editor_a")
    assert a in editor and b not in editor
    # one commune asked for by the auditor; one outside their communes asked for by the editor: ignored
    only_b = _pdf(scenario, "auditor", commune_id=scenario.world.commune_b, issuer="Trung tâm Văn hóa tỉnh")
    assert f"Phạm vi: {b}." in only_b and a not in only_b
    assert "TRUNG TÂM VĂN HÓA TỈNH" in only_b and "SỞ VĂN HÓA" not in only_b  # LOA_REPORT_ISSUER
    outside = _pdf(scenario, "editor_a", commune_id=scenario.world.commune_b)
    assert f"Phạm vi: {a}." in outside and b not in outside


def test_a_bad_month_and_missing_fonts_are_clear_errors(tmp_path: Path) -> None:
    assert parse_month("2026-11") == date(2026, 11, 1) == parse_month("11/2026")
    for wrong in ("tháng mười một", "9999-12", "2026-13"):
        with pytest.raises(InvalidInput):
            parse_month(wrong)
    assert official_date(date(2026, 2, 5), "Nghệ An") == "Nghệ An, ngày 05 tháng 02 năm 2026"
    assert official_date(date(2026, 11, 30), "Nghệ An") == "Nghệ An, ngày 30 tháng 11 năm 2026"
    assert find_fonts()  # installed: fonts-dejavu-core (scripts/setup)


def test_the_panel_and_the_cli_serve_the_pdf(
    scenario: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    client = scenario.world.client
    login(scenario.world, "auditor")
    page = client.get("/reports?period=month&day=01/03/2026")
    assert "/reports/monthly.pdf?month=2026-03" in page.text
    answer = client.get("/reports/monthly.pdf?month=2026-03")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/pdf"
    assert "Số mục phải phát 5 Đã phát 3" in _text(answer.content)
    assert client.get("/reports/monthly.pdf?month=bad").status_code == 422
    assert client.get(f"/reports/monthly.pdf?month=2026-03&commune={'9' * 30}").status_code == 200
    login(scenario.world, "tech")
    assert client.get("/reports/monthly.pdf?month=2026-03").status_code == 403
    settings = scenario.world.services.settings
    monkeypatch.setenv("LOA_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("LOA_DATABASE_URL", settings.resolved_database_url)
    output = tmp_path / "march.pdf"
    assert main(["report", "monthly", "--month", "2026-03", "--output", str(output)]) == 0
    assert str(output) in capsys.readouterr().out
    text = _text(output.read_bytes())
    assert "UBND TỈNH NGHỆ AN" in text and "Số mục phải phát 5 Đã phát 3" in text and "toàn tỉnh" in text
    assert main(["report", "monthly", "--month", "2026-03", "--user", "nobody"]) == 1
