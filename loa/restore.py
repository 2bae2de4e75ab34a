"""``loa restore``: a backup archive (``loa/backup.py``) put back in place of the controller's data.

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
import json
import os
import shutil
import sqlite3
import tarfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import text

from audio.store import copy_durably
from loa import pgtools
from loa.backup import (
    FOLDERS,
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    RENDER_CACHE_INDEX,
    SHA256_NAME,
    BackupError,
    Sources,
    fsync_dir,
    sqlite_revision,
)
from loa.restore_checks import check_no_controller_runs, check_revision_known


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
        len(name.parts) != 3 or not SHA256_NAME.fullmatch(name.name) or name.parts[1] != name.name[:2]
    ):
        raise BackupError(f"media file {member.name!r} is not named by a sha256")
    target = staging.joinpath(*name.parts)
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    source = tar.extractfile(member)
    if source is None:
        raise BackupError(f"cannot read {member.name!r}")
    with target.open("wb") as out:
        actual, size = copy_durably(source, out)
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
    if sqlite_revision(path) != revision:
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
        fsync_dir(live.parent)
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
