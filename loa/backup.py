"""``loa backup``: the database, the media store and the keys in one tar file.

A backup is taken while the controller runs. The database is copied first, as one consistent
snapshot (SQLite's online backup API; ``pg_dump``, which reads in one repeatable-read transaction);
the media store after it. Media files are written before the rows that name them and never change
or go away, so every file the snapshot refers to is in the archive.

Archive layout (plain tar; Opus files do not compress)::

    database/loa.sqlite3 | database/loa.pgdump   the snapshot (pg_dump's custom format)
    media/<sha[:2]>/<sha256>                     content-addressed media, named by their hash
    media/render-cache.json                      the render cache's index, if there is one
    keys/<name>                                  data_dir/keys (the controller's signing key), modes kept
    checkpoints/<day>.json                       the signed daily audit checkpoints handed out
    signing-key/<name>                           the signing key, when LOA_SIGNING_KEY_PATH is elsewhere
    manifest.json                                written last: versions, and every file's sha256 and size

Restoring one: ``loa/restore.py``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import platform
import re
import sqlite3
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

from loa import __version__, pgtools

FORMAT = "loa-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
RENDER_CACHE_INDEX = "render-cache.json"  # audio.cache.INDEX_NAME
# Folders of data_dir copied whole (plain files, modes kept): the keys, controller.checkpoints.FOLDER.
FOLDERS = ("keys", "checkpoints")
SHA256_NAME = re.compile(r"[0-9a-f]{64}")


class BackupError(RuntimeError):
    """The backup or restore cannot be done; the message says why in one line."""


@dataclass(frozen=True)
class Sources:
    """Where the controller keeps what a backup holds (from its settings)."""

    database_url: str
    data_dir: Path
    signing_key: Path

    @classmethod
    def from_settings(cls, settings: Any) -> Sources:
        return cls(settings.resolved_database_url, settings.data_dir, settings.resolved_signing_key_path)

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def kind(self) -> str:
        backend = make_url(self.database_url).get_backend_name()
        if backend not in ("sqlite", "postgresql"):
            raise BackupError(f"cannot back up a {backend} database (SQLite and PostgreSQL only)")
        return backend

    @property
    def sqlite_path(self) -> Path:
        database = make_url(self.database_url).database
        if not database or database == ":memory:":
            raise BackupError("the SQLite database is not a file")
        return Path(database)

    @property
    def signing_key_outside_keys(self) -> bool:
        return self.signing_key.parent.resolve() != self.keys_dir.resolve()


# --- backup ---------------------------------------------------------------------------------------


def backup(sources: Sources, out: Path) -> dict[str, Any]:
    """Write the archive to ``out`` (temp → fsync → rename: whole or absent); returns its manifest."""
    out = out.resolve()
    partial = out.with_name(f".{out.name}.partial")
    with tempfile.TemporaryDirectory(prefix="loa-backup-", dir=out.parent) as scratch:
        database = _snapshot(sources, Path(scratch))
        try:
            with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
                db_entry = _add(tar, database["path"], Path(scratch) / Path(database["path"]).name)
                files = [_add(tar, name, path) for name, path in _files_to_back_up(sources)]
                manifest = {
                    "format": FORMAT,
                    "format_version": FORMAT_VERSION,
                    "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "loa_version": __version__,
                    "python": platform.python_version(),
                    "database": {**database, **db_entry},
                    "signing_key": _signing_key_entry(sources),
                    "files": files,
                }
                raw = json.dumps(manifest, indent=1, sort_keys=True).encode()
                info = tarfile.TarInfo(MANIFEST)
                info.size, info.mode, info.mtime = len(raw), 0o600, int(datetime.now(UTC).timestamp())
                tar.addfile(info, io.BytesIO(raw))
            _fsync(partial)
            os.replace(partial, out)
            fsync_dir(out.parent)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    return manifest


def _snapshot(sources: Sources, scratch: Path) -> dict[str, Any]:
    """Copy the database into ``scratch``; returns the manifest's database entry (path and migration)."""
    if sources.kind == "sqlite":
        source = sources.sqlite_path
        if not source.is_file():
            raise BackupError(f"no database at {source} (run `loa migrate` first?)")
        target = scratch / "loa.sqlite3"
        _sqlite_snapshot(source, target)
        revision = sqlite_revision(target)
        return {"kind": "sqlite", "path": "database/loa.sqlite3", "alembic_revision": revision}
    target = scratch / "loa.pgdump"
    revision = _postgres_revision(sources.database_url)
    version = pgtools.dump(sources.database_url, target)
    return {
        "kind": "postgresql",
        "path": "database/loa.pgdump",
        "alembic_revision": revision,
        "tool": version,
    }


