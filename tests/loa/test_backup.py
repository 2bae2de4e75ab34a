"""``loa backup`` / ``loa restore`` round trips on the test database (SQLite, or PostgreSQL with
TEST_DATABASE=postgresql): a snapshot taken while a writer inserts is consistent, a damaged or
truncated archive is refused before anything is touched, keys keep mode 0600."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlmodel import Session, select

from audio import MediaStore
from controller.db import make_engine, migrate
from controller.keys import Signer
from controller.leader import lock_for
from controller.models import Device, DeviceTimeline, User, Zone, utcnow
from controller.seed import add_user
from controller.settings import Settings
from loa.backup import BackupError, Sources, backup
from loa.restore import TIMELINE_VERSION_GAP, restore
from loa.restore_checks import RestoreRefused
from tests.databases import database_url

pytestmark = pytest.mark.integration


@dataclass
class Site:
    settings: Settings
    sources: Sources

    @property
    def store(self) -> MediaStore:
        return MediaStore(self.settings.media_dir)

    def usernames(self) -> set[str]:
        engine = make_engine(self.settings.resolved_database_url)
        try:
            with Session(engine) as session:
                return set(session.exec(select(User.username)).all())
        finally:
            engine.dispose()

    def files(self) -> dict[str, str]:
        """Every file of the media store and the keys, by path, with its sha256."""
        found = {}
        for folder in (self.settings.media_dir, self.settings.data_dir / "keys"):
            for path in sorted(folder.rglob("*")):
                if path.is_file() and ".incoming" not in path.parts:
                    found[str(path.relative_to(self.settings.data_dir))] = hashlib.sha256(
                        path.read_bytes()
                    ).hexdigest()
        return found


def make_site(folder: Path) -> Site:
    settings = Settings(data_dir=folder / "data", database_url=database_url(folder))
    migrate(settings.resolved_database_url)
    Signer.from_file(settings.resolved_signing_key_path)  # made on first use, mode 0600
    engine = make_engine(settings.resolved_database_url)
    with Session(engine) as session:
        for name in ("admin", "auditor"):
            add_user(
                session, username=name, full_name=name, password="pw-for-tests", role=name, commune_ids=[]
            )
    engine.dispose()
    site = Site(settings, Sources.from_settings(settings))
    for n in range(3):
        site.store.put_bytes(f"bulletin audio {n}".encode() * 1000)
    return site


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return make_site(tmp_path)


def change_everything(site: Site) -> None:
    """What happens after a backup: a new user, new media, lost media, a different key."""
    engine = make_engine(site.settings.resolved_database_url)
    with Session(engine) as session:
        add_user(
            session, username="late", full_name="late", password="pw-for-tests", role="admin", commune_ids=[]
        )
    engine.dispose()
    site.store.put_bytes(b"recorded after the backup")
    next(p for p in site.settings.media_dir.rglob("*") if p.is_file() and len(p.name) == 64).unlink()
    site.settings.resolved_signing_key_path.write_bytes(b"not the key")


def test_round_trip_brings_back_database_media_and_keys(site: Site, tmp_path: Path) -> None:
    before_users, before_files = site.usernames(), site.files()
    archive = tmp_path / "loa.tar"

    manifest = backup(site.sources, archive)
    change_everything(site)
    restored = restore(site.sources, archive)

    assert site.usernames() == before_users == {"admin", "auditor"}
    assert site.files() == before_files
    assert restored.manifest["database"]["alembic_revision"] == manifest["database"]["alembic_revision"]
    key = site.settings.resolved_signing_key_path
    assert key.stat().st_mode & 0o777 == 0o600
    Signer.from_file(key)  # the restored key loads
    assert restored.previous is not None and (restored.previous / "media").is_dir()  # moved aside, not lost


def test_restored_timelines_jump_past_what_boxes_accepted_since(site: Site, tmp_path: Path) -> None:
    engine = make_engine(site.settings.resolved_database_url)
    with Session(engine) as session:
        zone = Zone(code="v1", name="Thôn 1", kind="village")
        session.add(zone)
        session.flush()
        session.add(Device(id="box-1", name="box-1", zone_id=zone.id or 0))
        session.flush()
        session.add(
            DeviceTimeline(
                device_id="box-1", version=7, content_sha256="a" * 64, valid_until=utcnow(), envelope="{}"
            )
        )
        session.commit()
    engine.dispose()  # a stopped controller holds no connection to the file a restore replaces
    backup(site.sources, tmp_path / "loa.tar")

    restore(site.sources, tmp_path / "loa.tar")

    engine = make_engine(site.settings.resolved_database_url)
    with Session(engine) as session:
        row = session.get(DeviceTimeline, "box-1")
        assert row is not None
        # Above anything the box accepted after the backup; an empty hash makes the next compile publish.
        assert row.version == 7 + TIMELINE_VERSION_GAP and row.content_sha256 == ""
    engine.dispose()


def test_manifest_names_every_file_with_its_checksum(site: Site, tmp_path: Path) -> None:
    manifest = backup(site.sources, tmp_path / "loa.tar")

    media = [f for f in manifest["files"] if f["path"].startswith("media/")]
    assert len(media) == 3
    assert all(f["path"].endswith(f["sha256"]) for f in media)
    assert [f["mode"] for f in manifest["files"] if f["path"].startswith("keys/")] == ["0600"]
    assert manifest["database"]["kind"] in ("sqlite", "postgresql")
    assert manifest["format"] == "loa-backup" and manifest["loa_version"]
    with tarfile.open(tmp_path / "loa.tar") as tar:
        assert tar.getnames()[-1] == "manifest.json"  # written last: a truncated archive has none


def test_backup_taken_while_a_writer_inserts_is_one_consistent_snapshot(site: Site, tmp_path: Path) -> None:
    engine = make_engine(site.settings.resolved_database_url)
    stop, written = threading.Event(), [0]

    def writer() -> None:
        # One row per transaction, numbered in order: a consistent snapshot holds exactly 1..k.
        while not stop.is_set():
            with Session(engine) as session:
                session.add(Zone(code=f"w-{written[0] + 1}", name="row", kind="village"))
                session.commit()
            written[0] += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while written[0] < 20:
            stop.wait(0.01)
        backup(site.sources, tmp_path / "loa.tar")
        at_backup = written[0]
        while written[0] < at_backup + 20:  # the writer goes on after the snapshot
            stop.wait(0.01)
    finally:
        stop.set()
        thread.join()
    engine.dispose()

    restore(site.sources, tmp_path / "loa.tar")

    engine = make_engine(site.settings.resolved_database_url)
    with Session(engine) as session:
        numbers = sorted(int(z.code[2:]) for z in session.exec(select(Zone).where(Zone.kind == "village")))
    engine.dispose()
    assert numbers == list(range(1, len(numbers) + 1))
    assert 20 <= len(numbers) < written[0]


def _flip_a_byte_of(archive: Path, member_prefix: str) -> None:
    with tarfile.open(archive) as tar:
        member = next(m for m in tar.getmembers() if m.name.startswith(member_prefix))
    with archive.open("r+b") as handle:
        handle.seek(member.offset_data + member.size // 2)
        byte = handle.read(1)
        handle.seek(-1, os.SEEK_CUR)
        handle.write(bytes([byte[0] ^ 0xFF]))


@pytest.mark.parametrize("damage", ["media", "database", "truncated"])
def test_damaged_archive_is_refused_and_nothing_is_touched(site: Site, tmp_path: Path, damage: str) -> None:
    archive = tmp_path / "loa.tar"
    backup(site.sources, archive)
    change_everything(site)
    users, files = site.usernames(), site.files()
    if damage == "truncated":
        with archive.open("r+b") as handle:
            handle.truncate(archive.stat().st_size * 2 // 3)
    else:
        _flip_a_byte_of(archive, f"{damage}/")

    with pytest.raises(BackupError):
        restore(site.sources, archive)

    assert site.usernames() == users
    assert site.files() == files
    assert not list(site.settings.data_dir.glob(".restore-*"))  # the staging folder is gone


def test_restore_refuses_while_a_controller_holds_the_leader_lock(site: Site, tmp_path: Path) -> None:
    archive = tmp_path / "loa.tar"
    backup(site.sources, archive)
    engine = make_engine(site.settings.resolved_database_url)
    running = lock_for(engine, site.settings.data_dir)
    assert running.try_acquire()
    try:
        with pytest.raises(RestoreRefused, match="controller is running"):
            restore(site.sources, archive)
    finally:
        running.release()
        engine.dispose()


def test_cli_backup_and_restore(site: Site, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "LOA_DATA_DIR": str(site.settings.data_dir),
        "LOA_DATABASE_URL": site.settings.resolved_database_url,
    }
    archive = tmp_path / "cli.tar"
    run = [sys.executable, "-m", "loa"]

    made = subprocess.run(
        [*run, "backup", str(archive)], env=env, capture_output=True, text=True, timeout=120
    )
    assert made.returncode == 0, made.stderr
    assert "3 media files" in made.stdout

    change_everything(site)
    back = subprocess.run(
        [*run, "restore", str(archive)], env=env, capture_output=True, text=True, timeout=120
    )
    assert back.returncode == 0, back.stderr
    assert site.usernames() == {"admin", "auditor"}

    archive.write_bytes(archive.read_bytes()[:2048])
    refused = subprocess.run(
        [*run, "restore", str(archive)], env=env, capture_output=True, text=True, timeout=120
    )
    assert refused.returncode == 1
    assert refused.stderr.startswith("loa restore: ") and "Traceback" not in refused.stderr
