"""The rest of the province-year in bulk, by SQL on the database itself (SQLite or PostgreSQL):
occurrences and receipts for every (box, day, slot) outside the sample (the rollups are built from
them in bench/reports_rollups.py).

What differs from a live system, on purpose: bulk receipts carry a placeholder envelope and hash (they
are neither signed nor chained, so ``loa audit verify`` would reject them; the reports never read
receipts), and bulk occurrences do not link their receipt (``receipt_id``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reports_data import FIRST_DAY, SAMPLE_DAYS, SLOTS, Province, clock_offset, local_midnight
from sqlalchemy import Engine, text

Dialect = dict[str, Callable[..., str]]

SQLITE: Dialect = {
    "ts": lambda x: f"strftime('%Y-%m-%d %H:%M:%S', {x}, 'unixepoch') || '.000000'",
    "day": lambda c: f"date({c}, '+7 hours')",
    "month": lambda c: f"strftime('%Y-%m-01', {c})",
    "week": lambda c: f"date({c}, 'weekday 0', '-6 days')",
    "reason": lambda: (
        "lower(trim(CASE WHEN instr(reason, ':') > 0 THEN substr(reason, 1, instr(reason, ':') - 1) "
        "ELSE reason END))"
    ),
    "bigint": lambda: "INTEGER",
    "date": lambda: "TEXT",
}
POSTGRES: Dialect = {
    "ts": lambda x: f"to_timestamp({x})",
    "day": lambda c: f"({c} AT TIME ZONE 'Asia/Ho_Chi_Minh')::date",
    "month": lambda c: f"date_trunc('month', {c})::date",
    "week": lambda c: f"date_trunc('week', {c})::date",
    "reason": lambda: "lower(trim(split_part(reason, ':', 1)))",
    "bigint": lambda: "BIGINT",
    "date": lambda: "DATE",
}
H = "(b.num * 7919 + d.day * 104729 + s.slot * 1299709) % 1000"
STATE = f"""CASE WHEN {H} < 930 THEN 'aired' WHEN {H} < 950 THEN 'partial' WHEN {H} < 960 THEN 'failed'
    WHEN {H} < 980 THEN 'skipped' ELSE 'missing' END"""
SECONDS = f"CASE WHEN {H} < 930 THEN s.seconds WHEN {H} < 950 THEN s.seconds * (1 + {H} % 9) / 10 ELSE 0 END"
REASON = f"""CASE WHEN {H} < 930 THEN NULL WHEN {H} < 950 THEN 'preempted:s0-0-0' WHEN {H} < 960
    THEN 'media_missing' WHEN {H} < 980 THEN 'late' ELSE NULL END"""
H2 = "(b.num * 31 + d.day * 17) % 100"
UPTIME = f"CASE WHEN {H2} < 90 THEN 86400 WHEN {H2} < 98 THEN 86400 - 3600 * (1 + {H2} % 4) ELSE 0 END"


def dialect_of(engine: Engine) -> Dialect:
    return POSTGRES if engine.dialect.name == "postgresql" else SQLITE


def _tables(engine: Engine, province: Province, days: int) -> None:
    """bench_box, bench_day, bench_slot, bench_plan: what the generating SQL joins."""
    sql = dialect_of(engine)
    big, day_type = sql["bigint"](), sql["date"]()
    with engine.begin() as conn:
        for name in ("bench_box", "bench_day", "bench_slot", "bench_plan"):
            conn.execute(text(f"DROP TABLE IF EXISTS {name}"))
        conn.execute(
            text(
                f"CREATE TABLE bench_box (num {big}, device_id TEXT PRIMARY KEY, zone_id {big}, "
                f"commune_id {big}, sample INTEGER, clock REAL)"
            )
        )
        conn.execute(text(f"CREATE TABLE bench_day (day {big} PRIMARY KEY, epoch {big}, date {day_type})"))
        conn.execute(
            text(
                f"CREATE TABLE bench_slot (slot {big} PRIMARY KEY, offset_s {big}, seconds {big}, "
                "category TEXT, kind TEXT)"
            )
        )
        conn.execute(
            text(
                f"CREATE TABLE bench_plan (device_id TEXT, slot {big}, schedule_id {big}, "
                f"bulletin_id {big}, language TEXT, PRIMARY KEY (device_id, slot))"
            )
        )
        sample = set(province.sample())
        conn.execute(
            text("INSERT INTO bench_box VALUES (:num, :device_id, :zone_id, :commune_id, :sample, :clock)"),
            [
                {
                    "num": n,
                    "device_id": b,
                    "zone_id": z,
                    "commune_id": cid,
                    "sample": int(b in sample),
                    "clock": clock_offset(n),
                }
                for n, (b, _c, z, cid) in enumerate(province.boxes)
            ],
        )
        conn.execute(
            text("INSERT INTO bench_day VALUES (:day, :epoch, :date)"),
            [
                {
                    "day": d,
                    "epoch": int(local_midnight(d).timestamp()),
                    "date": FIRST_DAY.fromordinal(FIRST_DAY.toordinal() + d),
                }
                for d in range(days)
            ],
        )
        conn.execute(
            text("INSERT INTO bench_slot VALUES (:slot, :offset, :seconds, :category, :kind)"),
            [
                {
                    "slot": i,
                    "offset": t.hour * 3600 + t.minute * 60,
                    "seconds": s,
                    "category": cat,
                    "kind": "stream" if cat == "relay" else "audio",
                }
                for i, (t, cat, s, _target) in enumerate(SLOTS)
            ],
        )
        conn.execute(
            text("INSERT INTO bench_plan VALUES (:device_id, :slot, :schedule_id, :bulletin_id, :language)"),
            [
                {"device_id": b, "slot": s, "schedule_id": sid, "bulletin_id": bid, "language": lang}
                for b, s, sid, bid, lang in province.plan
            ],
        )


def _build_settings(conn: Any, engine: Engine) -> None:
    """Room to sort in, for this build's transactions only (the reports run with the defaults)."""
    if engine.dialect.name == "postgresql":
        conn.execute(text("SET LOCAL work_mem = '256MB'"))
        conn.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
    else:
        conn.execute(text("PRAGMA cache_size = -1000000"))
        conn.execute(text("PRAGMA temp_store = MEMORY"))


