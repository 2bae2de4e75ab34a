"""CAP 1.2 alerts become emergency drafts that a person must still approve."""

from __future__ import annotations

from sqlmodel import select

from controller.models import Zone
from tests.controller.conftest import World

ALERT = """<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>VN-KTTV-2026-1129-001</identifier>
  <sender>kttv@nchmf.gov.vn</sender>
  <sent>2026-11-29T15:00:00+07:00</sent>
  <status>Actual</status><msgType>Alert</msgType><scope>Public</scope>
  <info>
    <language>en-US</language><category>Met</category><event>Flood</event>
    <urgency>Immediate</urgency><severity>Severe</severity><certainty>Likely</certainty>
    <headline>Flood warning</headline><description>English text</description>
    <area><areaDesc>{names}</areaDesc></area>
  </info>
  <info>
    <language>vi-VN</language><category>Met</category><event>Lũ</event>
    <urgency>Immediate</urgency><severity>Severe</severity><certainty>Likely</certainty>
    <headline>Cảnh báo lũ trên sông Lam</headline>
    <description>Mực nước sông Lam đang lên nhanh.</description>
    <instruction>Bà con vùng trũng di chuyển người và tài sản lên nơi cao.</instruction>
    <area><areaDesc>{names}</areaDesc><geocode><valueName>loa</valueName><value>{code}</value></geocode></area>
  </info>
</alert>"""


def _alert(world: World, *, names: str, code: str = "") -> bytes:
    return ALERT.format(names=names, code=code).encode()


def test_an_alert_becomes_a_submitted_bulletin_and_a_draft_to_its_zones(world: World) -> None:
    with world.session() as session:
        commune = session.get(Zone, world.commune_a)
        assert commune is not None
    response = world.client.post(
        "/api/v1/cap",
        headers=world.token("approver_a"),
        content=_alert(world, names=f"{commune.name.upper()}; Thôn A1"),
    )
    assert response.status_code == 201, response.text
    bulletin, emergency = response.json()["bulletin"], response.json()["emergency"]
    assert bulletin["status"] == "submitted" and bulletin["category"] == "emergency"
    assert bulletin["title"] == "Cảnh báo lũ trên sông Lam"
    assert "vùng trũng" in bulletin["body"]
    assert emergency["status"] == "draft"
    assert sorted(emergency["zone_ids"]) == sorted([world.commune_a, world.village_a1])
    assert [t for t, _p, _r in world.published if "/zones/" in t] == []  # nothing airs from an alert alone

    approved = world.client.post(
        f"/api/v1/emergencies/{emergency['id']}/approve", headers=world.token("approver_a")
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "sent"
    assert len([t for t, _p, _r in world.published if "/zones/" in t]) == 2


def test_alert_areas_are_matched_by_ward_code(world: World) -> None:
    with world.session() as session:
        code = session.exec(select(Zone.code).where(Zone.id == world.commune_a)).one()
    response = world.client.post(
        "/api/v1/cap",
        headers=world.token("admin"),
        content=_alert(world, names="Unknown place", code=code.removeprefix("w")),
    )
    assert response.status_code == 201, response.text
    assert response.json()["emergency"]["zone_ids"] == [world.commune_a]


def test_bad_alerts_are_refused_clearly(world: World) -> None:
    headers = world.token("admin")
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><x>&b;</x>'
    for raw, words in (
        (b"not xml", "XML"),
        (bomb, "XML"),
        (b"<alert/>", "CAP 1.2"),
        (_alert(world, names="Nowhere"), "khu vực"),
    ):
        response = world.client.post("/api/v1/cap", headers=headers, content=raw)
        assert response.status_code == 422, raw
        assert words in response.json()["detail"]
    assert (
        world.client.post(
            "/api/v1/cap", headers=world.token("editor_a"), content=_alert(world, names="Thôn A1")
        ).status_code
        == 403
    )
    other = world.client.post(
        "/api/v1/cap", headers=world.token("approver_b"), content=_alert(world, names="Thôn A1")
    )
    assert other.status_code == 422  # not their commune
