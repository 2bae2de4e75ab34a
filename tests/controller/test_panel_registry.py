"""Registry pages: registering boxes with a code and QR, villages, saved groups."""

from __future__ import annotations

from sqlmodel import select

from controller.models import Device, DeviceGroup, Zone
from tests.controller.conftest import World
from tests.controller.test_panel import _login


def test_a_technician_registers_a_box_and_sees_its_code_and_qr_once(world: World) -> None:
    csrf = _login(world, "tech")
    response = world.client.post(
        "/registry/boxes",
        data={
            "csrf_token": csrf,
            "device_id": "Loa-Cho-01",
            "name": "Loa chợ",
            "zone_id": world.village_a1,
            "lat": "18,8226",
            "lon": "105,6933",
        },
    )
    assert response.status_code == 201, response.text
    assert "Mã kích hoạt (chỉ hiện một lần)" in response.text
    assert "<svg" in response.text and "loa agent enroll --controller" in response.text
    with world.session() as session:
        device = session.get(Device, "loa-cho-01")
        assert device is not None and device.lat == 18.8226
    again = world.client.get("/registry")
    assert "chỉ hiện một lần" not in again.text and "loa-cho-01" in again.text, "listed as waiting, code gone"


def test_registration_errors_are_shown_in_vietnamese_and_keep_the_form(world: World) -> None:
    csrf = _login(world, "tech")
    response = world.client.post(
        "/registry/boxes",
        data={
            "csrf_token": csrf,
            "device_id": "box-z",
            "name": "Loa <b>mới</b>",
            "zone_id": "x",
            "lat": "abc",
        },
    )
    assert response.status_code == 422
    assert "Hãy chọn nơi đặt loa." in response.text
    assert "Loa &lt;b&gt;mới&lt;/b&gt;" in response.text, "input kept, and escaped"


def test_only_admins_and_technicians_open_the_registry(world: World) -> None:
    _login(world, "editor_a")
    assert world.client.get("/registry").status_code == 403


def test_revoking_from_the_panel_by_device_id(world: World) -> None:
    csrf = _login(world, "admin")
    missing = world.client.post("/registry/go/revoke", data={"csrf_token": csrf, "which": "nope"})
    assert missing.status_code == 404 and "Không có cụm loa mã nope" in missing.text
    done = world.client.post(
        "/registry/go/revoke", data={"csrf_token": csrf, "which": "box-b1"}, follow_redirects=False
    )
    assert done.status_code == 303
    with world.session() as session:
        device = session.get(Device, "box-b1")
        assert device is not None and device.revoked_at is not None
    assert "box-b1" in world.client.get("/registry").text


def test_editors_add_villages_to_their_own_commune_only(world: World) -> None:
    csrf = _login(world, "editor_a")
    added = world.client.post(
        "/villages",
        data={"csrf_token": csrf, "commune_id": world.commune_a, "name": "Đông Lộc", "kind": "xóm"},
        follow_redirects=False,
    )
    assert added.status_code == 303
    duplicate = world.client.post(
        "/villages",
        data={"csrf_token": csrf, "commune_id": world.commune_a, "name": "xóm Đông Lộc", "kind": "xóm"},
    )
    assert duplicate.status_code == 422 and "đã có Xóm Đông Lộc" in duplicate.text
    other = world.client.post(
        "/villages", data={"csrf_token": csrf, "commune_id": world.commune_b, "name": "X", "kind": "thôn"}
    )
    assert other.status_code == 403
    with world.session() as session:
        village = session.exec(select(Zone).where(Zone.name == "Xóm Đông Lộc")).one()
        commune = session.get(Zone, world.commune_a)
        assert commune is not None and village.parent_id == commune.id
        assert village.code.startswith(commune.code + "-v")


def test_villages_import_from_csv_all_or_nothing(world: World) -> None:
    csrf = _login(world, "admin")
    with world.session() as session:
        commune = session.get(Zone, world.commune_b)
        assert commune is not None
        code = commune.code
    good = f"commune_code,name,kind\n{code},Bến Thủy,khối\n{code},Trung Hòa,thôn\n"
    response = world.client.post(
        "/villages/import",
        data={"csrf_token": csrf},
        files={"file": ("thon.csv", good.encode("utf-8-sig"), "text/csv")},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    bad = f"commune_code,name,kind\n{code},Hạ Long,thôn\nw999999,Sai,thôn\n"
    refused = world.client.post(
        "/villages/import", data={"csrf_token": csrf}, files={"file": ("thon.csv", bad.encode(), "text/csv")}
    )
    assert refused.status_code == 422 and "Dòng 3" in refused.text
    with world.session() as session:
        names = set(session.exec(select(Zone.name).where(Zone.parent_id == world.commune_b)).all())
    assert {"Khối Bến Thủy", "Thôn Trung Hòa"} <= names and "Thôn Hạ Long" not in names


def test_saved_groups_across_villages(world: World) -> None:
    csrf = _login(world, "editor_a")
    made = world.client.post(
        "/groups",
        data={
            "csrf_token": csrf,
            "name": "Loa ven sông",
            "commune_id": world.commune_a,
            "device_ids": ["box-a1", "box-a2"],
        },
        follow_redirects=False,
    )
    assert made.status_code == 303
    page = world.client.get("/groups")
    assert "Loa ven sông" in page.text and "box-a1, box-a2" in page.text
    foreign = world.client.post(
        "/groups",
        data={"csrf_token": csrf, "name": "Lấn sân", "commune_id": world.commune_a, "device_ids": ["box-b1"]},
    )
    assert foreign.status_code == 422 and "Lấn sân" in foreign.text
    with world.session() as session:
        group = session.exec(select(DeviceGroup)).one()
    deleted = world.client.post(
        f"/groups/{group.id}/delete", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert deleted.status_code == 303
    assert "Loa ven sông" not in world.client.get("/groups").text
