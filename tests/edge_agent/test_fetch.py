"""Media reaches the cache only whole and verified, over real HTTP with the box's bearer token."""

from __future__ import annotations

import os

import pytest

from edge_agent.fetch import FetchError, MediaFetcher, Prefetcher
from edge_agent.media import MediaCache, MediaUnavailable

MEDIA_TOKEN = "media-token-for-tests"


@pytest.fixture
def cache(tmp_path):
    return MediaCache(tmp_path / "media")


@pytest.fixture
def fetcher(cache, media_server):
    return MediaFetcher(cache, base_url=media_server.url, token=MEDIA_TOKEN, timeout_s=5)


def test_fetch_stores_the_verified_file_under_its_sha256_with_the_bearer_token(fetcher, cache, media_server):
    data = os.urandom(100_000)
    ref = media_server.add(data)

    path = fetcher.fetch(ref)

    assert path == cache.path(ref.sha256)
    assert path.read_bytes() == data
    assert cache.verified_path(ref) == path
    assert media_server.requests[0]["Authorization"] == f"Bearer {MEDIA_TOKEN}"
    assert not cache.part_path(ref.sha256).exists()


def test_fetch_without_the_right_token_is_refused_and_caches_nothing(cache, media_server):
    ref = media_server.add(os.urandom(1000))
    fetcher = MediaFetcher(cache, base_url=media_server.url, token="wrong", timeout_s=5)

    with pytest.raises(FetchError) as caught:
        fetcher.fetch(ref)

    assert caught.value.code == "unauthorized"
    assert media_server.statuses == [401]
    assert not cache.has(ref)
    assert list(cache.folder.iterdir()) == []


def test_partial_download_is_resumed_with_a_range_request(fetcher, cache, media_server):
    data = os.urandom(300_000)
    ref = media_server.add(data)
    cache.part_path(ref.sha256).write_bytes(data[:120_000])

    fetcher.fetch(ref)

    assert media_server.requests[0]["Range"] == "bytes=120000-"
    assert media_server.statuses == [206]
    assert cache.path(ref.sha256).read_bytes() == data


def test_download_cut_midway_keeps_its_part_and_the_next_fetch_resumes_it(fetcher, cache, media_server):
    data = os.urandom(400_000)
    ref = media_server.add(data)
    media_server.cut_after = 150_000

    with pytest.raises(FetchError) as caught:
        fetcher.fetch(ref)
    kept = cache.part_path(ref.sha256).stat().st_size
    media_server.cut_after = None
    fetcher.fetch(ref)

    assert caught.value.code in ("network", "incomplete")
    assert 0 < kept <= 150_000
    assert media_server.requests[1]["Range"] == f"bytes={kept}-"
    assert cache.path(ref.sha256).read_bytes() == data


def test_server_that_ignores_range_and_answers_200_restarts_the_download(fetcher, cache, media_server):
    data = os.urandom(50_000)
    ref = media_server.add(data)
    media_server.honour_range = False
    cache.part_path(ref.sha256).write_bytes(b"x" * 20_000)

    fetcher.fetch(ref)

    assert media_server.requests[0]["Range"] == "bytes=20000-"
    assert media_server.statuses == [200]
    assert cache.path(ref.sha256).read_bytes() == data


def test_downloaded_bytes_that_do_not_match_the_sha256_are_deleted(fetcher, cache, media_server):
    data = os.urandom(10_000)
    ref = media_server.add(data, served=os.urandom(10_000))

    with pytest.raises(FetchError) as caught:
        fetcher.fetch(ref)

    assert caught.value.code == "hash_mismatch"
    assert list(cache.folder.iterdir()) == []


def test_download_larger_than_announced_is_stopped_and_deleted(fetcher, cache, media_server):
    data = os.urandom(10_000)
    ref = media_server.add(data, served=data + b"more")

    with pytest.raises(FetchError) as caught:
        fetcher.fetch(ref)

    assert caught.value.code == "size_mismatch"
    assert list(cache.folder.iterdir()) == []


def test_missing_file_on_the_server_is_an_http_error(fetcher, media_server):
    ref = media_server.add(b"abc")
    media_server.files.clear()

    with pytest.raises(FetchError) as caught:
        fetcher.fetch(ref)

    assert caught.value.code == "http_error"


def test_unreachable_server_is_a_network_error(cache, media_server):
    ref = media_server.add(b"abc")
    fetcher = MediaFetcher(cache, base_url="http://127.0.0.1:9", token=MEDIA_TOKEN, timeout_s=2)

    with pytest.raises(FetchError) as caught:
        fetcher.fetch(ref)

    assert caught.value.code == "network"


def test_cached_file_altered_on_disk_fails_verification_and_is_deleted(fetcher, cache, media_server):
    ref = media_server.add(os.urandom(5_000))
    path = fetcher.fetch(ref)
    path.write_bytes(os.urandom(5_000))

    with pytest.raises(MediaUnavailable) as caught:
        cache.verified_path(ref)

    assert caught.value.reason == "hash_mismatch"
    assert not path.exists()


def test_media_not_in_the_cache_is_reported_missing(cache, media_server):
    with pytest.raises(MediaUnavailable) as caught:
        cache.verified_path(media_server.add(b"abc"))

    assert caught.value.reason == "media_missing"


def test_prefetcher_fetches_what_is_wanted_and_reports_what_stays_missing(fetcher, media_server, clock):
    good = media_server.add(os.urandom(2_000))
    bad = media_server.add(os.urandom(2_000), served=os.urandom(2_000))
    changes: list[tuple[str, ...]] = []
    prefetcher = Prefetcher(fetcher, lambda: [good, bad], clock=clock)
    prefetcher.add_listener(lambda: changes.append(prefetcher.missing()))

    missing = prefetcher.run_once()

    assert missing == (bad.sha256,)
    assert fetcher.cache.has(good)
    assert changes == [(good.sha256, bad.sha256), (bad.sha256,)]


def test_fetch_that_cannot_fit_in_the_quota_is_refused_and_reported_missing(tmp_path, media_server, clock):
    cache = MediaCache(tmp_path / "media", quota_bytes=10_000)
    fetcher = MediaFetcher(cache, base_url=media_server.url, token=MEDIA_TOKEN, timeout_s=5)
    kept = media_server.add(os.urandom(6_000))
    fetcher.fetch(kept)
    wanted = media_server.add(os.urandom(6_000))

    with pytest.raises(FetchError) as caught:
        fetcher.fetch(wanted, keep={kept.sha256})
    prefetcher = Prefetcher(fetcher, lambda: [kept, wanted], clock=clock, referenced=lambda: {kept.sha256})

    assert caught.value.code == "quota"
    assert prefetcher.run_once() == (wanted.sha256,)
    assert cache.has(kept) and not cache.part_path(wanted.sha256).exists()
