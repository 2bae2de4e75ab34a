"""Playlists expand into segments; unapproved bulletins, unknown items and cycles are refused."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from playlists.playlist import PlaylistEntry, PlaylistError, expand, total_duration_ms
from playlists.texts import Text
from playlists.wire import MediaRef

M = MediaRef(sha256="b" * 64, url="http://x/media/" + "b" * 64, bytes=1, duration_ms=90_000)
CHIME = MediaRef(sha256="c" * 64, url="http://x/media/" + "c" * 64, bytes=1, duration_ms=4_000)


def test_nested_playlist_with_chimes_silence_and_stream_has_a_total_duration() -> None:
    inner = (PlaylistEntry(kind="bulletin", bulletin_id=1), PlaylistEntry(kind="silence", duration_ms=2_000))
    outer = (
        PlaylistEntry(kind="chime", media_sha256="c" * 64),
        PlaylistEntry(kind="playlist", playlist_id=10),
        PlaylistEntry(kind="stream", stream_url="http://radio.example/vov1", duration_ms=600_000),
        PlaylistEntry(kind="chime", media_sha256="c" * 64),
    )
    segments = expand(outer, playlists={10: inner}, bulletins={1: M}, chimes={"c" * 64: CHIME})
    assert [s.kind for s in segments] == ["audio", "audio", "silence", "stream", "audio"]
    assert total_duration_ms(segments) == 4_000 + 90_000 + 2_000 + 600_000 + 4_000


def test_an_unapproved_bulletin_cannot_be_scheduled() -> None:
    with pytest.raises(PlaylistError, match="not approved") as refused:
        expand((PlaylistEntry(kind="bulletin", bulletin_id=1),), playlists={}, bulletins={1: None}, chimes={})
    assert refused.value.text == Text.of("playlist.bulletin_unapproved", id=1)
    assert str(refused.value) == "Bulletin no. 1 is not approved, so it cannot air yet."


def test_a_playlist_that_contains_itself_is_refused() -> None:
    loop = {
        1: (PlaylistEntry(kind="playlist", playlist_id=2),),
        2: (PlaylistEntry(kind="playlist", playlist_id=1),),
    }
    with pytest.raises(PlaylistError, match="a loop") as refused:
        expand((PlaylistEntry(kind="playlist", playlist_id=1),), playlists=loop, bulletins={}, chimes={})
    assert refused.value.text == Text("playlist.loop")


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "bulletin"},
        {"kind": "silence", "duration_ms": 0},
        {"kind": "stream", "duration_ms": 1000, "stream_url": "file:///etc/passwd"},
        {"kind": "stream", "stream_url": "http://radio.example/"},
        {"kind": "playlist"},
    ],
)
def test_entries_missing_what_they_play_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        PlaylistEntry.model_validate(fields)
