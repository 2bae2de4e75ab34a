"""The province-year that bench/reports.py reports on: its registry, a sample made by the real code,
and the rest generated in bulk by SQL that mirrors it (checked against the sample).

Every box airs nine items a day (two provincial relays, six commune slots, one village slot); what
happened to each is a pure function of (box, day, slot) — ``outcome`` here, the same formula in SQL
in ``bulk`` — so the sample and the bulk describe one consistent year.
"""

from __future__ import annotations

import hashlib
import json
import time as time_module
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, event, insert, text
from sqlmodel import Session, select

from controller import uptime
from controller.asrun_facts import Places
from controller.asrun_fold import AsRunFold
from controller.keys import Signer
from controller.models import (
    Bulletin,
    Device,
    DeviceHealth,
    Media,
    Occurrence,
    Playlist,
    Schedule,
    User,
    UserZone,
    Zone,
)
from controller.receipts import handle_report
from controller.seed import load_province
from controller.timelines import TimelinePublisher
from playlists.rules import Rule
from playlists.signing import public_key_b64, sign
from playlists.wire import Receipt as ReceiptDoc
from playlists.wire import Topics

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
FIRST_DAY = date(2026, 1, 1)
SAMPLE_DAYS = 2
# (local time, category, seconds, target): relays are streams; the 20:45 slot is in the commune's language.
SLOTS = [
    (time(5, 30), "relay", 1800, "province"),
    (time(6, 0), "legal", 360, "commune"),
    (time(6, 15), "notice", 180, "commune"),
    (time(11, 0), "policy", 300, "commune"),
    (time(17, 0), "legal", 360, "commune"),
    (time(17, 15), "notice", 180, "commune"),
    (time(18, 0), "relay", 1800, "province"),
    (time(19, 0), "notice", 180, "village"),
    (time(20, 45), "legal", 360, "commune"),
]
ETHNIC = ("thai", "mong", "khmu")
RELAY_URL = "http://radio.example.vn/vov1"


def language_of(commune: int) -> str:
    """Every fourth commune airs its 20:45 slot in a minority language."""
    return ETHNIC[commune % 3] if commune % 4 == 1 else "vi"


def outcome(num: int, day: int, slot: int, seconds: int) -> tuple[str, int, str | None]:
    """(state, seconds aired, reason) of box ``num``'s ``slot`` on ``day``: 93 % aired, 2 % partly,
    1 % failed, 2 % skipped, 2 % missing. Mirrored by ``H`` and ``STATE`` in the bulk SQL."""
    h = (num * 7919 + day * 104729 + slot * 1299709) % 1000
    if h < 930:
        return "aired", seconds, None
    if h < 950:
        return "partial", seconds * (1 + h % 9) // 10, "preempted:s0-0-0"
    if h < 960:
        return "failed", 0, "media_missing"
    if h < 980:
        return "skipped", 0, "late"
    return "missing", 0, None


def outage(num: int, day: int) -> tuple[int, int]:
    """(start, end) seconds after local midnight the box was offline: 90 % of days none, 8 % one to
    four hours from 10:00, 2 % the whole day. Mirrored by ``UPTIME`` in the bulk SQL."""
    h = (num * 31 + day * 17) % 100
    if h < 90:
        return 0, 0
    if h < 98:
        return 36000, 36000 + 3600 * (1 + h % 4)
    return 0, 86400


def clock_offset(num: int) -> float:
    """A box's reported clock offset (ms): a few drift by seconds, the rest stay within 0.1 s."""
    return 1500.0 + (num % 7) * 300 if num % 97 == 0 else float((num % 50) * 2)


@dataclass
class Province:
    """The registry as seeded: boxes in order (their number is their index), their zones, the plan."""

    boxes: list[tuple[str, int, int, int]] = field(
        default_factory=list
    )  # id, commune index, zone, commune id
    plan: list[tuple[str, int, int, int | None, str]] = field(
        default_factory=list
    )  # box, slot, schedule, bulletin, lang
    keys: dict[str, Ed25519PrivateKey] = field(default_factory=dict)
    communes: list[int] = field(default_factory=list)
    editor: str = "editor0"

    def sample(self) -> list[str]:
        """The boxes of the first commune: their first days are made by the real code."""
        return [b for b, c, _z, _cid in self.boxes if c == 0]


