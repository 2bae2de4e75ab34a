"""The administrator's settings page (read-only, no secrets) and communes page (names, not codes)."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import select

from controller import settings_view
from controller.i18n import use_language
from controller.models import AuditEvent, Zone
from controller.settings import Settings
from tests.controller.conftest import World
from tests.controller.test_device_pages import panel_login


def test_settings_are_worded_for_operators_and_no_secret_is_shown(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        database_url="postgresql+psycopg://loa:db-secret-1@db.example/loa",
        mqtt_password="mqtt-secret-1",
        mqtt_username="loa-controller",
        emergency_two_person=True,
        asrun_grace_seconds=900,
        map_tile_url="https://tiles.example/{z}/{x}/{y}.png?apikey=tile-secret-1",
    )
    with use_language("vi"):
        shown = {row.variable: row for _title, rows in settings_view.sections(settings) for row in rows}
    text = repr(shown)
    assert "db-secret-1" not in text and "mqtt-secret-1" not in text and "tile-secret-1" not in text
    assert shown["LOA_EMERGENCY_TWO_PERSON"].value == "có"
    assert shown["LOA_EMERGENCY_TWO_PERSON"].label == "Phát khẩn cấp cần người thứ hai xác nhận"
    assert shown["LOA_ASRUN_GRACE_SECONDS"].value == "900 giây"
    assert shown["LOA_TIMEZONE"].value == "Asia/Ho_Chi_Minh"
    assert shown["LOA_DATABASE_URL"].value == "postgresql+psycopg://loa:***@db.example/loa"
    assert shown["LOA_OPENING_CHIME"].value == "tự tạo"


def test_only_the_administrator_sees_the_settings_page(world: World) -> None:
    panel_login(world, "admin")
    page = world.client.get("/settings")
    assert page.status_code == 200
    assert "Phát khẩn cấp cần người thứ hai xác nhận" in page.text and "LOA_EMERGENCY_TWO_PERSON" in page.text
    assert 'href="/settings"' in page.text and 'href="/communes"' in page.text  # in the menu
    panel_login(world, "approver_a")
    assert world.client.get("/settings").status_code == 403
    home = world.client.get("/").text
    assert 'href="/settings"' not in home and 'href="/policies"' in home


def test_the_administrator_renames_a_commune_but_its_code_stays(world: World) -> None:
    csrf = panel_login(world, "admin")
    with world.session() as session:
        before = session.get(Zone, world.commune_a)
        assert before is not None
        code, old = before.code, before.name
    listed = world.client.get("/communes").text
    assert code in listed and old in listed
    renamed = world.client.post(
        f"/communes/{world.commune_a}",
        data={"csrf_token": csrf, "name": "  Xã   Đông Lộc Mới "},
        follow_redirects=False,
    )
    assert renamed.status_code == 303
    with world.session() as session:
        zone = session.get(Zone, world.commune_a)
        assert zone is not None and zone.name == "Xã Đông Lộc Mới" and zone.code == code
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "commune.rename")).one()
        assert event.object_id == code and old in (event.detail or "")


def test_a_rename_to_an_empty_or_taken_name_is_refused_beside_the_field(world: World) -> None:
    csrf = panel_login(world, "admin")
    with world.session() as session:
        taken = session.get(Zone, world.commune_b)
        assert taken is not None
    refused = world.client.post(f"/communes/{world.commune_a}", data={"csrf_token": csrf, "name": taken.name})
    assert refused.status_code == 422
    assert 'id="name-error"' in refused.text and "Đã có một xã/phường khác tên là" in refused.text
    assert f'value="{taken.name}"' in refused.text  # what was typed stays in the field
    empty = world.client.post(f"/communes/{world.commune_a}", data={"csrf_token": csrf, "name": "  "})
    assert empty.status_code == 422 and "Hãy nhập tên xã/phường." in empty.text
    panel_login(world, "editor_a")
    assert world.client.get("/communes").status_code == 403
