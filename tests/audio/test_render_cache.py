from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from audio import MediaStore, RenderCache, render_key

RECORD = {"sha256": "", "bytes": 3, "duration_ms": 1, "mime": "audio/ogg", "codec": "opus", "lufs": -16.0}


@pytest.fixture
def stored(store: MediaStore) -> dict[str, object]:
    return {**RECORD, "sha256": store.put_bytes(b"ogg").sha256, "true_peak_dbtp": -2.0}


def test_key_covers_every_input_and_is_stable() -> None:
    base = {"engine": "espeak-ng (1.51)", "accent": "central", "speed": 150, "settings": "s1"}
    key = render_key("Xin chào.", **base)  # type: ignore[arg-type]

    assert key == render_key("Xin chào.", **base)  # type: ignore[arg-type]
    assert len(key) == 64 and int(key, 16) >= 0
    variants = [
        render_key("Xin chào!", **base),  # type: ignore[arg-type]
        *(
            render_key("Xin chào.", **{**base, name: value})
            for name, value in [  # type: ignore[arg-type]
                ("engine", "piper (x)"),
                ("accent", "south"),
                ("speed", 151),
                ("settings", "s2"),
            ]
        ),
    ]
    assert len({key, *variants}) == 6


def test_a_record_comes_back_while_its_file_is_in_the_store(
    store: MediaStore, stored: dict[str, object]
) -> None:
    cache = RenderCache.beside(store)
    cache.put("k", stored)

    assert RenderCache.beside(store).get("k", store=store) == stored
    assert cache.get("other", store=store) is None
    store.path_for(str(stored["sha256"])).unlink()
    assert cache.get("k", store=store) is None


def test_the_index_is_written_whole_and_leaves_no_temporary_files(
    store: MediaStore, stored: dict[str, object]
) -> None:
    cache = RenderCache.beside(store)
    for n in range(5):
        cache.put(f"k{n}", stored)

    index = json.loads(cache.index.read_text(encoding="utf-8"))
    assert index["format"] == 1 and sorted(index["entries"]) == [f"k{n}" for n in range(5)]
    assert [p.name for p in store.root.glob(".render-cache.json.*.tmp")] == []


@pytest.mark.parametrize("damage", ["", "{not json", "[1, 2]", '{"format": 99, "entries": {}}', "\x00\xff"])
def test_a_damaged_index_counts_as_empty_and_is_replaced(
    store: MediaStore, stored: dict[str, object], damage: str
) -> None:
    cache = RenderCache.beside(store)
    store.root.mkdir(parents=True, exist_ok=True)
    cache.index.write_text(damage, encoding="utf-8", errors="surrogateescape")

    assert cache.get("k", store=store) is None
    cache.put("k", stored)
    assert cache.get("k", store=store) == stored


def test_concurrent_writers_lose_nothing(
    store: MediaStore, stored: dict[str, object], tmp_path: Path
) -> None:
    caches = [RenderCache.beside(store) for _ in range(4)]  # as separate processes would, each its own lock

    def write(cache: RenderCache, n: int) -> None:
        for i in range(10):
            cache.put(f"{n}-{i}", stored)

    threads = [threading.Thread(target=write, args=(cache, n)) for n, cache in enumerate(caches)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(json.loads(caches[0].index.read_text(encoding="utf-8"))["entries"]) == 40
