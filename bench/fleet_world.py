"""A fleet's world before the controller starts: the province, villages, users, media, bulletins,
optional schedules, and every box registered and enrolled the way a real one is.

Enrolment is the registry's own (``controller.registry.register_box`` → one-time code →
``controller.registry.enroll`` with the box's own Ed25519 key, made in its folder by
``edge_agent.identity``), then each box's agent.toml is written from what enrolment returned and
the broker's password and ACL files from the registry (``BrokerSync``), as ``loa demo`` does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlmodel import Session, select

VILLAGE_SIZE = 8  # boxes per village; a commune has 10-17 boxes in real life, more here at scale
MEDIA_SECONDS = (2, 3, 4, 5)
OPUS = ["-c:a", "libopus", "-b:a", "32k", "-ac", "1"]  # the emergency bulletin uses the first (shortest) one
# Daily slots of the seeded schedules (local time): province-wide, then per commune.
PROVINCE_SLOTS = (clock_time(5, 30),)
COMMUNE_SLOTS = (clock_time(6), clock_time(11), clock_time(17))


@dataclass
class Seeded:
    """What the benchmarks need to know about the world."""

    users: dict[str, str]  # username -> password (bench-only, made per run)
    province_id: int
    province_code: str
    emergency_bulletin_id: int
    bulletin_ids: list[int]
    media: list[dict[str, Any]]  # sha256, bytes, duration_ms
    schedules: int
    seconds: dict[str, float] = field(default_factory=dict)


def make_media(folder: Path) -> list[tuple[Path, int]]:
    """Short Opus tones (real files: boxes hash them before 'playing'); (path, duration_ms)."""
    folder.mkdir(parents=True, exist_ok=True)
    command = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y"]
    made = []
    for n, seconds in enumerate(MEDIA_SECONDS):
        command += [
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency={440 + 110 * n}:sample_rate=48000:duration={seconds}",
        ]
    for n, seconds in enumerate(MEDIA_SECONDS):
        path = folder / f"tone-{seconds}s.ogg"
        command += ["-map", f"{n}:a", *OPUS, str(path)]
        made.append((path, seconds * 1000))
    subprocess.run(command, check=True)  # one ffmpeg for every file
    return made


def seed_world(settings: Any, *, boxes: int, box_root: Path, schedules: bool, device_id: Any) -> Seeded:
    """Everything in the database and on disk; ``device_id(i)`` names box i."""
    from audio import MediaStore
    from controller import registry
    from controller.db import make_engine, migrate
    from controller.models import Bulletin, Media, User, Zone
    from controller.seed import add_user, add_village, load_province
    from loa.demo import enrol_box
    from playlists.signing import load_or_create_private_key, public_key_b64

    seconds: dict[str, float] = {}
    t = time.monotonic()
    url = settings.resolved_database_url
    migrate(url)
    engine = make_engine(url)
    if url.startswith("sqlite"):

        @event.listens_for(engine, "connect")
        def _no_fsync(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            dbapi_connection.execute("PRAGMA synchronous=OFF")  # seeding is not measured

    controller_key = public_key_b64(
        load_or_create_private_key(settings.resolved_signing_key_path).public_key()
    )
    users = {"bench-admin": os.urandom(9).hex(), "bench-admin2": os.urandom(9).hex()}
    shared = box_root / "media-shared"
    store = MediaStore(settings.media_dir)
    media = []
    for path, duration_ms in make_media(settings.data_dir / "bench-media"):
        stored = store.put_file(path)
        shared.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, shared / stored.sha256)
        media.append({"sha256": stored.sha256, "bytes": path.stat().st_size, "duration_ms": duration_ms})
    seconds["setup_s"] = time.monotonic() - t
    with Session(engine) as session:
        province = load_province(session)
        province_id, province_code = province.id or 0, province.code
        communes = list(session.exec(select(Zone).where(Zone.kind == "commune").order_by(Zone.code)).all())
        for name, password in users.items():
            add_user(session, username=name, full_name=name, password=password, role="admin", commune_ids=[])
        admin = session.exec(select(User).where(User.username == "bench-admin")).one()
        for item in media:
            session.add(Media(**item, mime="audio/ogg", codec="opus"))
        session.commit()
        bulletin_ids = []
        for n, commune in enumerate([communes[0], *communes]):
            bulletin = Bulletin(
                commune_id=commune.id or 0,
                title="Cảnh báo khẩn cấp (thử)" if n == 0 else f"Bản tin {commune.name}",
                body="Kính thưa bà con.",
                category="emergency" if n == 0 else "legal",
                status="approved",
                author_id=admin.id or 0,
                approver_id=admin.id,
                text_sha256=os.urandom(32).hex(),
                media_sha256=media[n % len(media)]["sha256"],
            )
            session.add(bulletin)
            session.flush()
            bulletin_ids.append(bulletin.id or 0)
        session.commit()
        made = add_schedules(session, province, communes, bulletin_ids[1:], admin.id or 0) if schedules else 0
        t = time.monotonic()
        villages: dict[tuple[int, int], Zone] = {}
        for index in range(boxes):
            c, k = index % len(communes), index // len(communes)
            if (c, k // VILLAGE_SIZE) not in villages:
                villages[(c, k // VILLAGE_SIZE)] = add_village(
                    session,
                    commune=communes[c],
                    code=f"fv{c:03d}-{k // VILLAGE_SIZE}",
                    name=f"Thôn {k // 8 + 1}",
                )
        seconds["villages_s"] = time.monotonic() - t
        t = time.monotonic()
        for index in range(boxes):
            c, k = index % len(communes), index // len(communes)
            name = device_id(index)
            folder = box_root / "boxes" / name
            _device, code = registry.register_box(
                session,
                user=admin,
                device_id=name,
                name=f"Cụm loa {index + 1}",
                zone_id=villages[(c, k // VILLAGE_SIZE)].id or 0,
                code_hours=24,
            )
            enrol_box(session, code=code, folder=folder, settings=settings, controller_key=controller_key)
            (folder / "media").mkdir(exist_ok=True)
            for item in media:  # placed beforehand: the fleet fetches nothing
                os.link(shared / item["sha256"], folder / "media" / item["sha256"])
        seconds["enrol_s"] = time.monotonic() - t
        registry.BrokerSync(settings).apply(session)
    engine.dispose()
    return Seeded(
        users=users,
        province_id=province_id,
        province_code=province_code,
        emergency_bulletin_id=bulletin_ids[0],
        bulletin_ids=bulletin_ids[1:],
        media=media,
        schedules=made,
        seconds={k: round(v, 2) for k, v in seconds.items()},
    )


def add_schedules(
    session: Session, province: Any, communes: list[Any], bulletins: list[int], admin: int
) -> int:
    """Daily slots: one province-wide, three per commune (each with its commune's bulletin)."""
    from controller.models import Schedule
    from playlists.rules import Rule

    start = datetime.now(UTC) - timedelta(days=1)
    rows = []
    for at in PROVINCE_SLOTS:
        rows.append((province.id, bulletins[0], at))
    for commune, bulletin in zip(communes, bulletins, strict=True):
        rows += [(commune.id, bulletin, at) for at in COMMUNE_SLOTS]
    for zone_id, bulletin, at in rows:
        rule = Rule(kind="daily", start_date=start.date(), times=(at,))
        session.add(
            Schedule(
                bulletin_id=bulletin,
                target_kind="zone",
                target_zone_id=zone_id,
                rule_json=rule.model_dump_json(),
                starts_at=start,
                created_by=admin,
            )
        )
    session.commit()
    return len(rows)
