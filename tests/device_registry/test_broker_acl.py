"""The broker files keep every account to its own topics, on a real Mosquitto.

A refused message is proved absent without waiting out a timeout: right after it, a marker goes
along an allowed path to the same subscriber, and the broker keeps the order of one publisher's
messages to one subscriber, so the marker arriving first means the refused message never will.
"""

from __future__ import annotations

import queue
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from paho.mqtt.reasoncodes import ReasonCode

from device_registry.broker import mosquitto_hash
from playlists.wire import Topics

if TYPE_CHECKING:
    from tests.device_registry.conftest import SecuredBroker

pytestmark = pytest.mark.integration

T = Topics()
NOT_AUTHORISED = 135
BAD_CREDENTIALS = {134, 135}  # MQTT 5: bad user name or password / not authorised


def accepted(code: ReasonCode) -> bool:
    """Success or "no matching subscribers": the broker took the message."""
    return not code.is_failure


def test_box_cannot_publish_on_another_box_report_or_status(secured: SecuredBroker) -> None:
    controller = secured.connected(secured.controller)
    controller.subscribe(T.all_reports(), T.all_statuses())
    box_a = secured.connected("box-a")

    for forged in (T.report("box-b"), T.status("box-b")):
        assert box_a.publish(forged, b"forged").value == NOT_AUTHORISED
        assert accepted(box_a.publish(T.report("box-a"), b"marker"))
        message = controller.next_message()
        assert (message.topic, message.payload) == (T.report("box-a"), b"marker")


def test_box_cannot_read_another_box_timeline(secured: SecuredBroker) -> None:
    controller = secured.connected(secured.controller)
    assert accepted(controller.publish(T.timeline("box-b"), b"timeline of b", retain=True))
    assert accepted(controller.publish(T.timeline("box-a"), b"timeline of a", retain=True))
    box_a = secured.connected("box-a")

    box_a.subscribe(T.timeline("box-b"), "loa/v1/devices/+/timeline", "loa/v1/#")
    box_a.subscribe(T.timeline("box-a"))
    retained = [box_a.next_message() for _ in range(3)]  # one per matching subscription
    assert {(m.topic, m.payload) for m in retained} == {(T.timeline("box-a"), b"timeline of a")}

    controller.publish(T.timeline("box-b"), b"live for b")
    controller.publish(T.command("box-b"), b"command for b")
    controller.publish(T.command("box-a"), b"marker")
    assert box_a.next_message().payload == b"marker"


@pytest.mark.parametrize(
    ("topic", "reader"),
    [
        (T.timeline("box-a"), "box-a"),
        (T.command("box-a"), "box-a"),
        (T.ack("box-a"), "box-a"),
        (T.timeline("box-b"), "box-b"),
        (T.command("box-b"), "box-b"),
        (T.zone_command("za"), "box-a"),
        (T.zone_command("w1"), "box-b"),
    ],
)
def test_box_cannot_publish_on_controller_topics(secured: SecuredBroker, topic: str, reader: str) -> None:
    listener = secured.connected(reader)
    listener.subscribe(topic)
    box_a = listener if reader == "box-a" else secured.connected("box-a")
    controller = secured.connected(secured.controller)

    assert box_a.publish(topic, b"forged", retain=True).value == NOT_AUTHORISED
    controller.publish(topic, b"marker")
    assert listener.next_message().payload == b"marker"
    listener.close()
    late = secured.connected(reader)
    late.subscribe(topic)
    with pytest.raises(queue.Empty):
        late.next_message(timeout=0.3)  # nothing forged was retained either


def test_box_hears_its_zones_commands_and_no_other_zone(secured: SecuredBroker) -> None:
    box_a = secured.connected("box-a")
    box_a.subscribe(
        T.zone_command("zb"), T.zone_command("zc"), T.zone_command("za"), "loa/v1/zones/+/command"
    )
    controller = secured.connected(secured.controller)

    for zone in ("zb", "zc", "za"):
        assert accepted(controller.publish(T.zone_command(zone), zone.encode()))
    got = [box_a.next_message() for _ in range(2)]  # za, through two subscriptions
    assert {(m.topic, m.payload) for m in got} == {(T.zone_command("za"), b"za")}


@pytest.mark.parametrize(
    ("username", "password"),
    [(None, None), ("box-a", "wrong"), ("box-z", "secret-of-box-z"), ("loa_controller", "secret-of-box-a")],
)
def test_anonymous_and_wrong_credentials_are_refused(
    secured: SecuredBroker, username: str | None, password: str | None
) -> None:
    assert secured.peer(username, password=password).connect().value in BAD_CREDENTIALS


