"""Signed envelopes: what verifies, and everything that must not."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from playlists.signing import (
    WireError,
    canonical_json,
    key_id,
    load_or_create_private_key,
    private_key_from_pem,
    private_key_pem,
    sign,
    verify,
)
from playlists.wire import Timeline, TimelineItem, decode, to_dict

KEY = Ed25519PrivateKey.generate()
KID = key_id(KEY.public_key())
KEYS = {KID: KEY.public_key()}


def _timeline(**overrides: object) -> Timeline:
    fields: dict[str, object] = dict(
        device_id="box-1", version=3, issued_at_ms=1, valid_from_ms=1, valid_until_ms=9
    )
    fields.update(overrides)
    return decode(Timeline, fields)


def _envelope(payload: dict[str, object]) -> bytes:
    """An envelope signed correctly by KEY over whatever payload it is given."""
    sig = base64.b64encode(KEY.sign(canonical_json(payload))).decode()
    return canonical_json({"payload": payload, "sig": sig, "kid": KID})


def test_a_signed_timeline_verifies_and_round_trips() -> None:
    doc = _timeline(items=[TimelineItem(id="s1-5", start_ms=5, duration_ms=1000)])
    parsed, kid = verify(sign(doc, KEY, KID), Timeline, KEYS)
    assert parsed == doc and kid == KID


def test_canonical_json_is_sorted_compact_utf8() -> None:
    assert canonical_json({"b": 1, "a": "Nghệ An"}) == '{"a":"Nghệ An","b":1}'.encode()


def test_changing_any_field_breaks_the_signature() -> None:
    envelope = json.loads(sign(_timeline(), KEY, KID))
    envelope["payload"]["version"] = 4
    with pytest.raises(WireError, match="bad signature"):
        verify(json.dumps(envelope).encode(), Timeline, KEYS)


def test_another_key_with_the_same_kid_is_refused() -> None:
    forger = Ed25519PrivateKey.generate()
    with pytest.raises(WireError, match="bad signature"):
        verify(sign(_timeline(), forger, KID), Timeline, KEYS)


def test_unknown_kid_and_unknown_version_are_refused() -> None:
    with pytest.raises(WireError, match="unknown signing key"):
        verify(sign(_timeline(), KEY, "other"), Timeline, KEYS)
    payload = to_dict(_timeline()) | {"v": 2}
    raw = _envelope(payload)
    with pytest.raises(WireError, match="version"):
        verify(raw, Timeline, KEYS)


def test_unknown_fields_are_ignored() -> None:
    payload = to_dict(_timeline()) | {"future_field": [1, 2]}
    raw = _envelope(payload)
    assert verify(raw, Timeline, KEYS)[0] == _timeline()


@given(st.binary(max_size=300))
def test_garbage_never_verifies_and_never_crashes(raw: bytes) -> None:
    with pytest.raises(WireError):
        verify(raw, Timeline, KEYS)


def test_private_key_file_is_made_once_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "k.pem"
    first = load_or_create_private_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = load_or_create_private_key(path)
    assert key_id(first.public_key()) == key_id(again.public_key())


def test_the_private_key_pem_is_what_cryptography_writes_and_reads():
    pem = private_key_pem(KEY)

    assert pem == KEY.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    loaded = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(loaded, Ed25519PrivateKey)
    assert key_id(loaded.public_key()) == KID
    assert key_id(private_key_from_pem(pem.replace(b"\n", b"\r\n")).public_key()) == KID


def test_a_pem_in_another_layout_is_read_by_the_full_parser():
    one_line = KEY.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    encrypted = KEY.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    )

    assert key_id(private_key_from_pem(b"\n\n" + one_line + b"\n").public_key()) == KID
    with pytest.raises(WireError, match="not a readable PEM private key"):
        private_key_from_pem(encrypted)


def test_a_key_file_that_is_not_an_ed25519_key_is_refused(tmp_path: Path) -> None:
    other = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (tmp_path / "ec.pem").write_bytes(other)
    (tmp_path / "garbage.pem").write_bytes(
        b"-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n"
    )

    with pytest.raises(WireError, match="not an Ed25519 private key"):
        load_or_create_private_key(tmp_path / "ec.pem")
    with pytest.raises(WireError, match=r"garbage\.pem: not a readable PEM private key"):
        load_or_create_private_key(tmp_path / "garbage.pem")
