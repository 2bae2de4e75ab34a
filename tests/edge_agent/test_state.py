"""The accepted timeline survives a restart; a corrupt state means no timeline, never a crash."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge_agent.state import STATE_FILE, TIMELINE_FILE, VOLUME_FILE, TimelineStore, VolumeStore
from edge_agent.trust import Rejected

NOW = 1_767_225_600_000


def test_accepted_timeline_is_reloaded_after_a_restart(tmp_path, controller, trust):
    timeline = controller.timeline(4, [controller.item("a", NOW + 1000)], now_ms=NOW)
    raw = controller.sign(timeline)
    TimelineStore(tmp_path, trust).save(raw, timeline)

    store = TimelineStore(tmp_path, trust)

    assert store.load() == timeline
    assert store.last_version == 4
    assert store.is_current(raw)
    assert (tmp_path / TIMELINE_FILE).stat().st_mode & 0o777 == 0o600


def test_restart_never_accepts_a_rollback(tmp_path, controller, trust):
    timeline = controller.timeline(4, now_ms=NOW)
    TimelineStore(tmp_path, trust).save(controller.sign(timeline), timeline)
    store = TimelineStore(tmp_path, trust)
    store.load()

    with pytest.raises(Rejected) as caught:
        trust.timeline(
            controller.sign(controller.timeline(3, now_ms=NOW)), last_version=store.last_version, now_ms=NOW
        )

    assert caught.value.code == "rollback"


@pytest.mark.parametrize(
    "content", [b"", b"{not json", b'{"payload": {}, "sig": "", "kid": ""}', b"\xff\xfe"]
)
def test_corrupt_timeline_file_means_no_timeline_but_keeps_the_last_version(
    tmp_path, controller, trust, content
):
    timeline = controller.timeline(6, now_ms=NOW)
    TimelineStore(tmp_path, trust).save(controller.sign(timeline), timeline)
    (tmp_path / TIMELINE_FILE).write_bytes(content)

    store = TimelineStore(tmp_path, trust)

    assert store.load() is None
    assert store.last_version == 6
    assert store.problems == [TIMELINE_FILE]


def test_stored_timeline_signed_by_another_key_is_ignored(tmp_path, controller, trust):
    timeline = controller.timeline(2, now_ms=NOW)
    (tmp_path / TIMELINE_FILE).write_bytes(controller.sign(timeline, key=Ed25519PrivateKey.generate()))

    store = TimelineStore(tmp_path, trust)

    assert store.load() is None
    assert store.last_version == 0


def test_corrupt_state_file_falls_back_to_the_stored_timeline_version(tmp_path, controller, trust):
    timeline = controller.timeline(9, now_ms=NOW)
    TimelineStore(tmp_path, trust).save(controller.sign(timeline), timeline)
    (tmp_path / STATE_FILE).write_text('{"last_version": "nine"')

    store = TimelineStore(tmp_path, trust)

    assert store.load() == timeline
    assert store.last_version == 9


def test_expired_stored_timeline_is_still_loaded_as_the_current_one(tmp_path, controller, trust):
    timeline = controller.timeline(2, now_ms=NOW - 10_000_000, valid_for_ms=1000)
    (tmp_path / TIMELINE_FILE).write_bytes(controller.sign(timeline))
    (tmp_path / STATE_FILE).write_text(json.dumps({"last_version": 1}))

    store = TimelineStore(tmp_path, trust)

    assert store.load() == timeline
    assert store.last_version == 2


def test_the_last_accepted_envelope_is_taken_back_when_its_file_was_lost(tmp_path, controller, trust):
    timeline = controller.timeline(6, now_ms=NOW)
    raw = controller.sign(timeline)
    TimelineStore(tmp_path, trust).save(raw, timeline)
    (tmp_path / TIMELINE_FILE).unlink()

    store = TimelineStore(tmp_path, trust)
    store.load()

    assert store.is_lost_current(raw)
    assert not store.is_lost_current(controller.sign(controller.timeline(6, now_ms=NOW + 1)))
    assert store.problems == []


def test_volume_is_the_config_default_until_a_command_persists_another(tmp_path):
    assert VolumeStore(tmp_path, default=80).volume == 80

    VolumeStore(tmp_path, default=80).save(35)

    assert VolumeStore(tmp_path, default=80).volume == 35
    assert (tmp_path / VOLUME_FILE).stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("content", [b"", b"{", b"[]", b'{"volume": 300}', b'{"volume": true}'])
def test_corrupt_volume_file_means_the_default_and_a_reported_problem(tmp_path, content):
    (tmp_path / VOLUME_FILE).write_bytes(content)

    store = VolumeStore(tmp_path, default=70)

    assert (store.volume, store.problems) == (70, [VOLUME_FILE])
