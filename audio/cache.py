"""The render cache: which stored file an unchanged bulletin already became, so it is not made again.

The key is a sha256 over everything that shapes the output (spoken text, engine and voice, accent,
speed, processing settings); the value names a file in the media store. The index is one JSON file,
rewritten whole (temp → fsync → rename) under a lock, so readers never see half of it. A damaged or
unreadable index counts as empty: the cache can always be rebuilt by rendering again.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from audio.store import MediaStore

logger = logging.getLogger(__name__)

INDEX_NAME = "render-cache.json"
_FORMAT = 1


def render_key(text: str, *, engine: str, accent: str, speed: int, settings: str) -> str:
    """The cache key of one rendering: sha256 over its canonical JSON description."""
    described = {"text": text, "engine": engine, "accent": accent, "speed": speed, "settings": settings}
    canonical = json.dumps(described, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class RenderCache:
    """A JSON index from render keys to records of files in the media store."""

    def __init__(self, index: Path) -> None:
        self.index = Path(index)
        self._lock = threading.Lock()

    @classmethod
    def beside(cls, store: MediaStore) -> RenderCache:
        """The cache kept in the media store's own folder."""
        return cls(store.root / INDEX_NAME)

    def get(self, key: str, *, store: MediaStore) -> dict[str, Any] | None:
        """The record stored under ``key``, if its file is still whole in ``store``."""
        with self._lock:
            record = self._read().get(key)
        if not isinstance(record, dict):
            return None
        try:
            present = store.path_for(str(record.get("sha256"))).stat().st_size == record.get("bytes")
        except (ValueError, OSError):
            present = False
        return record if present else None

    def put(self, key: str, record: dict[str, Any]) -> None:
        """Remember ``record`` under ``key`` (the index is rewritten atomically)."""
        with self._lock, self._locked_file():
            entries = self._read()
            entries[key] = record
            self._write(entries)

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.index.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            logger.warning("render cache %s is unreadable (%s); starting empty", self.index, exc)
            return {}
        if (
            not isinstance(data, dict)
            or data.get("format") != _FORMAT
            or not isinstance(data.get("entries"), dict)
        ):
            logger.warning("render cache %s has an unknown layout; starting empty", self.index)
            return {}
        entries: dict[str, Any] = data["entries"]
        return entries

    def _write(self, entries: dict[str, Any]) -> None:
        self.index.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{self.index.name}.", suffix=".tmp", dir=self.index.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump({"format": _FORMAT, "entries": entries}, out, sort_keys=True, ensure_ascii=False)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp_name, self.index)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        dir_fd = os.open(self.index.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    @contextlib.contextmanager
    def _locked_file(self) -> Iterator[None]:
        """Serialise writers across processes (the controller and a CLI run may share a store)."""
        self.index.parent.mkdir(parents=True, exist_ok=True)
        with open(self.index.with_name(f".{self.index.name}.lock"), "a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
