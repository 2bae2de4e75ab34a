"""Remote commands: signed for one box, limited to admins and technicians, followed to their outcome."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import event
from sqlmodel import select

from controller.commands import CommandService, visible_device
from controller.errors import NotFound
from controller.models import AuditEvent, DeviceCommand, User, utcnow
from controller.receipts import handle_report, store_reports
from playlists.signing import public_key_from_b64, sign, verify
from playlists.wire import Command
from playlists.wire import Receipt as ReceiptDoc
from tests.controller.conftest import World
from tests.controller.test_device_pages import panel_login


@pytest.fixture
def sent(world: World) -> list[tuple[str, Command]]:
    """Commands published to single boxes, verified with the controller's public key."""
    found: list[tuple[str, Command]] = []
    key = {world.services.signer.kid: public_key_from_b64(world.services.signer.public_key_b64)}

    def publish(topic: str, payload: bytes, retain: bool) -> None:
        assert not retain
        found.append((topic, verify(payload, Command, key)[0]))

    service(world).publish = publish
    return found


def service(world: World) -> CommandService:
    commands: CommandService = world.client.app.state.commands  # type: ignore[attr-defined]
    return commands


def command(world: World, username: str, device_id: str, name: str, **args: object) -> dict[str, object]:
    response = world.client.post(
        f"/api/v1/devices/{device_id}/commands",
        json={"name": name, "args": args},
        headers=world.token(username),
    )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def receipt(
    world: World, device_id: str, seq: int, *, command_id: str, event: str, reason: str | None = None
) -> None:
    raw = signed_receipt(world, device_id, seq, command_id=command_id, event=event, reason=reason)
    assert handle_report(world.services.engine, device_id=device_id, raw=raw) is not None


def signed_receipt(
    world: World, device_id: str, seq: int, *, command_id: str, event: str, reason: str | None = None
) -> bytes:
    doc = ReceiptDoc(
        device_id=device_id,
        seq=seq,
        event=event,  # type: ignore[arg-type]
        command_id=command_id,
        reason=reason,
        recorded_at_ms=int(time.time() * 1000),
    )
    return sign(doc, world.device_keys[device_id], device_id)


def test_a_technician_sends_a_signed_command_to_one_box(
    world: World, sent: list[tuple[str, Command]]
) -> None:
    body = command(world, "tech", "box-a1", "set_volume", volume=70)
    assert body["state"] == "sent" and body["state_label"] == "Đã gửi, chờ loa xác nhận"
    [(topic, doc)] = sent
    assert topic == "loa/v1/devices/box-a1/command"
    assert (doc.id, doc.target, doc.name, doc.args) == (body["id"], "box-a1", "set_volume", {"volume": 70})
    assert doc.expires_at_ms - doc.issued_at_ms == 300_000
    with world.session() as session:
        [audit] = session.exec(select(AuditEvent).where(AuditEvent.action == "device.command")).all()
        assert audit.object_id == "box-a1" and str(body["id"]) in (audit.detail or "")


def test_arguments_get_their_defaults_and_bad_ones_are_refused(
    world: World, sent: list[tuple[str, Command]]
) -> None:
    assert command(world, "admin", "box-b1", "test_tone")["args"] == {"seconds": 5, "frequency_hz": 1000}
    assert command(world, "admin", "box-b1", "stop", anything=1)["args"] == {}
    tech = world.token("tech")
    loud = world.client.post(
        "/api/v1/devices/box-b1/commands", json={"name": "set_volume", "args": {"volume": 150}}, headers=tech
    )
    assert loud.status_code == 422 and loud.json()["field"] == "args"
    assert "0 đến 100" in loud.json()["detail"]
    unknown = world.client.post("/api/v1/devices/box-b1/commands", json={"name": "play_now"}, headers=tech)
    assert unknown.status_code == 422
    assert len(sent) == 2


def test_only_admins_and_technicians_command_and_only_boxes_they_may_see(
    world: World, sent: list[tuple[str, Command]]
) -> None:
    for username in ("editor_a", "approver_a", "auditor"):
        refused = world.client.post(
            "/api/v1/devices/box-a1/commands", json={"name": "stop"}, headers=world.token(username)
        )
        assert refused.status_code == 403, username
    assert sent == []
    with world.session() as session:  # commands reach only boxes the sender may see
        editor = session.exec(select(User).where(User.username == "editor_a")).one()
        assert visible_device(session, user=editor, device_id="box-a1").id == "box-a1"
        with pytest.raises(NotFound):
            visible_device(session, user=editor, device_id="box-b1")
    assert world.client.get("/api/v1/devices/box-b1", headers=world.token("editor_a")).status_code == 404
    command(world, "admin", "box-a1", "stop")
    assert [topic for topic, _doc in sent] == ["loa/v1/devices/box-a1/command"]