def _statements(engine: Engine, days: int, base: int) -> list[tuple[str, str]]:
    """(what, SQL) for one block of days (``:first`` to ``:last``) outside the sample."""
    sql = dialect_of(engine)
    start = "(d.epoch + s.offset_s)"
    ts, end = sql["ts"](start), sql["ts"](f"{start} + s.seconds")
    item = f"'s' || p.schedule_id || '-' || ({start} * 1000)"
    joins = f"""FROM bench_box b CROSS JOIN bench_day d JOIN bench_plan p ON p.device_id = b.device_id
JOIN bench_slot s ON s.slot = p.slot
WHERE NOT (b.sample = 1 AND d.day < {SAMPLE_DAYS}) AND d.day BETWEEN :first AND :last"""
    occurrences = f"""INSERT INTO occurrence (device_id, item_id, broadcast_key, source, source_id,
    broadcast_at,
    scheduled_at, ends_at, duration_ms, kind, bulletin_id, category, language, zone_id, commune_id, state,
    seconds_aired, reason, started_at, ended_at, final_seq, receipt_id, clock_offset_ms, updated_at)
SELECT b.device_id, {item} || '-0', {item}, 'schedule', p.schedule_id, {ts}, {ts}, {end},
    s.seconds * 1000, s.kind, p.bulletin_id, s.category, p.language, b.zone_id, b.commune_id,
    {STATE}, {SECONDS}, {REASON},
    CASE WHEN {H} < 950 THEN {ts} END, CASE WHEN {H} < 930 THEN {end} END,
    CASE WHEN {H} < 980 THEN 1000 + d.day * 20 + s.slot * 2 + 2 ELSE 0 END, NULL, b.clock, {ts}
{joins}
ORDER BY b.num, d.day, s.slot"""
    found = [("occurrences", occurrences)]
    for seq, event in ((1, "started"), (2, "final")):
        final = event == "final"
        kind = (
            f"CASE WHEN {H} < 930 THEN 'completed' WHEN {H} < 950 THEN 'interrupted' "
            f"WHEN {H} < 960 THEN 'failed' ELSE 'skipped' END"
            if final
            else "'started'"
        )
        recorded = f"{start} + s.seconds" if final else start
        found.append(
            (
                f"{event} receipts",
                f"""INSERT INTO receipt (device_id, seq, event, item_id, schedule_id, timeline_version,
    scheduled_at,
    started_at, ended_at, media_sha256, reason, command_id, seconds_aired, recorded_at, received_at, envelope,
    chain_seq, prev_hash, hash)
SELECT b.device_id, 1000 + d.day * 20 + s.slot * 2 + {seq}, {kind}, {item} || '-0', p.schedule_id, 1, {ts},
    CASE WHEN {H} < 950 THEN {ts} END,
    {f"CASE WHEN {H} < 930 THEN {end} END" if final else "NULL"},
    NULL, {REASON if final else "NULL"}, NULL,
    {f"CASE WHEN {H} >= 930 AND {H} < 950 THEN {SECONDS} END" if final else "NULL"},
    {sql["ts"](recorded)}, {sql["ts"](f"{recorded} + 1")},
    '{{}}', {base} + ((b.num * {days} + d.day) * {len(SLOTS)} + s.slot) * 2 + {seq}, '-', '-'
{joins} AND {H} < {980 if final else 950}
ORDER BY b.num, d.day, s.slot""",
            )
        )
    return found


def generate(
    engine: Engine, province: Province, days: int, say: Callable[[str], None], block: int = 31
) -> None:
    """Occurrences and receipts for every (box, day, slot) outside the sample, a month of days per
    transaction (so SQLite's write-ahead log stays small)."""
    _tables(engine, province, days)
    with engine.connect() as conn:
        base = conn.execute(text("SELECT coalesce(max(chain_seq), 0) FROM receipt")).scalar() or 0
    statements = _statements(engine, days, int(base))
    for first in range(0, days, block):
        with engine.begin() as conn:
            _build_settings(conn, engine)
            for _what, statement in statements:
                conn.execute(text(statement), {"first": first, "last": min(days, first + block) - 1})
        say(f"bulk: days {first + 1}–{min(days, first + block)} of {days}")
