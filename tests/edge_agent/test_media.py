"""The media cache's disk quota: media no longer referenced is evicted, least recently played first."""

from __future__ import annotations

import hashlib
import os

from edge_agent.media import MediaCache
from playlists.wire import MediaRef


def stored(cache: MediaCache, size: int, *, used_at: float) -> MediaRef:
    data = os.urandom(size)
    sha = hashlib.sha256(data).hexdigest()
    path = cache.path(sha)
    path.write_bytes(data)
    os.utime(path, (used_at, used_at))
    return MediaRef(sha256=sha, url=f"/media/{sha}", bytes=size, duration_ms=1)


def test_room_is_made_by_evicting_unreferenced_media_least_recently_used_first(tmp_path):
    cache = MediaCache(tmp_path, quota_bytes=10_000)
    oldest = stored(cache, 3_000, used_at=1_000)
    referenced_old = stored(cache, 3_000, used_at=500)
    recent = stored(cache, 3_000, used_at=2_000)

    assert cache.make_room(3_000, keep={referenced_old.sha256})

    assert not cache.has(oldest)
    assert cache.has(referenced_old) and cache.has(recent)
    assert cache.usage_bytes() == 6_000


def test_referenced_media_is_never_evicted_even_when_the_new_file_does_not_fit(tmp_path):
    cache = MediaCache(tmp_path, quota_bytes=10_000)
    first = stored(cache, 4_000, used_at=1)
    second = stored(cache, 4_000, used_at=2)

    assert not cache.make_room(5_000, keep={first.sha256, second.sha256})

    assert cache.has(first) and cache.has(second)


def test_partial_downloads_count_and_unreferenced_ones_are_evicted(tmp_path):
    cache = MediaCache(tmp_path, quota_bytes=5_000)
    cache.part_path("ab" * 32).write_bytes(b"x" * 4_000)

    assert cache.usage_bytes() == 4_000
    assert cache.make_room(3_000, keep=set())
    assert not cache.part_path("ab" * 32).exists()


def test_playing_a_file_marks_it_recently_used(tmp_path):
    cache = MediaCache(tmp_path, quota_bytes=6_000)
    played = stored(cache, 3_000, used_at=1)
    other = stored(cache, 3_000, used_at=2)

    cache.verified_path(played)
    cache.make_room(3_000, keep=set())

    assert cache.has(played) and not cache.has(other)


def test_files_that_are_not_media_are_left_alone(tmp_path):
    cache = MediaCache(tmp_path, quota_bytes=1)
    (tmp_path / "notes.txt").write_text("keep me")

    assert cache.usage_bytes() == 0
    cache.make_room(1, keep=set())
    assert (tmp_path / "notes.txt").exists()