def _sqlite_snapshot(source: Path, target: Path) -> None:
    """One consistent copy while writers go on: the online backup API, in a single step."""
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)  # pages=-1: the whole database in one step, one read transaction
        dst.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
        (result,) = dst.execute("PRAGMA integrity_check").fetchone()
        if result != "ok":
            raise BackupError(f"the database copy is damaged: {result}")
    finally:
        dst.close()
        src.close()


def sqlite_revision(path: Path) -> str | None:
    with contextlib.closing(sqlite3.connect(path)) as db:
        try:
            row = db.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.DatabaseError:
            return None
    return str(row[0]) if row else None


def _postgres_revision(url: str) -> str | None:
    from sqlmodel import create_engine

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except Exception as exc:
        raise BackupError(f"cannot read the database: {str(exc).splitlines()[0]}") from None
    finally:
        engine.dispose()


def _files_to_back_up(sources: Sources) -> Iterator[tuple[str, Path]]:
    media = sources.media_dir
    if media.is_dir():
        shards = sorted(p for p in media.iterdir() if p.is_dir() and re.fullmatch(r"[0-9a-f]{2}", p.name))
        for shard in shards:
            for path in sorted(shard.iterdir()):
                if SHA256_NAME.fullmatch(path.name) and path.name[:2] == shard.name and _regular(path):
                    yield f"media/{shard.name}/{path.name}", path
        if _regular(media / RENDER_CACHE_INDEX):
            yield f"media/{RENDER_CACHE_INDEX}", media / RENDER_CACHE_INDEX
    for folder in FOLDERS:
        root = sources.data_dir / folder
        if root.is_dir():
            for path in sorted(root.rglob("*")):
                if _regular(path):
                    yield f"{folder}/{path.relative_to(root).as_posix()}", path
    if sources.signing_key_outside_keys and _regular(sources.signing_key):
        yield f"signing-key/{sources.signing_key.name}", sources.signing_key


def _signing_key_entry(sources: Sources) -> str | None:
    if sources.signing_key_outside_keys:
        return f"signing-key/{sources.signing_key.name}" if _regular(sources.signing_key) else None
    return f"keys/{sources.signing_key.relative_to(sources.keys_dir).as_posix()}"


def _regular(path: Path) -> bool:
    return path.is_file() and not path.is_symlink()


def _add(tar: tarfile.TarFile, name: str, path: Path) -> dict[str, Any]:
    """Add one file, hashing it as it is copied; returns its manifest entry."""
    info = tar.gettarinfo(str(path), arcname=name)
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode &= 0o777
    with path.open("rb") as handle:
        reader = _HashingReader(handle)
        tar.addfile(info, reader)
    return {"path": name, "bytes": info.size, "sha256": reader.hexdigest(), "mode": f"{info.mode:04o}"}


class _HashingReader(io.RawIOBase):
    def __init__(self, source: IO[bytes]) -> None:
        self._source = source
        self._digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        chunk = self._source.read(size)
        self._digest.update(chunk)
        return chunk

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


def _fsync(path: Path) -> None:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
