"""Issue 8's benchmark: the airtime reports over a year of a 3,000-box province (~20 million receipts),
on SQLite and on PostgreSQL, must answer in under 2 s.

For each database: migrate; seed Nghệ An's real communes (the first ``--communes``), 3–5 villages each,
``--boxes`` boxes, users, bulletins and nine daily schedules (bench/reports_data.py); run the first
commune's first two days through the real code (timelines compiled and published, the as-run fold,
receipts signed by the boxes and stored by ``handle_report``, minute statuses, the fold again); generate
the rest of the year in bulk by SQL from the same outcome formula (bench/reports_bulk.py); check that
aggregating the sample's occurrences by SQL gives exactly the rollups and tallies the fold made; build
every rollup that way; then time each report (as the auditor, the whole province; one as a commune
editor) ``--repeat`` times.

    .venv/bin/python bench/reports.py            # 3,000 boxes, 130 communes, 365 days (about an hour)
    .venv/bin/python bench/reports.py --quick    # 300 boxes, 13 communes, 28 days (about a minute)

Prints a table and writes bench/results/reports.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from datetime import time as wall_time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import reports_bulk  # noqa: E402
import reports_rollups  # noqa: E402
from reports_data import FIRST_DAY, HCM, Province, make_sample, seed  # noqa: E402
from sqlalchemy import Engine, text  # noqa: E402
from sqlmodel import Session, select  # noqa: E402

from controller.db import make_engine, migrate  # noqa: E402
from controller.keys import Signer  # noqa: E402
from controller.models import AirtimeTarget, Occurrence, User, Zone  # noqa: E402
from controller.periods import Period, custom, period_of  # noqa: E402
from controller.reconciliation import broadcast_boxes, reconciliation  # noqa: E402
from controller.report_boxes import clock_audit, uptime  # noqa: E402
from controller.report_targets import target_report  # noqa: E402
from controller.reports import airtime, airtime_series, top_failure_reasons, totals  # noqa: E402
from loa.postgres import Postgres  # noqa: E402

TARGET_S = 2.0
Report = Callable[[Session, dict[str, User], Period], object]


def _reports(year: Period, broadcast: str) -> dict[str, Report]:
    span = custom(year.start + timedelta(days=year.days // 5), year.last - timedelta(days=year.days // 6))
    week = period_of("week", year.start + timedelta(days=year.days // 2))
    now = {"now": datetime.combine(year.end, wall_time(0), HCM)}
    return {
        "airtime_by_commune": lambda s, u, p: airtime(s, user=u["auditor"], period=p, by="commune"),
        "airtime_by_village": lambda s, u, p: airtime(s, user=u["auditor"], period=p, by="village"),
        "airtime_by_box": lambda s, u, p: airtime(s, user=u["auditor"], period=p, by="box"),
        "airtime_by_category": lambda s, u, p: airtime(s, user=u["auditor"], period=p, by="category"),
        "airtime_by_language": lambda s, u, p: airtime(s, user=u["auditor"], period=p, by="language"),
        "airtime_by_box_custom_range": lambda s, u, _p: airtime(s, user=u["auditor"], period=span, by="box"),
        "legal_by_commune": lambda s, u, p: airtime(
            s, user=u["auditor"], period=p, by="commune", category="legal"
        ),
        "totals_delivery_rate": lambda s, u, p: totals(s, user=u["auditor"], period=p),
        "series_by_week": lambda s, u, p: airtime_series(s, user=u["auditor"], period=p, unit="week"),
        "series_by_month": lambda s, u, p: airtime_series(s, user=u["auditor"], period=p, unit="month"),
        "top_failure_reasons": lambda s, u, p: top_failure_reasons(s, user=u["auditor"], period=p),
        "reconciliation_first_page": lambda s, u, p: reconciliation(
            s, user=u["auditor"], period=p, limit=100
        ),
        "reconciliation_week": lambda s, u, _p: reconciliation(
            s, user=u["auditor"], period=week, limit=10_000
        ),
        "broadcast_boxes": lambda s, u, _p: broadcast_boxes(s, user=u["auditor"], broadcast_key=broadcast),
        "uptime_by_box": lambda s, u, p: uptime(s, user=u["auditor"], period=p, **now),
        "uptime_by_commune": lambda s, u, p: uptime(s, user=u["auditor"], period=p, by="commune", **now),
        "clock_audit": lambda s, u, p: clock_audit(s, user=u["auditor"], period=p, threshold_ms=1000),
        "targets": lambda s, u, p: target_report(s, user=u["auditor"], period=p),
        "commune_user_airtime_by_box": lambda s, u, p: airtime(s, user=u["editor"], period=p, by="box"),
    }


def _size_mb(engine: Engine, path: Path | None) -> float:
    if path is not None:
        return round(sum(f.stat().st_size for f in path.parent.glob(path.name + "*")) / 1e6, 1)
    with engine.connect() as conn:
        return round(
            (conn.execute(text("SELECT pg_database_size(current_database())")).scalar() or 0) / 1e6, 1
        )


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar() or 0)


def run_database(
    kind: str, url: str, path: Path | None, args: argparse.Namespace, folder: Path
) -> dict[str, Any]:
    def say(message: str) -> None:
        print(f"  [{kind} {time.monotonic() - t0:7.1f} s] {message}", flush=True)

    t0 = time.monotonic()
    migrate(url)
    engine = make_engine(url)
    if kind == "sqlite":
        with engine.begin() as conn:  # a bulk load: the fsync-per-commit of a live controller is not measured
            conn.exec_driver_sql("PRAGMA synchronous=OFF")
    province: Province = seed(engine, boxes=args.boxes, communes=args.communes)
    say(f"seeded {len(province.boxes)} boxes in {len(province.communes)} communes")
    sample = make_sample(
        engine, province, signer=Signer.from_file(folder / "controller_ed25519.pem"), say=say
    )
    checks = reports_rollups.check_sample(engine, province)
    say(f"sample: SQL aggregation equals the fold's rollups: {checks}")
    reports_bulk.generate(engine, province, args.days, say)
    reports_rollups.build(engine, args.days)
    if kind == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")  # what autovacuum does on its own after a bulk load
    build_s = time.monotonic() - t0
    counts = {
        t: _count(engine, t)
        for t in (
            "receipt",
            "occurrence",
            "airtimerollup",
            "reasonrollup",
            "broadcasttally",
            "uptimerollup",
            "clockrollup",
        )
    }
    say(f"built: {counts}")
    with Session(engine) as session:
        admin = session.exec(select(User).where(User.username == "admin")).one()
        top = session.exec(select(Zone.id).where(Zone.kind == "province")).one() or 0
        session.add(
            AirtimeTarget(
                zone_id=top, metric="minutes", category="legal", per="week", amount=60, created_by=admin.id
            )
        )
        session.add(
            AirtimeTarget(zone_id=top, metric="broadcasts", per="week", amount=40, created_by=admin.id)
        )
        session.commit()
        users = {
            "auditor": session.exec(select(User).where(User.username == "auditor")).one(),
            "editor": session.exec(select(User).where(User.username == province.editor)).one(),
        }
        session.expunge_all()
        broadcast = (
            session.exec(
                select(Occurrence.broadcast_key)
                .where(Occurrence.category == "relay")
                .order_by(Occurrence.id.desc())  # type: ignore[attr-defined]
            ).first()
            or ""
        )
    year = custom(FIRST_DAY, FIRST_DAY + timedelta(days=args.days - 1))
    timings: dict[str, dict[str, Any]] = {}
    for name, report in _reports(year, broadcast).items():
        runs = []
        for _ in range(args.repeat):
            with Session(engine) as session:
                start = time.perf_counter()
                result = report(session, users, year)
                runs.append(time.perf_counter() - start)
        size = len(result) if isinstance(result, list) else 1
        timings[name] = {
            "median_s": round(statistics.median(runs), 4),
            "max_s": round(max(runs), 4),
            "rows": size,
        }
    size_mb = _size_mb(engine, path)
    engine.dispose()
    slowest = max(timings.items(), key=lambda kv: kv[1]["max_s"])
    return {
        "slowest_report_s": slowest[1]["max_s"],
        "slowest_report": slowest[0],
        "target_met": slowest[1]["max_s"] < TARGET_S,
        "build_s": round(build_s, 1),
        "database_mb": size_mb,
        "rows": counts,
        "sample_consistent": all(checks.values()),
        "sample": sample,
        "reports": timings,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="300 boxes, 13 communes, 28 days")
    parser.add_argument("--boxes", type=int)
    parser.add_argument("--communes", type=int)
    parser.add_argument("--days", type=int)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--keep", type=Path, help="build the databases in this folder and keep them")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "reports.json")
    args = parser.parse_args(argv)
    args.boxes = args.boxes or (300 if args.quick else 3000)
    args.communes = args.communes or (13 if args.quick else 130)
    args.days = args.days or (28 if args.quick else 365)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="loa-bench-reports-"))
    folder.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    try:
        for kind in args.databases.split(","):
            if kind == "sqlite":
                path = folder / "reports.db"
                path.unlink(missing_ok=True)
                results[kind] = run_database(kind, f"sqlite:///{path}", path, args, folder)
            else:
                with Postgres(folder / "pg" if args.keep else None) as server:
                    results[kind] = run_database(kind, server.url, None, args, folder)
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    receipts = max(r["rows"]["receipt"] for r in results.values())
    output = {
        "receipts": receipts,
        "boxes": args.boxes,
        "communes": args.communes,
        "days": args.days,
        "target_s": TARGET_S,
        **results,
        "machine": {
            "nproc": os.cpu_count(),
            "python": platform.python_version(),
            "load_average": [round(x, 2) for x in os.getloadavg()],
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(output, indent=2, ensure_ascii=False) + "\n")
    _table(output, list(results))
    return 0 if all(r["sample_consistent"] for r in results.values()) else 1


def _table(output: dict[str, Any], kinds: list[str]) -> None:
    print(f"\n{output['receipts']:,} receipts, {output['boxes']:,} boxes, {output['days']} days")
    print(f"{'report':32}" + "".join(f"{k + ' median s':>20}{'max s':>8}" for k in kinds))
    for name in output[kinds[0]]["reports"]:
        cells = "".join(
            f"{output[k]['reports'][name]['median_s']:>20.3f}{output[k]['reports'][name]['max_s']:>8.3f}"
            for k in kinds
        )
        print(f"{name:32}{cells}")
    for kind in kinds:
        r = output[kind]
        verdict = "met" if r["target_met"] else "MISSED"
        print(
            f"{kind}: slowest {r['slowest_report']} {r['slowest_report_s']:.3f} s "
            f"(target < {TARGET_S} s: {verdict}); "
            f"build {r['build_s']} s, {r['database_mb']} MB, sample consistent: {r['sample_consistent']}"
        )


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
