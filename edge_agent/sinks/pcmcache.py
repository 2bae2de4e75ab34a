"""Decode once, play many: decoded PCM kept for the next airings of the same media at the same gain.

A box airs the same bulletin several times a day (and the same chimes and tones far more often); on a
Pi's small CPU a decode costs seconds. The cache is bounded (least recently used files go first) and
never deletes a file that a prepared airing still holds.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from edge_agent.sinks import _ffmpeg
from edge_agent.sinks.base import Source

log = logging.getLogger(__name__)

MAX_BYTES = 64 * 1024 * 1024


class PcmCache:
    """Decoded PCM files in ``folder``, named by what was decoded and at which gain."""

    def __init__(self, folder: Path, *, max_bytes: int = MAX_BYTES, ffmpeg: str = "ffmpeg") -> None:
        self.folder = folder
        self._max_bytes = max_bytes
        self._ffmpeg = ffmpeg
        self._lock = threading.Lock()
        self._in_use: Counter[Path] = Counter()
        folder.mkdir(parents=True, exist_ok=True)
        for leftover in folder.glob(".tmp-*"):  # a decode cut by a crash
            leftover.unlink(missing_ok=True)

    def acquire(
        self, source: Source, *, gain: float, source_sha256: str | None
    ) -> tuple[Path, Callable[[], None]]:
        """PCM of ``source`` at ``gain``, and what to call once it is no longer needed."""
        key = _key(source, gain, source_sha256)
        if key is None:  # the rest of an interrupted item: decoded for this airing only
            temp = self._decode(source, gain)
            return temp, lambda: temp.unlink(missing_ok=True)
        path = self.folder / f"{key}.pcm"
        with self._lock:
            self._in_use[path] += 1
        try:
            if path.exists():
                os.utime(path)
            else:
                os.replace(self._decode(source, gain), path)
                self._evict()
        except BaseException:
            self._release(path)
            raise
        return path, lambda: self._release(path)

    def _decode(self, source: Source, gain: float) -> Path:
        temp = self.folder / f".tmp-{uuid.uuid4().hex}.pcm"
        try:
            _ffmpeg.decode(source, temp, gain=gain, ffmpeg=self._ffmpeg)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return temp

    def _release(self, path: Path) -> None:
        with self._lock:
            self._in_use[path] -= 1
            if self._in_use[path] <= 0:
                del self._in_use[path]

    def _evict(self) -> None:
        with self._lock:
            files = []
            for entry in os.scandir(self.folder):
                if entry.name.endswith(".pcm") and not entry.name.startswith("."):
                    stat = entry.stat()
                    files.append((stat.st_mtime, stat.st_size, Path(entry.path)))
            total = sum(size for _, size, _ in files)
            for _, size, path in sorted(files):
                if total <= self._max_bytes:
                    break
                if path not in self._in_use:
                    path.unlink(missing_ok=True)
                    total -= size
                    log.debug("decoded %s evicted", path.name)


def _key(source: Source, gain: float, source_sha256: str | None) -> str | None:
    level = round(gain * 1000)
    if source.kind == "file" and source_sha256 is not None and source.offset_ms == 0:
        return f"{source_sha256}-g{level}"
    if source.kind == "tone":
        return f"tone-{source.frequency_hz}-{source.duration_ms}-g{level}"
    return None