def test_revoked_box_is_cut_off_at_once_and_cannot_come_back(secured: SecuredBroker) -> None:
    box_c = secured.connected("box-c")
    box_a = secured.connected("box-a")
    assert secured.broker.process is not None

    secured.change_box("box-c", secured.broker.process.pid, revoked=True)

    assert box_c.cut_off(), "the revoked box is still connected"
    assert secured.peer("box-c").connect().value in BAD_CREDENTIALS
    assert not box_a.disconnected.is_set()
    assert accepted(box_a.publish(T.status("box-a"), b"still here"))


def test_zone_change_applies_on_reload_without_reconnecting(secured: SecuredBroker, tmp_path: Path) -> None:
    box_a = secured.connected("box-a")
    box_a.subscribe(T.zone_command("za"), T.zone_command("zb"))
    controller = secured.connected(secured.controller)
    pid_file = tmp_path / "mosquitto.pid"
    assert secured.broker.process is not None
    pid_file.write_text(f"{secured.broker.process.pid}\n")

    secured.change_box("box-a", pid_file, zones=("zb",))

    # The reload is asynchronous: publish until the new rules show, then check the old zone is shut.
    for _attempt in range(20):
        controller.publish(T.zone_command("zb"), b"zb")
        try:
            if box_a.next_message(timeout=0.1).payload == b"zb":
                break
        except queue.Empty:
            continue
    else:
        raise AssertionError("the new zone never reached the box")
    controller.publish(T.zone_command("za"), b"za")
    controller.publish(T.zone_command("zb"), b"marker")
    assert box_a.next_message().payload == b"marker"
    assert not box_a.disconnected.is_set()


def test_box_cannot_take_over_another_box_client_id(secured: SecuredBroker) -> None:
    box_b = secured.connected("box-b")
    box_b.subscribe(T.command("box-b"))
    secured.connected("box-a", client_id="box-b")  # the broker names it box-a instead

    controller = secured.connected(secured.controller)
    controller.publish(T.command("box-b"), b"for b")
    assert box_b.next_message().payload == b"for b"
    assert not box_b.disconnected.is_set()


def test_controller_reads_reports_and_statuses_and_writes_every_box_topic(secured: SecuredBroker) -> None:
    controller = secured.connected(secured.controller)
    assert [c.value for c in controller.subscribe(T.all_reports(), T.all_statuses())] == [1, 1]
    box_b = secured.connected("box-b")
    box_b.subscribe(T.timeline("box-b"), T.command("box-b"), T.ack("box-b"), T.zone_command("w1"))

    assert accepted(box_b.publish(T.report("box-b"), b"receipt"))
    assert accepted(box_b.publish(T.status("box-b"), b"online", retain=True))
    assert [controller.next_message().payload for _ in range(2)] == [b"receipt", b"online"]

    sent = [
        (T.timeline("box-b"), b"timeline", True),
        (T.command("box-b"), b"command", False),
        (T.ack("box-b"), b"ack", True),
        (T.zone_command("w1"), b"zone command", False),
    ]
    for topic, payload, retain in sent:
        assert accepted(controller.publish(topic, payload, retain=retain))
    assert [(m.topic, m.payload) for m in (box_b.next_message() for _ in sent)] == [
        (topic, payload) for topic, payload, _ in sent
    ]


def test_new_password_cuts_off_the_old_one(secured: SecuredBroker) -> None:
    box_a = secured.connected("box-a")

    secured.change_box("box-a", secured.broker.reload, password_hash=mosquitto_hash("rotated"))

    assert box_a.cut_off(), "a box logged in with the old password is still connected"
    assert secured.peer("box-a").connect().value in BAD_CREDENTIALS
    assert not secured.peer("box-a", password="rotated").connect().is_failure


def test_box_will_goes_out_on_its_own_status_only(secured: SecuredBroker) -> None:
    controller = secured.connected(secured.controller)
    controller.subscribe(T.all_statuses())
    forger = secured.connected("box-a", will=(T.status("box-b"), b"forged offline"))
    honest = secured.connected("box-c", will=(T.status("box-c"), b"offline"))

    forger.vanish()
    # By the time a new connection of box-a is accepted, the broker has dealt with the old one's will.
    again = secured.connected("box-a")
    assert accepted(again.publish(T.status("box-a"), b"marker"))
    assert controller.next_message().payload == b"marker"

    honest.vanish()
    message = controller.next_message()
    assert (message.topic, message.payload) == (T.status("box-c"), b"offline")