def seed(engine: Engine, *, boxes: int, communes: int) -> Province:
    """Zones (Nghệ An's real communes, 3–5 villages each), boxes, users, bulletins and daily schedules."""
    province = Province()
    with Session(engine) as session:
        top = load_province(session)
        all_communes = session.exec(select(Zone).where(Zone.kind == "commune").order_by(Zone.code)).all()
        chosen = list(all_communes[:communes])
        admin = User(username="admin", full_name="admin", password_hash="x", role="admin")
        auditor = User(username="auditor", full_name="auditor", password_hash="x", role="auditor")
        editor = User(username=province.editor, full_name="editor", password_hash="x", role="editor")
        session.add_all([admin, auditor, editor])
        session.flush()
        session.add(UserZone(user_id=editor.id or 0, zone_id=chosen[0].id or 0))
        relay = Playlist(
            name="VOV1",
            created_by=admin.id or 0,
            entries_json=json.dumps([{"kind": "stream", "stream_url": RELAY_URL, "duration_ms": 1_800_000}]),
        )
        session.add(relay)
        session.flush()
        start = datetime.combine(FIRST_DAY, time(0), HCM).astimezone(UTC)

        def daily(
            slot: int, zone_id: int, *, bulletin_id: int | None = None, playlist_id: int | None = None
        ) -> int:
            rule = Rule(kind="daily", start_date=FIRST_DAY, times=(SLOTS[slot][0],))
            row = Schedule(
                bulletin_id=bulletin_id,
                playlist_id=playlist_id,
                target_zone_id=zone_id,
                rule_json=rule.model_dump_json(),
                starts_at=start,
                created_by=admin.id or 0,
            )
            session.add(row)
            session.flush()
            return row.id or 0

        relays = {slot: daily(slot, top.id or 0, playlist_id=relay.id) for slot in (0, 6)}
        per_commune = boxes // communes
        for c, commune in enumerate(chosen):
            province.communes.append(commune.id or 0)
            bulletins: dict[tuple[str, str], int] = {}
            for category, seconds in (("legal", 360), ("notice", 180), ("policy", 300)):
                for language in {"vi", language_of(c)} if category == "legal" else {"vi"}:
                    bulletins[(category, language)] = _bulletin(
                        session, commune, admin, category, language, seconds
                    )
            schedules = {
                slot: daily(
                    slot, commune.id or 0, bulletin_id=bulletins[(cat, language_of(c) if slot == 8 else "vi")]
                )
                for slot, (_t, cat, _s, target) in enumerate(SLOTS)
                if target == "commune"
            }
            n = per_commune + (1 if c < boxes % communes else 0)
            villages = []
            for v in range(3 + c % 3):
                village = Zone(
                    code=f"{commune.code}-v{v + 1}",
                    name=f"Thôn {v + 1}",
                    kind="village",
                    parent_id=commune.id,
                )
                session.add(village)
                session.flush()
                villages.append(
                    (village.id or 0, daily(7, village.id or 0, bulletin_id=bulletins[("notice", "vi")]))
                )
            for i in range(n):
                zone_id, village_schedule = villages[i % len(villages)]
                device_id = f"loa-{c:03d}-{i:02d}"
                key = Ed25519PrivateKey.generate() if c == 0 else None
                if key is not None:
                    province.keys[device_id] = key
                province.boxes.append((device_id, c, zone_id, commune.id or 0))
                session.add(
                    Device(
                        id=device_id,
                        name=f"Loa {commune.name} {i + 1}",
                        zone_id=zone_id,
                        public_key=public_key_b64(key.public_key()) if key else "bench-" + device_id,
                        created_at=start,
                        enrolled_at=start,
                    )
                )
                for slot, (_t, cat, _s, target) in enumerate(SLOTS):
                    sid = (
                        relays.get(slot)
                        if target == "province"
                        else village_schedule
                        if target == "village"
                        else schedules[slot]
                    )
                    bid = None if cat == "relay" else bulletins[(cat, language_of(c) if slot == 8 else "vi")]
                    province.plan.append(
                        (device_id, slot, sid or 0, bid, language_of(c) if slot == 8 else "vi")
                    )
        session.commit()
    return province


def _bulletin(
    session: Session, commune: Zone, admin: User, category: str, language: str, seconds: int
) -> int:
    sha = hashlib.sha256(f"{commune.code}-{category}-{language}".encode()).hexdigest()
    session.add(Media(sha256=sha, bytes=seconds * 4000, duration_ms=seconds * 1000, mime="audio/ogg"))
    session.flush()
    row = Bulletin(
        commune_id=commune.id or 0,
        title=f"{category} {language} {commune.name}",
        body="…",
        category=category,
        language=language,
        status="approved",
        author_id=admin.id or 0,
        media_sha256=sha,
    )
    session.add(row)
    session.flush()
    return row.id or 0


def local_midnight(day: int) -> datetime:
    return datetime.combine(FIRST_DAY + timedelta(days=day), time(0), HCM).astimezone(UTC)


