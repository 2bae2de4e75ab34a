"""The rollups and tallies of the bench's province-year, by SQL, exactly as the fold's deltas add up.

Box-day airtime rows, reasons and commune tallies are aggregated from the occurrences; the province
tally rows from the commune ones; every coarser grain from the finer rows (``DERIVED``). Before the
bulk is built, ``check_sample`` runs the same SQL on what the real fold made of the sample and
compares it row by row with the fold's own rows: every grain, the tallies, the reasons.
"""

from __future__ import annotations

from typing import Any

from reports_bulk import UPTIME, Dialect, _build_settings, dialect_of
from reports_data import FIRST_DAY, SAMPLE_DAYS, Province
from sqlalchemy import Engine, text

STATES = ("pending", "aired", "partial", "failed", "skipped", "missing")
COUNTED = STATES[1:]
KEYS = "grain, period, commune_id, zone_id, device_id, category, language"
VALUES = "aired, partial, failed, skipped, missing, seconds, broadcasts"
SUMMED = ("aired", "partial", "failed", "skipped", "missing", "seconds")
SUMS = ", ".join(f"sum({c})" for c in SUMMED)
NAMED_SUMS = ", ".join(f"sum({c}) AS {c}" for c in SUMMED)
CONTENT = "category NOT IN ('chime', 'silence')"


def airtime_day(sql: Dialect, where: str = "") -> str:
    """Box-day rows from the occurrences."""
    day = sql["day"]("scheduled_at")
    counts = ", ".join(f"sum(CASE WHEN state = '{s}' THEN 1 ELSE 0 END)" for s in COUNTED)
    return f"""SELECT 'd', {day}, commune_id, zone_id, device_id, category, language, {counts},
    sum(seconds_aired), 0
FROM occurrence WHERE state <> 'pending' AND {CONTENT} {where}
GROUP BY {day}, commune_id, zone_id, device_id, category, language"""


def derived(sql: Dialect) -> dict[str, str]:
    """Each coarser grain from the rows it sums (commune days also count the broadcasts aired)."""
    week, month, day = sql["week"]("period"), sql["month"]("period"), sql["day"]("broadcast_at")
    box = "commune_id, zone_id, device_id, category, language"
    commune = "commune_id, category, language"
    aired = f"""SELECT {day} AS period, commune_id, category, language, count(*) AS n FROM broadcasttally
    WHERE commune_id <> 0 AND aired + partial > 0 GROUP BY {day}, commune_id, category, language"""
    return {
        "w": f"SELECT 'w', {week}, {box}, {SUMS}, 0 FROM airtimerollup WHERE grain = 'd' "
        f"GROUP BY {week}, {box}",
        "m": f"SELECT 'm', {month}, {box}, {SUMS}, 0 FROM airtimerollup WHERE grain = 'd' "
        f"GROUP BY {month}, {box}",
        "c": f"""SELECT 'c', a.period, a.commune_id, 0, '', a.category, a.language, a.aired, a.partial,
    a.failed, a.skipped, a.missing, a.seconds, coalesce(b.n, 0)
FROM (SELECT period, {commune}, {NAMED_SUMS}
    FROM airtimerollup WHERE grain = 'd' GROUP BY period, {commune}) a
LEFT JOIN ({aired}) b ON b.period = a.period AND b.commune_id = a.commune_id AND b.category = a.category
    AND b.language = a.language""",
        "k": f"""SELECT 'k', {week}, commune_id, 0, '', category, language, {SUMS}, sum(broadcasts)
FROM airtimerollup WHERE grain = 'c' GROUP BY {week}, {commune}""",
        "n": f"""SELECT 'n', {month}, commune_id, 0, '', category, language, {SUMS}, sum(broadcasts)
FROM airtimerollup WHERE grain = 'c' GROUP BY {month}, {commune}""",
        "p": f"""SELECT 'p', period, 0, 0, '', category, language, {SUMS}, 0
FROM airtimerollup WHERE grain = 'c' GROUP BY period, category, language""",
    }


def reasons_day(sql: Dialect, where: str = "") -> str:
    day = sql["day"]("scheduled_at")
    code = "CASE WHEN state = 'missing' THEN 'no_receipt' WHEN reason IS NULL THEN '' ELSE "
    code += f"{sql['reason']()} END"
    return f"""SELECT 'c', {day}, commune_id, state, {code}, count(*) FROM occurrence
WHERE state IN ('partial', 'failed', 'skipped', 'missing') AND {CONTENT} {where}
GROUP BY {day}, commune_id, state, {code}"""


def reasons_month(sql: Dialect) -> str:
    month = sql["month"]("period")
    return f"""SELECT 'n', {month}, commune_id, state, reason, sum(count) FROM reasonrollup WHERE grain = 'c'
GROUP BY {month}, commune_id, state, reason"""


def tallies(where: str = "") -> str:
    """Boxes per outcome of each broadcast and commune (one content item per box and broadcast here)."""
    counts = ", ".join(f"sum(CASE WHEN state = '{s}' THEN 1 ELSE 0 END)" for s in STATES)
    return f"""SELECT broadcast_key, commune_id, min(source), min(source_id), min(broadcast_at),
    min(category), min(language), {counts}
FROM occurrence WHERE {CONTENT} {where} GROUP BY broadcast_key, commune_id"""


PROVINCE_TALLIES = f"""SELECT broadcast_key, 0, min(source), min(source_id), min(broadcast_at), min(category),
    min(language), {", ".join(f"sum({s})" for s in STATES)}
FROM broadcasttally WHERE commune_id <> 0 GROUP BY broadcast_key"""


