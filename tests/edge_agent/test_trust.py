"""What a box accepts: only documents signed by the pinned controller key, for it, newer and unexpired."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.trust import Rejected, Trust
from playlists.signing import canonical_json, key_id
from playlists.wire import Ack, to_dict

NOW = 1_767_225_600_000


def never(command_id: str) -> bool:
    return False


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


def test_timeline_signed_by_the_pinned_controller_key_is_accepted(controller, trust):
    raw = controller.sign(controller.timeline(3, now_ms=NOW))

    timeline = trust.timeline(raw, last_version=2, now_ms=NOW)

    assert timeline.version == 3


def test_timeline_signed_by_another_key_is_rejected(controller, trust):
    rogue = Ed25519PrivateKey.generate()
    raw = controller.sign(controller.timeline(3, now_ms=NOW), key=rogue)

    with pytest.raises(Rejected) as caught:
        trust.timeline(raw, last_version=0, now_ms=NOW)

    assert caught.value.code == "unknown_key"


def test_timeline_signed_by_another_key_under_the_pinned_kid_is_rejected(controller, trust):
    rogue = Ed25519PrivateKey.generate()
    payload = to_dict(controller.timeline(3, now_ms=NOW))
    sig = base64.b64encode(rogue.sign(canonical_json(payload))).decode()
    raw = canonical_json({"payload": payload, "sig": sig, "kid": controller.kid})

    with pytest.raises(Rejected, match="bad signature") as caught:
        trust.timeline(raw, last_version=0, now_ms=NOW)
    assert caught.value.code == "bad_signature"


def test_timeline_whose_payload_was_altered_after_signing_is_rejected(controller, trust):
    envelope = json.loads(controller.sign(controller.timeline(3, now_ms=NOW)))
    envelope["payload"]["valid_until_ms"] += 86_400_000

    with pytest.raises(Rejected, match="bad signature"):
        trust.timeline(json.dumps(envelope).encode(), last_version=0, now_ms=NOW)


@pytest.mark.parametrize("version", [4, 5])
def test_timeline_not_newer_than_the_last_accepted_is_rejected_as_rollback(controller, trust, version):
    raw = controller.sign(controller.timeline(version, now_ms=NOW))

    with pytest.raises(Rejected) as caught:
        trust.timeline(raw, last_version=5, now_ms=NOW)

    assert caught.value.code == "rollback"


def test_expired_timeline_is_rejected(controller, trust):
    raw = controller.sign(controller.timeline(3, now_ms=NOW - 7_200_000, valid_for_ms=3_600_000))

    with pytest.raises(Rejected) as caught:
        trust.timeline(raw, last_version=0, now_ms=NOW)

    assert caught.value.code == "expired"


def test_timeline_for_another_device_is_rejected(controller, trust):
    raw = controller.sign(controller.timeline(3, now_ms=NOW, device_id="box-2"))

    with pytest.raises(Rejected) as caught:
        trust.timeline(raw, last_version=0, now_ms=NOW)

    assert caught.value.code == "wrong_device"


def test_document_of_an_unknown_wire_version_is_rejected(controller, trust):
    payload = to_dict(controller.timeline(3, now_ms=NOW)) | {"v": 2}
    sig = base64.b64encode(controller.key.sign(canonical_json(payload))).decode()
    raw = canonical_json({"payload": payload, "sig": sig, "kid": controller.kid})

    with pytest.raises(Rejected, match="unknown document version") as caught:
        trust.timeline(raw, last_version=0, now_ms=NOW)
    assert caught.value.code == "unknown_version"


def test_signed_payload_that_is_not_a_valid_timeline_is_rejected(controller, trust):
    payload = {"v": 1, "type": "timeline", "device_id": "box-1", "version": "many"}
    sig = base64.b64encode(controller.key.sign(canonical_json(payload))).decode()
    raw = canonical_json({"payload": payload, "sig": sig, "kid": controller.kid})

    with pytest.raises(Rejected, match="invalid Timeline") as caught:
        trust.timeline(raw, last_version=0, now_ms=NOW)
    assert caught.value.code == "malformed"


@settings(max_examples=200, database=None, deadline=None)
@given(st.binary(max_size=300))
def test_garbage_bytes_are_rejected_without_crashing(raw):
    trust = Trust(device_id="box-1", controller_key=Ed25519PrivateKey.generate().public_key())

    with pytest.raises(Rejected):
        trust.timeline(raw, last_version=0, now_ms=NOW)
    with pytest.raises(Rejected):
        trust.command(raw, now_ms=NOW, executed=never)
    with pytest.raises(Rejected):
        trust.ack(raw)


@settings(max_examples=200, database=None, deadline=None)
@given(json_values)
def test_arbitrary_json_envelopes_are_rejected_without_crashing(value):
    key = Ed25519PrivateKey.generate()
    trust = Trust(device_id="box-1", controller_key=key.public_key())
    for raw in (
        json.dumps(value).encode(),
        json.dumps({"payload": value, "sig": "AA==", "kid": key_id(key.public_key())}).encode(),
    ):
        with pytest.raises(Rejected):
            trust.timeline(raw, last_version=0, now_ms=NOW)


@pytest.mark.parametrize("target", ["box-1", "zone:v-demo-1"])
def test_command_for_this_box_or_its_zone_and_not_expired_is_accepted(controller, trust, target):
    command = controller.command(now_ms=NOW, target=target)

    assert trust.command(controller.sign(command), now_ms=NOW, executed=never) == command


@pytest.mark.parametrize(
    ("target", "expires_in_ms", "code"),
    [
        ("box-2", 60_000, "wrong_device"),
        ("zone:7", 60_000, "wrong_device"),
        ("v-demo-1", 60_000, "wrong_device"),
        ("box-1", 0, "expired"),
        ("box-1", -1, "expired"),
    ],
)
def test_command_for_another_target_or_expired_is_rejected(controller, trust, target, expires_in_ms, code):
    raw = controller.sign(controller.command(now_ms=NOW, target=target, expires_in_ms=expires_in_ms))

    with pytest.raises(Rejected) as caught:
        trust.command(raw, now_ms=NOW, executed=never)

    assert caught.value.code == code


def test_command_already_executed_is_rejected_as_a_replay(controller, trust):
    command = controller.command(now_ms=NOW)

    with pytest.raises(Rejected) as caught:
        trust.command(controller.sign(command), now_ms=NOW, executed=lambda cid: cid == command.id)

    assert caught.value.code == "replay"


def test_command_signed_by_another_key_is_rejected(controller, trust):
    raw = controller.sign(controller.command(now_ms=NOW), key=Ed25519PrivateKey.generate())

    with pytest.raises(Rejected) as caught:
        trust.command(raw, now_ms=NOW, executed=never)

    assert caught.value.code == "unknown_key"


def test_command_with_an_unknown_name_is_malformed(controller, trust):
    payload = to_dict(controller.command(now_ms=NOW)) | {"name": "self_destruct"}
    sig = base64.b64encode(controller.key.sign(canonical_json(payload))).decode()
    raw = canonical_json({"payload": payload, "sig": sig, "kid": controller.kid})

    with pytest.raises(Rejected) as caught:
        trust.command(raw, now_ms=NOW, executed=never)

    assert caught.value.code == "malformed"


def test_ack_must_be_signed_by_the_controller_and_name_this_box(controller, trust):
    forged = controller.sign(Ack(device_id="box-1", seq=7), key=Ed25519PrivateKey.generate())

    assert trust.ack(controller.ack(7)).seq == 7
    with pytest.raises(Rejected):
        trust.ack(controller.ack(7, device_id="box-2"))
    with pytest.raises(Rejected):
        trust.ack(forged)