def make_sample(
    engine: Engine, province: Province, *, signer: Signer, say: Callable[[str], None]
) -> dict[str, float]:
    """The first commune's first days through the real code: timelines compiled and published, the fold,
    signed receipts stored by ``handle_report``, minute statuses in the health history, the fold again."""
    boxes = province.sample()
    numbers = {b: i for i, (b, _c, _z, _cid) in enumerate(province.boxes)}
    publisher = TimelinePublisher(
        engine=engine,
        signer=signer,
        topics=Topics(),
        publish=lambda _t, _p, _r: None,
        media_url="http://127.0.0.1:8000",
        horizon=timedelta(days=SAMPLE_DAYS),
    )
    fold = AsRunFold(engine, tz=HCM, grace=timedelta(minutes=30), status_interval=timedelta(seconds=60))
    publisher.refresh(local_midnight(0), device_ids=boxes)
    watch = Transactions(engine)
    started = time_module.perf_counter()
    fold.run(local_midnight(0))
    timelines_s = time_module.perf_counter() - started
    watch.stop()  # not the receipts' own ingest
    with Session(engine) as session:
        items = session.exec(select(Occurrence).where(Occurrence.device_id.in_(boxes))).all()  # type: ignore[attr-defined]
    slots = {t: s for s, (t, *_rest) in enumerate(SLOTS)}
    seqs = dict.fromkeys(boxes, 0)
    for item in sorted(items, key=lambda o: (o.device_id, o.scheduled_at)):
        local = item.scheduled_at.astimezone(HCM)
        day, slot = (local.date() - FIRST_DAY).days, slots[local.time()]
        state, seconds, reason = outcome(numbers[item.device_id], day, slot, item.duration_ms // 1000)
        events = {"aired": ["started", "completed"], "partial": ["started", "interrupted"]}.get(state, [])
        events += {"failed": ["failed"], "skipped": ["skipped"]}.get(state, [])
        for name in events:
            seqs[item.device_id] += 1
            _report(engine, province, item, name, seqs[item.device_id], seconds, reason)
    _statuses(engine, province, boxes, numbers)
    end = local_midnight(SAMPLE_DAYS) + timedelta(hours=1)
    watch.start()
    started = time_module.perf_counter()
    with Session(engine) as session:
        places = Places.load(session)
    status_rows = uptime.fold_health(engine, now=end, tz=HCM, places=places, stale=timedelta(minutes=3))
    health_s = time_module.perf_counter() - started
    started = time_module.perf_counter()
    folded = fold.run(end)
    receipts_s = time_module.perf_counter() - started
    watch.stop()
    say(f"sample: {len(boxes)} boxes × {SAMPLE_DAYS} days through the real code ({len(items)} items)")
    return {
        "boxes": len(boxes),
        "items": len(items),
        "timelines_fold_s": round(timelines_s, 3),
        "receipts_folded": folded.receipts,
        "receipts_fold_s": round(receipts_s, 3),
        "status_rows_folded": status_rows,
        "status_fold_s": round(health_s, 3),
        "fold_transactions": watch.count,
        "longest_fold_transaction_s": round(watch.longest, 3),
    }


class Transactions:
    """How many transactions commit on ``engine`` while it watches, and the longest (what holds
    SQLite's write lock: the fold takes it first thing in each)."""

    def __init__(self, engine: Engine) -> None:
        self.engine, self.count, self.longest = engine, 0, 0.0
        self._began: dict[int, float] = {}
        self.start()

    def start(self) -> None:
        event.listen(self.engine, "begin", self._begin)
        event.listen(self.engine, "commit", self._commit)

    def _begin(self, conn: Any) -> None:
        self._began[id(conn)] = time_module.perf_counter()

    def _commit(self, conn: Any) -> None:
        began = self._began.pop(id(conn), None)
        if began is not None:
            self.count += 1
            self.longest = max(self.longest, time_module.perf_counter() - began)

    def stop(self) -> None:
        event.remove(self.engine, "begin", self._begin)
        event.remove(self.engine, "commit", self._commit)


def _report(
    engine: Engine,
    province: Province,
    item: Occurrence,
    event: str,
    seq: int,
    seconds: int,
    reason: str | None,
) -> None:
    at = int(item.scheduled_at.timestamp() * 1000)
    final = event != "started"
    doc = ReceiptDoc(
        device_id=item.device_id,
        seq=seq,
        event=event,  # type: ignore[arg-type]
        item_id=item.item_id,
        timeline_version=1,
        scheduled_at_ms=at,
        started_at_ms=at if event in ("started", "completed", "interrupted") else None,
        ended_at_ms=at + seconds * 1000 if event == "completed" else None,
        seconds_aired=float(seconds) if event == "interrupted" else None,
        reason=reason if final else None,
        recorded_at_ms=at + (seconds * 1000 if final else 0),
    )
    raw = sign(doc, province.keys[item.device_id], item.device_id)
    assert handle_report(engine, device_id=item.device_id, raw=raw) is not None


def _statuses(engine: Engine, province: Province, boxes: list[str], numbers: dict[str, int]) -> None:
    rows: list[dict[str, Any]] = []
    for device_id in boxes:
        num = numbers[device_id]
        for day in range(SAMPLE_DAYS + 1):
            off_from, off_to = outage(num, day) if day < SAMPLE_DAYS else (0, 0)
            minutes = range(0, 1440 if day < SAMPLE_DAYS else 10)
            for minute in minutes:
                second = minute * 60
                offline = off_from <= second < off_to
                if offline and second != off_from:
                    continue
                rows.append(
                    {
                        "device_id": device_id,
                        "at": local_midnight(day) + timedelta(seconds=second),
                        "online": not offline,
                        "hourly": False,
                        "clock_offset_ms": None if offline else clock_offset(num),
                    }
                )
    with engine.begin() as conn:
        conn.execute(insert(DeviceHealth), rows)


def run_sql(engine: Engine, statements: list[str], params: dict[str, Any] | None = None) -> None:
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement), params or {})