def _value(v: Any) -> Any:
    return round(float(v), 3) if isinstance(v, int | float) else str(v)


def rows(engine: Engine, query: str) -> set[tuple[Any, ...]]:
    with engine.connect() as conn:
        return {tuple(_value(v) for v in r) for r in conn.execute(text(query))}


def check_sample(engine: Engine, province: Province) -> dict[str, bool]:
    """Does the SQL give exactly the rows the fold made of the sample, grain by grain?"""
    sql = dialect_of(engine)
    sample = f"AND device_id IN ({', '.join(repr(b) for b in province.sample())})"
    tally = (
        f"broadcast_key, commune_id, source, source_id, broadcast_at, category, language, {', '.join(STATES)}"
    )
    checks = {
        "d": (f"SELECT {KEYS}, {VALUES} FROM airtimerollup WHERE grain = 'd'", airtime_day(sql, sample)),
        "tallies": (f"SELECT {tally} FROM broadcasttally WHERE commune_id <> 0", tallies(sample)),
        "province tallies": (f"SELECT {tally} FROM broadcasttally WHERE commune_id = 0", PROVINCE_TALLIES),
        "reasons c": ("SELECT * FROM reasonrollup WHERE grain = 'c'", reasons_day(sql, sample)),
        "reasons n": ("SELECT * FROM reasonrollup WHERE grain = 'n'", reasons_month(sql)),
    }
    for grain, query in derived(sql).items():
        checks[grain] = (f"SELECT {KEYS}, {VALUES} FROM airtimerollup WHERE grain = '{grain}'", query)
    found = {}
    for name, (fold, bulk) in checks.items():
        made = rows(engine, fold)
        found[name] = bool(made) and made == rows(engine, bulk)
    return found


def build(engine: Engine, days: int) -> None:
    """Every airtime and reason rollup and every tally from the occurrences; uptime and clock in bulk
    around the sample's days (for which the fold's rows, from the status history and receipts, stay)."""
    sql = dialect_of(engine)
    box = "commune_id, zone_id, device_id"
    month = sql["month"]("period")
    sample_end = f"'{FIRST_DAY.fromordinal(FIRST_DAY.toordinal() + SAMPLE_DAYS).isoformat()}'"
    after_sample = (
        sql["ts"](f"(SELECT epoch FROM bench_day WHERE day = {SAMPLE_DAYS})") if days > SAMPLE_DAYS else "'9'"
    )
    receipts = (
        "CASE WHEN state IN ('aired', 'partial') THEN 2 WHEN state IN ('failed', 'skipped') THEN 1 ELSE 0 END"
    )
    clock = "receipts, max_receipt_offset_ms, max_status_offset_ms, max_ahead_ms"
    tally = (
        f"broadcast_key, commune_id, source, source_id, broadcast_at, category, language, {', '.join(STATES)}"
    )
    statements = [
        "DELETE FROM airtimerollup",
        "DELETE FROM reasonrollup",
        "DELETE FROM broadcasttally",
        f"INSERT INTO airtimerollup ({KEYS}, {VALUES}) {airtime_day(sql)}",
        f"INSERT INTO broadcasttally ({tally}) {tallies()}",
        f"INSERT INTO broadcasttally ({tally}) {PROVINCE_TALLIES}",
        *(f"INSERT INTO airtimerollup ({KEYS}, {VALUES}) {query}" for query in derived(sql).values()),
        f"INSERT INTO reasonrollup (grain, period, commune_id, state, reason, count) {reasons_day(sql)}",
        f"INSERT INTO reasonrollup (grain, period, commune_id, state, reason, count) {reasons_month(sql)}",
        f"DELETE FROM uptimerollup WHERE grain = 'm' OR period >= {sample_end}",
        f"DELETE FROM clockrollup WHERE grain = 'm' OR period >= {sample_end}",
        f"""INSERT INTO uptimerollup (grain, period, {box}, online_s)
            SELECT 'd', d.date, b.commune_id, b.zone_id, b.device_id, {UPTIME}
            FROM bench_box b CROSS JOIN bench_day d
            WHERE NOT (b.sample = 1 AND d.day < {SAMPLE_DAYS})""",
        f"""INSERT INTO clockrollup (grain, device_id, period, commune_id, {clock})
            SELECT 'd', device_id, {sql["day"]("scheduled_at")}, min(commune_id), sum({receipts}),
            max(abs(clock_offset_ms)), max(abs(clock_offset_ms)), 0 FROM occurrence o
            WHERE NOT EXISTS (SELECT 1 FROM bench_box b WHERE b.device_id = o.device_id AND b.sample = 1)
            OR scheduled_at >= {after_sample}
            GROUP BY device_id, {sql["day"]("scheduled_at")}""",
        f"""INSERT INTO uptimerollup (grain, period, {box}, online_s)
            SELECT 'm', {month}, {box}, sum(online_s) FROM uptimerollup WHERE grain = 'd'
            GROUP BY {month}, {box}""",
        f"""INSERT INTO clockrollup (grain, device_id, period, commune_id, {clock})
            SELECT 'm', device_id, {month}, min(commune_id), sum(receipts), max(max_receipt_offset_ms),
            max(max_status_offset_ms), max(max_ahead_ms) FROM clockrollup WHERE grain = 'd'
            GROUP BY device_id, {month}""",
    ]
    with engine.begin() as conn:
        _build_settings(conn, engine)
        for statement in statements:
            conn.execute(text(statement))
        for name in ("bench_box", "bench_day", "bench_slot", "bench_plan"):
            conn.execute(text(f"DROP TABLE {name}"))
