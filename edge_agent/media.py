"""The content-addressed media cache: verified, whole or absent (invariant 5), within a disk quota.

``media/<sha256>`` exists only once its bytes hashed to its name; a download in progress lives in
``media/<sha256>.part`` (see edge_agent/fetch.py). When a new file would not fit under the quota,
media no longer referenced by the timeline (or a running command) is evicted, least recently played
first; referenced media is never evicted, so what does not fit is reported missing instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import threading
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from playlists.wire import MediaRef

log = logging.getLogger(__name__)

_NAME = re.compile(r"^([0-9a-f]{64})(\.part)?$")


class MediaUnavailable(Exception):
    """Media that cannot be played; ``reason`` goes into the receipt (media_missing, hash_mismatch)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class CachedFile:
    sha256: str
    path: Path
    size: int
    used_at: float  # mtime: set when stored and every time the file is played


class MediaCache:
    """Verified media files named by their sha256, within ``quota_bytes``."""

    def __init__(self, folder: Path, *, quota_bytes: int | None = None) -> None:
        self.folder = folder
        self.quota_bytes = quota_bytes
        self._lock = threading.Lock()
        folder.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        return self.folder / sha256

    def part_path(self, sha256: str) -> Path:
        return self.folder / f"{sha256}.part"

    def has(self, ref: MediaRef) -> bool:
        """Cheap presence check (the hash was checked when the file was stored)."""
        try:
            return self.path(ref.sha256).stat().st_size == ref.bytes
        except OSError:
            return False

    def verified_path(self, ref: MediaRef) -> Path:
        """The file, re-hashed just before use; a file that no longer matches is deleted."""
        path = self.path(ref.sha256)
        try:
            actual = sha256_file(path)
        except FileNotFoundError:
            raise MediaUnavailable("media_missing", f"{ref.sha256} is not in the cache") from None
        except OSError as exc:
            raise MediaUnavailable("media_missing", f"{ref.sha256} unreadable: {exc}") from None
        if actual != ref.sha256:
            log.error("cached media %s hashes to %s; deleted", ref.sha256, actual)
            path.unlink(missing_ok=True)
            raise MediaUnavailable("hash_mismatch", f"{ref.sha256} hashes to {actual}")
        with contextlib.suppress(OSError):
            os.utime(path)  # least recently *played* is evicted first
        return path

    def files(self) -> list[CachedFile]:
        """Everything in the cache folder, finished or partial."""
        found = []
        for entry in os.scandir(self.folder):
            match = _NAME.match(entry.name)
            if match is None:
                continue
            try:
                stat = entry.stat()
            except OSError:
                continue
            found.append(CachedFile(match.group(1), Path(entry.path), stat.st_size, stat.st_mtime))
        return found

    def usage_bytes(self) -> int:
        return sum(file.size for file in self.files())

    def make_room(self, needed: int, keep: Collection[str]) -> bool:
        """Evict media not in ``keep`` (least recently used first) until ``needed`` more bytes fit."""
        if self.quota_bytes is None:
            return True
        with self._lock:
            files = self.files()
            used = sum(file.size for file in files)
            if used + needed <= self.quota_bytes:
                return True
            for file in sorted((f for f in files if f.sha256 not in keep), key=lambda f: f.used_at):
                file.path.unlink(missing_ok=True)
                used -= file.size
                log.info("media %s evicted (%d bytes, no longer in the timeline)", file.sha256, file.size)
                if used + needed <= self.quota_bytes:
                    return True
        log.warning(
            "media cache full: %d bytes more do not fit in the %d-byte quota", needed, self.quota_bytes
        )
        return False