def test_receipts_mark_commands_done_or_failed_only_from_their_own_box(
    world: World, sent: list[tuple[str, Command]]
) -> None:
    volume = command(world, "tech", "box-a1", "set_volume", volume=30)["id"]
    restart = command(world, "tech", "box-a1", "restart")["id"]
    receipt(world, "box-a2", 1, command_id=str(volume), event="command_done")  # not its command
    receipt(world, "box-a1", 1, command_id=str(volume), event="command_done")
    receipt(world, "box-a1", 2, command_id=str(restart), event="failed", reason="busy")
    receipt(world, "box-a1", 3, command_id="e7-w1", event="command_done")  # an emergency's zone command
    detail = world.client.get("/api/v1/devices/box-a1", headers=world.token("tech")).json()
    states = {c["id"]: (c["state"], c["state_label"], c["reason"]) for c in detail["commands"]}
    assert states == {
        volume: ("done", "Loa đã thực hiện", None),
        restart: ("failed", "Loa báo lỗi", "busy"),
    }
    with world.session() as session:
        done = session.get(DeviceCommand, str(volume))
        assert done is not None and done.done_at is not None


def test_a_batch_of_receipts_marks_each_command_once_from_its_own_box(
    world: World, sent: list[tuple[str, Command]]
) -> None:
    """The receipt writer stores receipts in batches: within one, another box's receipt for the
    command changes nothing, the first final receipt decides, a ``started`` one is not an outcome."""
    volume = str(command(world, "tech", "box-b1", "set_volume", volume=40)["id"])
    tone = str(command(world, "tech", "box-b1", "test_tone")["id"])
    batch = [
        ("box-a1", signed_receipt(world, "box-a1", 10, command_id=volume, event="failed", reason="x")),
        ("box-b1", signed_receipt(world, "box-b1", 10, command_id=tone, event="started")),
        ("box-b1", signed_receipt(world, "box-b1", 11, command_id=volume, event="command_done")),
        ("box-b1", signed_receipt(world, "box-b1", 12, command_id=volume, event="failed", reason="late")),
        ("box-b1", signed_receipt(world, "box-b1", 13, command_id="e9-w2", event="command_done")),
    ]
    statements: list[str] = []
    engine = world.services.engine

    def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        assert all(ack is not None for _device, ack in store_reports(engine, batch))
    finally:
        event.remove(engine, "before_cursor_execute", note)
    with world.session() as session:
        done, playing = session.get(DeviceCommand, volume), session.get(DeviceCommand, tone)
        assert done is not None and (done.state, done.reason) == ("done", None)
        assert playing is not None and playing.state == "sent"
    # One UPDATE, for the one command that changed: not one per receipt naming a command (an
    # emergency's 10,000 boxes send three each, about a zone command no row is kept of).
    assert sum(s.lstrip().upper().startswith("UPDATE DEVICECOMMAND") for s in statements) == 1


def test_an_unconfirmed_command_expires_and_the_panel_says_so(
    world: World, sent: list[tuple[str, Command]]
) -> None:
    with world.session() as session:
        tech = session.exec(select(User).where(User.username == "tech")).one()
        old = service(world).send(
            session, user=tech, device_id="box-a1", name="resync", now=utcnow() - timedelta(minutes=6)
        )
    [(_topic, doc)] = sent
    assert doc.expires_at_ms < time.time() * 1000  # the box would refuse it now, too
    detail = world.client.get("/api/v1/devices/box-a1", headers=world.token("tech")).json()
    assert [(c["id"], c["state"]) for c in detail["commands"]] == [(old.id, "expired")]
    panel_login(world, "tech")
    assert "Hết hạn – loa không xác nhận" in world.client.get("/devices/box-a1").text


def test_the_panel_sends_commands_with_the_csrf_token(world: World, sent: list[tuple[str, Command]]) -> None:
    csrf = panel_login(world, "tech")
    page = world.client.get("/devices/box-a1").text
    assert "Đặt âm lượng" in page and "Phát âm thử" in page and "Khởi động lại phần mềm loa" in page
    done = world.client.post(
        "/devices/box-a1/commands",
        data={"csrf_token": csrf, "name": "set_volume", "volume": "40"},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/devices/box-a1#lenh"
    assert [(d.name, d.args) for _t, d in sent] == [("set_volume", {"volume": 40})]
    assert "Đặt âm lượng 40 %" in world.client.get("/devices/box-a1").text
    forged = world.client.post("/devices/box-a1/commands", data={"csrf_token": "x", "name": "stop"})
    assert forged.status_code == 403
    bad = world.client.post(
        "/devices/box-a1/commands", data={"csrf_token": csrf, "name": "set_volume", "volume": "to"}
    )
    assert bad.status_code == 422 and "Âm lượng phải là số nguyên từ 0 đến 100." in bad.text
    editor_csrf = panel_login(world, "editor_a")
    assert "Chỉ quản trị và kỹ thuật viên được gửi lệnh" in world.client.get("/devices/box-a1").text
    refused = world.client.post("/devices/box-a1/commands", data={"csrf_token": editor_csrf, "name": "stop"})
    assert refused.status_code == 403
    assert len(sent) == 1
