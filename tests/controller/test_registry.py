"""Registering boxes, one-time enrolment codes, rotation, revocation and the broker's accounts."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlmodel import Session, select

from controller import receipts, registry
from controller.devices import device_for_token
from controller.models import AuditEvent, Device, EnrolmentCode, utcnow
from controller.settings import Settings
from controller.targets import ZoneIndex
from device_registry.broker import password_matches
from playlists.signing import public_key_b64, sign
from playlists.wire import Receipt
from tests.controller.conftest import World


def register(world: World, device_id: str = "box-new", *, user: str = "tech", **extra: object) -> dict:  # type: ignore[type-arg]
    body = {"device_id": device_id, "name": "Loa chợ", "zone_id": world.village_a1, **extra}
    response = world.client.post("/api/v1/devices", json=body, headers=world.token(user))
    assert response.status_code == 201, response.text
    return dict(response.json())


def enroll(world: World, code: str, key: Ed25519PrivateKey | None = None):  # type: ignore[no-untyped-def]
    key = key or Ed25519PrivateKey.generate()
    return world.client.post(
        "/api/v1/enroll", json={"code": code, "public_key": public_key_b64(key.public_key())}
    )


def test_a_technician_registers_a_box_and_gets_a_one_time_code(world: World) -> None:
    made = register(world, lat=18.83, lon=105.6, address="Chợ Nghi Lộc")
    code = made["enrolment_code"]
    assert len(code) == 12 and code[4] == code[9] == "-"
    assert made["device"]["enrolled_at"] is None
    assert made["code_valid_hours"] == 72
    with world.session() as session:
        device = session.get(Device, "box-new")
        assert device is not None and device.public_key is None and device.lat == 18.83
        stored = session.exec(select(EnrolmentCode)).one()
        assert code.replace("-", "") not in stored.code_hash, "only the hash of the code is kept"
        assert session.exec(select(AuditEvent).where(AuditEvent.action == "device.register")).one()


def test_editors_may_not_register_boxes_and_bad_input_is_explained(world: World) -> None:
    body = {"device_id": "box-x", "name": "x", "zone_id": world.village_a1}
    assert world.client.post("/api/v1/devices", json=body, headers=world.token("editor_a")).status_code == 403
    bad_id = world.client.post(
        "/api/v1/devices", json={**body, "device_id": "Loa Số 1"}, headers=world.token("tech")
    )
    assert bad_id.status_code == 422 and "Mã loa" in bad_id.json()["detail"]
    half_gps = world.client.post("/api/v1/devices", json={**body, "lat": 18.8}, headers=world.token("tech"))
    assert half_gps.status_code == 422 and "kinh độ" in half_gps.json()["detail"]
    again = world.client.post(
        "/api/v1/devices", json={**body, "device_id": "box-a1"}, headers=world.token("tech")
    )
    assert again.status_code == 409


def test_enrolment_hands_out_working_credentials_once(world: World) -> None:
    code = register(world)["enrolment_code"]
    response = enroll(world, code.lower().replace("-", " "))  # typed sloppily on a phone keyboard
    assert response.status_code == 200, response.text
    creds = response.json()
    assert creds["device_id"] == creds["mqtt_username"] == "box-new"
    assert creds["controller_public_key"] == world.services.signer.public_key_b64
    assert creds["zones"][0] == "va1" and len(creds["zones"]) == 3, "village, commune, province"
    with world.session() as session:
        device = session.get(Device, "box-new")
        assert device is not None and device.enrolled_at is not None
        assert password_matches(creds["mqtt_password"], device.mqtt_password_hash or "")
        found = device_for_token(session, creds["media_token"])
        assert found is not None and found.id == "box-new"
    assert any(topic.endswith("/devices/box-new/timeline") for topic, _p, _r in world.published)
    reused = enroll(world, code)
    assert reused.status_code == 409 and "đã được dùng" in reused.json()["detail"]


def test_unknown_expired_and_malformed_codes_and_keys_are_refused(world: World) -> None:
    assert enroll(world, "ABCD-EFGH-JK").status_code == 404
    assert enroll(world, "not a code at all").status_code == 404
    code = register(world)["enrolment_code"]
    bad_key = world.client.post("/api/v1/enroll", json={"code": code, "public_key": "A" * 44})
    assert bad_key.status_code == 422
    with world.session() as session:
        entry = session.exec(select(EnrolmentCode)).one()
        entry.expires_at = utcnow() - timedelta(seconds=1)
        session.add(entry)
        session.commit()
    expired = enroll(world, code)
    assert expired.status_code == 410 and "hết hạn" in expired.json()["detail"]


def test_a_new_code_rotates_every_credential(world: World) -> None:
    first = enroll(world, register(world)["enrolment_code"]).json()
    renewed = world.client.post("/api/v1/devices/box-new/code", headers=world.token("tech"))
    assert renewed.status_code == 200
    second = enroll(world, renewed.json()["enrolment_code"]).json()
    assert second["mqtt_password"] != first["mqtt_password"]
    with world.session() as session:
        assert device_for_token(session, first["media_token"]) is None
        assert device_for_token(session, second["media_token"]) is not None


def test_revoking_cuts_media_receipts_and_timelines(world: World) -> None:
    key = world.device_keys["box-a1"]
    revoked = world.client.post(
        "/api/v1/devices/box-a1/revoke", json={"reason": "bị mất trộm"}, headers=world.token("tech")
    )
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    with world.session() as session:
        assert device_for_token(session, world.device_tokens["box-a1"]) is None
    receipt = Receipt(device_id="box-a1", seq=1, event="skipped", reason="x", recorded_at_ms=1)
    assert (
        receipts.handle_report(world.services.engine, device_id="box-a1", raw=sign(receipt, key, "k")) is None
    )
    assert world.client.get(
        "/media/" + "0" * 64, headers={"Authorization": "Bearer " + world.device_tokens["box-a1"]}
    ).status_code in (401, 403)
    with world.session() as session:
        assert "box-a1" not in ZoneIndex.load(session).device_ids, "no more timelines"


def test_csv_import_registers_all_or_explains_every_bad_line(world: World) -> None:
    good = "device_id,name,zone_code,lat,lon,address\nbox-c1,Loa 1,va1,18.8,105.6,Chợ\nbox-c2,Loa 2,va2,,,\n"
    made = world.client.post(
        "/api/v1/devices/import",
        files={"file": ("loa.csv", good.encode("utf-8-sig"), "text/csv")},
        headers=world.token("tech"),
    )
    assert made.status_code == 201, made.text
    assert [r["device"]["id"] for r in made.json()] == ["box-c1", "box-c2"]
    bad = "device_id,name,zone_code\nbox-d1,Loa,va1\nBOX D2!,Loa,va1\nbox-d3,Loa,nowhere\n"
    refused = world.client.post(
        "/api/v1/devices/import",
        files={"file": ("loa.csv", bad.encode(), "text/csv")},
        headers=world.token("tech"),
    )
    assert refused.status_code == 422
    assert "Dòng 3" in refused.json()["detail"] and "Dòng 4" in refused.json()["detail"]
    with world.session() as session:
        assert session.get(Device, "box-d1") is None, "nothing of a refused file is stored"


def test_the_broker_files_follow_the_registry(world: World, tmp_path: Path) -> None:
    settings: Settings = world.services.settings.model_copy(
        update={
            "broker_password_file": tmp_path / "passwords",
            "broker_acl_file": tmp_path / "acl",
            "mqtt_username": "loa_controller",
            "mqtt_password": "test-only-controller-password",
            "mqtt_controller_usernames": "loa_controller, loa_controller_2",
        }
    )
    creds = enroll(world, register(world)["enrolment_code"]).json()
    sync = registry.BrokerSync(settings)
    with Session(world.services.engine) as session:
        assert sync.apply(session)
    passwords = (tmp_path / "passwords").read_text()
    assert "box-new:" in passwords and "loa_controller:" in passwords
    assert "loa_controller_2:" in passwords, "every replica has its own account"
    line = next(x for x in passwords.splitlines() if x.startswith("box-new:"))
    assert password_matches(creds["mqtt_password"], line.split(":", 1)[1])
    assert "va1" in (tmp_path / "acl").read_text()
    world.client.post("/api/v1/devices/box-new/revoke", json={}, headers=world.token("tech"))
    with Session(world.services.engine) as session:
        sync.apply(session)
    assert "box-new:" not in (tmp_path / "passwords").read_text()


def test_guessing_codes_is_slowed_down(world: World) -> None:
    answers = [enroll(world, "ABCD-EFGH-JK").status_code for _ in range(11)]
    assert answers[:10] == [404] * 10 and answers[10] == 429
    assert "10 phút" in enroll(world, "ABCD-EFGH-JK").json()["detail"]
