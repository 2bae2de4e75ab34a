"""The content-addressed media store: every file is named by the sha256 of its bytes.

Layout ``root/<sha[:2]>/<sha>``. Files are whole or absent: bytes go to ``root/.incoming/`` first,
are hashed while they are written, fsynced, then renamed into place and the folder fsynced.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

_SHA256 = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1024 * 1024
_INCOMING = ".incoming"


@dataclass(frozen=True)
class StoredMedia:
    """A file in the store."""

    sha256: str
    path: Path
    bytes: int


def copy_durably(source: BinaryIO, out: BinaryIO) -> tuple[str, int]:
    """Copy ``source`` into ``out`` and fsync it; the sha256 and the size of what was copied."""
    digest, size = hashlib.sha256(), 0
    while chunk := source.read(_CHUNK):
        digest.update(chunk)
        out.write(chunk)
        size += len(chunk)
    out.flush()
    os.fsync(out.fileno())
    return digest.hexdigest(), size


class MediaStore:
    """Immutable media files addressed by sha256, safe to serve by hash from a URL."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path_for(self, sha256: str) -> Path:
        """Where the file with this hash lives; ValueError unless it is 64 lowercase hex digits."""
        if not isinstance(sha256, str) or _SHA256.fullmatch(sha256) is None:
            raise ValueError(f"not a sha256 (64 lowercase hex digits): {sha256!r:.80}")
        return self.root / sha256[:2] / sha256

    def has(self, sha256: str) -> bool:
        """Whether the store holds the file with this hash."""
        return self.path_for(sha256).is_file()

    def open(self, sha256: str) -> BinaryIO:
        """Open the stored file for reading; FileNotFoundError if it is not there."""
        return self.path_for(sha256).open("rb")

    def put_file(self, src: Path) -> StoredMedia:
        """Copy ``src`` into the store, hashing it on the way; storing the same bytes again is a no-op."""
        with Path(src).open("rb") as source:
            return self._put(source)

    def put_bytes(self, data: bytes) -> StoredMedia:
        """Store ``data``; storing the same bytes again is a no-op."""
        sha256 = hashlib.sha256(data).hexdigest()
        existing = self._existing(sha256, len(data))
        if existing is not None:
            return existing
        return self._put(io.BytesIO(data))

    def _existing(self, sha256: str, size: int) -> StoredMedia | None:
        path = self.path_for(sha256)
        try:
            whole = path.stat().st_size == size
        except FileNotFoundError:
            return None
        return StoredMedia(sha256=sha256, path=path, bytes=size) if whole else None

    def _put(self, source: BinaryIO) -> StoredMedia:
        incoming = self.root / _INCOMING
        incoming.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(suffix=".part", dir=incoming)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                # Served read-only to boxes and the panel; mkstemp would make it 0600.
                os.fchmod(out.fileno(), 0o644)
                sha256, size = copy_durably(source, out)
            existing = self._existing(sha256, size)
            if existing is not None:
                tmp.unlink()
                return existing
            dst = self.path_for(sha256)
            new_shard = not dst.parent.is_dir()
            dst.parent.mkdir(exist_ok=True)
            os.replace(tmp, dst)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(dst.parent)
        if new_shard:
            _fsync_dir(self.root)
        return StoredMedia(sha256=sha256, path=dst, bytes=size)


def _fsync_dir(folder: Path) -> None:
    """Make a rename or a new entry in ``folder`` durable."""
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
