"""``loa backup`` and ``loa restore``: the database, the media store and the keys in one tar file.

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

A restore checks everything before it touches anything: the manifest must be there (a truncated
archive has none), every member must be listed in it with its size and sha256, every media file must
be named by its own hash, and the database copy must be readable at a migration this Loa knows. It
unpacks into a folder beside the data, and only then swaps folders by renaming; the previous data is
moved aside, never deleted. A PostgreSQL database is replaced in one transaction. Afterwards every
box's timeline version jumps ahead (``TIMELINE_VERSION_GAP``), so that boxes, which never go back
to a lower version, accept the timelines the restored controller publishes.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import platform
import re
import shutil
import sqlite3
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

from loa import __version__, pgtools
from loa.restore_checks import check_no_controller_runs, check_revision_known

FORMAT = "loa-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
RENDER_CACHE_INDEX = "render-cache.json"  # audio.cache.INDEX_NAME
# Folders of data_dir copied whole (plain files, modes kept): the keys, controller.checkpoints.FOLDER.
FOLDERS = ("keys", "checkpoints")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1024 * 1024


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
            _fsync_dir(out.parent)
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
        revision = _sqlite_revision(target)
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


def _sqlite_revision(path: Path) -> str | None:
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
                if _SHA256.fullmatch(path.name) and path.name[:2] == shard.name and _regular(path):
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


# --- restore --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Restored:
    manifest: dict[str, Any]
    previous: Path | None  # where the data that was replaced now is


def restore(sources: Sources, archive: Path) -> Restored:
    """Check the whole archive, unpack it beside the data, then swap it in; nothing is overwritten
    before every check has passed."""
    sources.data_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    staging = sources.data_dir / f".restore-{stamp}"
    staging.mkdir(mode=0o700)
    try:
        manifest = _unpack(archive, staging)
        database = manifest["database"]
        if database.get("kind") != sources.kind:
            raise BackupError(
                f"the backup holds a {database.get('kind')} database but LOA_DATABASE_URL is {sources.kind}"
            )
        check_revision_known(sources.database_url, database.get("alembic_revision"))
        staged_db = staging / database["path"]
        if sources.kind == "sqlite":
            _check_sqlite_copy(staged_db, database.get("alembic_revision"))
        else:
            pgtools.check_dump(staged_db)
        with check_no_controller_runs(sources.database_url, sources.data_dir):
            if sources.kind == "postgresql":
                pgtools.replace_database(sources.database_url, staged_db)  # one transaction
            previous = _swap_in(sources, staging, manifest, stamp)
            _advance_timeline_versions(sources.database_url)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Restored(manifest=manifest, previous=previous)


def _unpack(archive: Path, staging: Path) -> dict[str, Any]:
    """Every member checked against the manifest and written under ``staging``; the manifest."""
    try:
        with tarfile.open(archive, "r:") as tar:
            members = tar.getmembers()
            by_name = {m.name: m for m in members}
            if len(by_name) != len(members):
                raise BackupError("the archive lists a file twice")
            if MANIFEST not in by_name:
                raise BackupError("no manifest: the archive is incomplete or not a Loa backup")
            manifest = _read_manifest(tar, by_name.pop(MANIFEST))
            expected = {entry["path"]: entry for entry in [manifest["database"], *manifest["files"]]}
            if set(by_name) != set(expected):
                missing, extra = sorted(set(expected) - set(by_name)), sorted(set(by_name) - set(expected))
                raise BackupError(
                    f"the archive does not match its manifest (missing {missing[:3]}, extra {extra[:3]})"
                )
            for name, entry in expected.items():
                _extract(tar, by_name[name], entry, staging)
    except (tarfile.TarError, EOFError) as exc:
        raise BackupError(f"the archive is damaged or truncated ({exc})") from None
    return manifest


def _read_manifest(tar: tarfile.TarFile, member: tarfile.TarInfo) -> dict[str, Any]:
    handle = tar.extractfile(member)
    try:
        manifest = json.loads(handle.read()) if handle is not None else None
    except ValueError:
        manifest = None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError("the manifest is not a Loa backup manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError(f"backup format {manifest.get('format_version')} is not known to this Loa")
    if not isinstance(manifest.get("database"), dict) or not isinstance(manifest.get("files"), list):
        raise BackupError("the manifest is incomplete")
    return manifest


def _extract(tar: tarfile.TarFile, member: tarfile.TarInfo, entry: dict[str, Any], staging: Path) -> None:
    name = PurePosixPath(member.name)
    top = name.parts[0] if name.parts else ""
    if not member.isreg() or name.is_absolute() or ".." in name.parts or top not in _TOPS:
        raise BackupError(f"unexpected member {member.name!r}")
    content_addressed = top == "media" and name.name != RENDER_CACHE_INDEX
    if content_addressed and (
        len(name.parts) != 3 or not _SHA256.fullmatch(name.name) or name.parts[1] != name.name[:2]
    ):
        raise BackupError(f"media file {member.name!r} is not named by a sha256")
    target = staging.joinpath(*name.parts)
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    source = tar.extractfile(member)
    if source is None:
        raise BackupError(f"cannot read {member.name!r}")
    digest, size = hashlib.sha256(), 0
    with target.open("wb") as out:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
        out.flush()
        os.fsync(out.fileno())
    actual = digest.hexdigest()
    if size != entry.get("bytes") or actual != entry.get("sha256"):
        raise BackupError(f"{member.name} does not match its checksum: the archive is damaged")
    if content_addressed and actual != name.name:
        raise BackupError(f"{member.name} does not hold the media its name says")
    os.chmod(target, int(str(entry.get("mode", "0600")), 8) & 0o777)


_TOPS = ("database", "media", *FOLDERS, "signing-key")


def _check_sqlite_copy(path: Path, revision: str | None) -> None:
    try:
        with contextlib.closing(sqlite3.connect(path)) as db:
            (result,) = db.execute("PRAGMA integrity_check").fetchone()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"the database in the archive cannot be read: {exc}") from None
    if result != "ok":
        raise BackupError(f"the database in the archive is damaged: {result}")
    if _sqlite_revision(path) != revision:
        raise BackupError("the database in the archive is not at the migration its manifest says")


def _swap_in(sources: Sources, staging: Path, manifest: dict[str, Any], stamp: str) -> Path | None:
    """Move the current data aside and the staged data in, by renames; the folder moved aside."""
    previous = sources.data_dir / f"restore-previous-{stamp}"
    moves: list[tuple[Path, Path]] = []  # (staged, live)
    if sources.kind == "sqlite":
        live_db = sources.sqlite_path
        staged = live_db.with_name(f".{live_db.name}.restore-{stamp}")
        shutil.move(staging / manifest["database"]["path"], staged)  # same filesystem as the live one
        moves.append((staged, live_db))
    for folder in ("media", *FOLDERS):
        staged_folder = staging / folder
        staged_folder.mkdir(exist_ok=True, mode=0o700)
        moves.append((staged_folder, sources.data_dir / folder))
    key_entry = manifest.get("signing_key")
    if key_entry and key_entry.startswith("signing-key/"):
        moves.append((staging / key_entry, sources.signing_key))
    owner = _owner_of(sources.data_dir)
    for staged, _live in moves:
        _chown_tree(staged, owner)
    (staging / "keys").chmod(0o700)
    moved_aside = False
    for staged, live in moves:
        olds = [live]
        if sources.kind == "sqlite" and live == sources.sqlite_path:
            olds += [live.with_name(live.name + suffix) for suffix in ("-wal", "-shm")]
        for old in olds:
            if old.exists():
                previous.mkdir(exist_ok=True, mode=0o700)
                os.replace(old, previous / old.name)
                moved_aside = True
        live.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, live)
        _fsync_dir(live.parent)
    return previous if moved_aside else None


# Boxes refuse a timeline whose version is not above the last one they accepted (rollback
# protection), and since the backup they have accepted newer ones. Every stored version jumps this
# far ahead, and its content hash is cleared so that the next compile publishes it again.
TIMELINE_VERSION_GAP = 1_000_000


def _advance_timeline_versions(database_url: str) -> None:
    from sqlmodel import create_engine

    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text("UPDATE devicetimeline SET version = version + :gap, content_sha256 = ''"),
                {"gap": TIMELINE_VERSION_GAP},
            )
    finally:
        engine.dispose()


def _owner_of(folder: Path) -> tuple[int, int] | None:
    """Restored files belong to whoever owns the data folder (the service's user), when we are root."""
    if os.geteuid() != 0:
        return None
    info = folder.stat()
    return info.st_uid, info.st_gid


def _chown_tree(path: Path, owner: tuple[int, int] | None) -> None:
    if owner is None:
        return
    os.chown(path, *owner)
    if path.is_dir():
        for child in path.rglob("*"):
            os.chown(child, *owner)


def _fsync(path: Path) -> None:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
