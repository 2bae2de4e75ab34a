"""The bytes on the wire do not change: envelopes signed by an earlier release are pinned in
``tests/playlists/signed/`` and the same documents must sign to exactly those bytes today.

The fixtures were generated with the pydantic implementation of ``playlists.wire`` (before the move
to msgspec), so these tests prove that boxes and controllers of either release understand each other.
Regenerate them only for a deliberate wire change, together with a new ``v``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from playlists.compiler import items_digest
from playlists.signing import key_id, sign, verify
from playlists.wire import Ack, Command, MediaRef, Receipt, Timeline, TimelineItem

SIGNED = Path(__file__).parent / "signed"
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))  # Ed25519 signatures are deterministic
KID = key_id(KEY.public_key())
KEYS = {KID: KEY.public_key()}

MEDIA = MediaRef(sha256="ab" * 32, url="http://media.local/m/abab.mp3", bytes=48_000, duration_ms=12_000)
ITEMS = (
    TimelineItem(
        id="s7-1767225600000-0",
        start_ms=1_767_225_600_000,
        duration_ms=12_000,
        priority="priority",
        volume=80,
        media=MEDIA,
        schedule_id=7,
        bulletin_id=12,
    ),
    TimelineItem(id="s7-1767225600000-1", start_ms=1_767_225_612_000, duration_ms=5_000, kind="silence"),
    TimelineItem(
        id="s8-1767229200000-0",
        start_ms=1_767_229_200_000,
        duration_ms=1_800_000,
        kind="stream",
        stream_url="https://radio.example.vn/vov1",
        schedule_id=8,
    ),
)
DOCUMENTS = {
    "timeline": Timeline(
        device_id="xa-nghi-phu-01",
        version=42,
        issued_at_ms=1_767_222_000_000,
        valid_from_ms=1_767_222_000_000,
        valid_until_ms=1_767_826_800_000,
        items=ITEMS,
    ),
    "command": Command(
        id="e3-xa-nghi-phu",
        target="zone:xa-nghi-phu",
        issued_at_ms=1_767_222_000_000,
        expires_at_ms=1_767_222_600_000,
        name="play_now",
        args={
            "item": {
                "id": "e3-0",
                "start_ms": 1_767_222_000_000,
                "duration_ms": 12_000,
                "kind": "audio",
                "priority": "emergency",
                "volume": 100,
                "media": {
                    "sha256": "ab" * 32,
                    "url": "http://media.local/m/abab.mp3",
                    "bytes": 48_000,
                    "duration_ms": 12_000,
                    "mime": "audio/mpeg",
                },
                "stream_url": None,
                "broadcast_id": None,
                "schedule_id": None,
                "bulletin_id": None,
            },
            "repeat": 3,
            "after": "resume",
        },
    ),
    "receipt": Receipt(
        device_id="xa-nghi-phu-01",
        seq=17,
        event="interrupted",
        item_id="s7-1767225600000-0",
        timeline_version=42,
        scheduled_at_ms=1_767_225_600_000,
        started_at_ms=1_767_225_600_004,
        ended_at_ms=1_767_225_603_004,
        media_sha256="ab" * 32,
        reason="mất điện – Nghệ An",
        seconds_aired=3,  # an int given for a float field is signed as 3.0
        recorded_at_ms=1_767_225_603_010,
    ),
    "ack": Ack(device_id="xa-nghi-phu-01", seq=16),
}


def _pinned(name: str) -> bytes:
    return (SIGNED / f"{name}.json").read_bytes().rstrip(b"\n")


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_a_document_signs_to_the_pinned_bytes(name: str) -> None:
    assert sign(DOCUMENTS[name], KEY, KID) == _pinned(name)


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_a_pinned_envelope_verifies_to_the_same_document(name: str) -> None:
    document = DOCUMENTS[name]
    parsed, kid = verify(_pinned(name), type(document), KEYS)
    assert parsed == document and kid == KID


def test_the_items_digest_is_unchanged() -> None:
    # The controller stores it to republish a timeline only when its items change.
    assert items_digest(ITEMS) == (SIGNED / "items_digest.txt").read_text().strip()
