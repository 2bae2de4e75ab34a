"""The export API on the test_reports scenario: versioned pages of bulletins, schedules, as-run
summaries and device status; a cursor resumes exactly where a page ended; auditors and admins only."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.controller import test_reports
from tests.controller.asrun_support import Boxes, fold, item_id, local
from tests.controller.conftest import approved_bulletin
from tests.controller.test_reports import Scenario

scenario = test_reports.scenario  # the module fixture: the same world, built once here


def _pages(
    scenario: Scenario, kind: str, headers: dict[str, str], cursor: str = "", **params: Any
) -> list[dict[str, Any]]:
    """Every page of a feed from ``cursor``, following next_cursor until has_more is false."""
    pages = []
    while True:
        answer = scenario.world.client.get(
            f"/api/v1/export/{kind}", params={**params, "cursor": cursor}, headers=headers
        )
        assert answer.status_code == 200, answer.text
        page = answer.json()
        assert (
            page["schema_version"] == "1.0" and page["kind"] == kind and page["count"] == len(page["records"])
        )
        pages.append(page)
        if not page["has_more"]:
            return pages
        cursor = page["next_cursor"]


def test_asrun_summaries_page_through_every_settled_broadcast_once(scenario: Scenario) -> None:
    auditor = scenario.world.token("auditor")
    pages = _pages(scenario, "asrun", auditor, limit=2)
    records = [r for p in pages for r in p["records"]]
    # The scenario's four broadcasts (3 Mar, 10 Mar ×2, 7 Apr), oldest first, two a page.
    assert [len(p["records"]) for p in pages] == [2, 2]
    assert [r["broadcast_at"][:10] for r in records] == [
        "2026-03-02",
        "2026-03-10",
        "2026-03-10",
        "2026-04-06",
    ]
    first = records[0]
    assert (first["category"], first["language"], first["title"]) == ("legal", "vi", "Luật Đất đai")
    assert {k: first["boxes"][k] for k in ("targeted", "aired", "partial", "missing")} == {
        "targeted": 3,
        "aired": 2,
        "partial": 1,
        "missing": 0,
    }
    assert first["boxes"]["delivery_rate"] == round(2 / 3, 4)
    assert sorted(c["boxes"]["targeted"] for c in first["communes"]) == [1, 2]
    failed = next(r for r in records if r["broadcast_key"] == scenario.s2b_key)
    assert failed["boxes"]["failed"] == 1 and failed["communes"][0]["commune"]["kind"] == "commune"
    # since= keeps the later ones; the last cursor, asked again, has nothing new.
    april = _pages(scenario, "asrun", auditor, since="2026-04-01T00:00:00Z")
    assert [r["broadcast_at"][:10] for r in april[0]["records"]] == ["2026-04-06"]
    again = scenario.world.client.get(
        "/api/v1/export/asrun", params={"cursor": pages[-1]["next_cursor"]}, headers=auditor
    ).json()
    assert again["records"] == [] and again["next_cursor"] == pages[-1]["next_cursor"]


def test_devices_and_audit_feeds_resume_from_their_cursor(scenario: Scenario) -> None:
    admin = scenario.world.token("admin")
    devices = [r for p in _pages(scenario, "devices", admin) for r in p["records"]]
    assert {"box-a1", "box-a2", "box-b1"} <= {d["id"] for d in devices}
    box = next(d for d in devices if d["id"] == "box-a1")
    assert box["commune"]["id"] == scenario.world.commune_a and box["zone"]["kind"] == "village"
    changed = [d["changed_at"] for d in devices]
    assert changed == sorted(changed)
    before = _pages(scenario, "bulletins", admin)[-1]["next_cursor"]
    approved_bulletin(scenario.world)  # create, submit, approve: three changes in the audit log
    new = scenario.world.client.get(
        "/api/v1/export/bulletins", params={"cursor": before or ""}, headers=admin
    ).json()
    assert [r["event"] for r in new["records"]] == ["bulletin.create", "bulletin.submit", "bulletin.approve"]
    assert {r["bulletin"]["status"] for r in new["records"]} == {"approved"}  # as it stands now
    assert new["records"][0]["bulletin"]["body"] == "Kính thưa bà con."
    assert [r["seq"] for r in new["records"]] == sorted(r["seq"] for r in new["records"])
    schedules = _pages(scenario, "schedules", admin)
    assert all(r["schedule"] is None or "rule" in r["schedule"] for p in schedules for r in p["records"])


def test_only_auditors_and_admins_read_the_export_and_bad_input_is_refused(scenario: Scenario) -> None:
    client = scenario.world.client
    for username in ("editor_a", "approver_a", "tech"):
        assert (
            client.get("/api/v1/export/bulletins", headers=scenario.world.token(username)).status_code == 403
        )
    assert client.get("/api/v1/export/bulletins").status_code == 401
    auditor = scenario.world.token("auditor")
    assert client.get("/api/v1/export/users", headers=auditor).status_code == 422
    devices = client.get("/api/v1/export/devices", headers=auditor).json()["next_cursor"]
    wrong_feed = client.get("/api/v1/export/asrun", params={"cursor": devices}, headers=auditor)
    assert wrong_feed.status_code == 422 and wrong_feed.headers["content-type"].startswith(
        "application/problem+json"
    )
    assert client.get("/api/v1/export/asrun", params={"cursor": "!!"}, headers=auditor).status_code == 422
    assert client.get("/api/v1/export/asrun", params={"since": "hôm qua"}, headers=auditor).status_code == 422
    assert client.get("/api/v1/export/asrun", params={"limit": 0}, headers=auditor).status_code == 422


def test_a_summary_that_changes_after_it_was_read_is_listed_again(scenario: Scenario) -> None:
    """Box a2 was offline on 7 April: its item went missing. Its receipt arrives on the 9th: the
    broadcast's summary comes again after the reader's cursor, with the new counts."""
    auditor = scenario.world.token("auditor")
    pages = _pages(scenario, "asrun", auditor)
    april = next(r for p in pages for r in p["records"] if r["broadcast_at"].startswith("2026-04-06"))
    assert (april["boxes"]["aired"], april["boxes"]["missing"]) == (1, 1)
    schedule_id, start_ms = (int(part) for part in april["broadcast_key"][1:].split("-"))
    start = datetime.fromtimestamp(start_ms / 1000, tz=UTC)
    boxes = Boxes(scenario.world)
    boxes.seqs["box-a2"] = 1  # its one receipt so far: the March interruption
    boxes.report("box-a2", "completed", item_id(schedule_id, start), at=start, seconds=600)
    fold(scenario.world, local(2026, 4, 9))

    again = _pages(scenario, "asrun", auditor, cursor=pages[-1]["next_cursor"])
    [late] = [r for p in again for r in p["records"]]
    assert late["broadcast_key"] == april["broadcast_key"]
    assert (late["boxes"]["aired"], late["boxes"]["missing"]) == (2, 0)
    assert late["listed_at"] > april["listed_at"]
    assert _pages(scenario, "asrun", auditor, cursor=again[-1]["next_cursor"])[0]["records"] == []
