"""Issue 9's benchmark: receipts per second committed end to end, on SQLite and on PostgreSQL.

End to end: a box's outbox writes and signs a receipt (SQLite, ``synchronous=FULL``) and publishes
it; the controller verifies it, stores it in its hash chain and commits; its ack reaches the box,
whose outbox deletes the receipt. Only acked receipts count. The fleet's boxes (bench/fleet.py,
real agents) keep ``--inflight`` receipts awaiting their ack between them (closed loop: a box
writes its next receipt when an ack comes), so the rate is what the chain sustains.

Floor, same boxes, same run: the controller is stopped and a bare paho client on a controller
replica's account acks each receipt as it arrives (it signs the ack, as it must for the box to
accept it, and stores nothing). That is the broker's and the boxes' own throughput.

    .venv/bin/python bench/receipts_throughput.py                    # 1,000 boxes, SQLite and PostgreSQL
    .venv/bin/python bench/receipts_throughput.py --databases sqlite
    .venv/bin/python bench/receipts_throughput.py --quick            # CI smoke

Prints a table and writes bench/results/receipts_throughput.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from fleet import Fleet  # noqa: E402
from fleet_support import (  # noqa: E402
    Usage,
    exit_on_sigterm,
    host_info,
    raise_file_limit,
    spread,
    write_result,
)

from playlists.wire import Ack, Topics  # noqa: E402


class BareAcker:
    """Acks every receipt at once with the controller's key; stores nothing (the floor)."""

    def __init__(self, fleet: Fleet) -> None:
        from controller.keys import Signer

        self.signer = Signer.from_file(fleet.settings.resolved_signing_key_path)
        self.topics = Topics(fleet.settings.topic_root)
        self.acked: dict[str, int] = {}
        self.lock = threading.Lock()
        self.client = fleet.bare_client()
        self.client.on_message = self._on_message
        self.client.subscribe(self.topics.all_reports(), qos=1)

    def _on_message(self, client: Any, _userdata: Any, message: Any) -> None:
        device = self.topics.device_of(message.topic)
        seq = json.loads(message.payload)["payload"]["seq"]
        if device is None:
            return
        with self.lock:
            seq = max(seq, self.acked.get(device, 0))
            self.acked[device] = seq
        client.publish(
            self.topics.ack(device), self.signer.sign(Ack(device_id=device, seq=seq)), qos=1, retain=True
        )

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def pump(fleet: Fleet, inflight: int) -> None:
    """Spread ``inflight`` receipts awaiting ack over the boxes: one each, more if boxes are few."""
    window = max(1, -(-inflight // fleet.boxes))
    per_process = -(-inflight // window // len(fleet.workers))
    fleet.receipts(window=window, boxes=per_process, schedule_id=None)


def measure(fleet: Fleet, args: argparse.Namespace, who: str) -> dict[str, Any]:
    """Warm up, then count acked receipts over the window."""
    pump(fleet, args.inflight)
    time.sleep(args.warmup_s)
    before, usage = fleet.mark(), Usage(fleet.pids())
    time.sleep(args.window_s)
    after, used = fleet.mark(), usage.stop()
    fleet.receipts(window=0, boxes=0)
    seconds = after["t"] - before["t"]
    acked = after["acked"] - before["acked"]
    made = after["receipts_made"] - before["receipts_made"]
    sent = after["reports_sent"] - before["reports_sent"]
    controller_cpu = used.get("controller", {}).get("cpu_s")
    return {
        "who": who,
        "receipts_per_s": round(acked / seconds, 1),
        "controller_cpu_ms_per_receipt": round(controller_cpu * 1000 / acked, 2)
        if controller_cpu and acked
        else None,
        "acked": acked,
        "window_s": round(seconds, 1),
        "resent": max(0, sent - made),
        "ack_latency": spread(after["ack_s"]),
        "usage": used,
        "connection_drops": after["drops"] - before["drops"],
    }


def count_rows(url: str) -> int:
    from sqlalchemy import text

    from controller.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as db:
            return int(db.execute(text("SELECT count(*) FROM receipt")).scalar_one())
    finally:
        engine.dispose()


def run_database(args: argparse.Namespace, work: Path, database: str) -> dict[str, Any]:
    with Fleet(work, boxes=args.boxes, procs=args.procs, database=database) as fleet:
        fleet.seed()
        fleet.start_controller()
        fleet.grow(args.boxes)
        fleet.wait_timelines(1, 120 + args.boxes / 50)
        fleet.wait_drained(120)
        fleet.progress(f"{database}: controller, {args.window_s:.0f} s")
        controller = measure(fleet, args, "controller")
        drained = fleet.wait_drained(300)
        stored = count_rows(fleet.settings.resolved_database_url)
        acked_total = fleet.mark()["acked"]
        fleet.stop_controller()
        fleet.progress(f"{database}: bare acker (floor), {args.window_s:.0f} s")
        acker = BareAcker(fleet)
        try:
            floor = measure(fleet, args, "bare acker")
            fleet.wait_drained(60)
        finally:
            acker.stop()
    controller.update(
        rows_stored=stored,
        acked_by_then=acked_total,
        drain_s=round(drained, 1) if drained is not None else None,
        database=database,
    )
    ratio = controller["receipts_per_s"] / floor["receipts_per_s"] if floor["receipts_per_s"] else None
    return {
        "database": database,
        "controller": controller,
        "floor": floor,
        "ratio_to_floor": ratio and round(ratio, 3),
    }


def print_table(result: dict[str, Any]) -> None:
    host = result["host"]
    print(
        f"Loa receipts throughput — {result['boxes']} boxes, {result['inflight']} receipts in flight, "
        f"{result['window_s']:g} s windows; {host['cpus']} CPUs, load average "
        f"{host['load_average_start']} → {host['load_average_end']}"
    )
    print(
        f"{'database':<11} | {'receipts/s':>10} | {'ack p50 s':>9} {'p99 s':>6} | {'ctl CPU %':>9} | "
        f"{'floor/s':>8} | {'ratio':>5} | rows = acked"
    )
    for row in result["rows"]:
        c, f = row["controller"], row["floor"]
        cpu = c["usage"].get("controller", {}).get("cpu_percent")
        print(
            f"{row['database']:<11} | {c['receipts_per_s']:>10} | {c['ack_latency']['p50_s']!s:>9} "
            f"{c['ack_latency']['p99_s']!s:>6} | {cpu!s:>9} | {f['receipts_per_s']:>8} | "
            f"{row['ratio_to_floor']!s:>5} | {c['rows_stored'] == c['acked_by_then']}"
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boxes", type=int, help="boxes (default 1000; quick 20)")
    parser.add_argument("--procs", type=int, default=2, help="box processes (default 2)")
    parser.add_argument(
        "--inflight", type=int, help="receipts awaiting ack, all boxes (default 400; quick 40)"
    )
    parser.add_argument("--window-s", type=float, help="measured window (default 30; quick 2)")
    parser.add_argument("--warmup-s", type=float, help="before it (default 5; quick 0.5)")
    parser.add_argument("--databases", default="sqlite,postgresql", help="comma-separated")
    parser.add_argument("--quick", action="store_true", help="CI size")
    parser.add_argument("--keep", type=Path, help="keep the controller's and broker's folder (logs) here")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "receipts_throughput.json")
    args = parser.parse_args(argv)
    args.boxes = args.boxes or (20 if args.quick else 1000)
    args.inflight = args.inflight or (40 if args.quick else 400)
    args.window_s = args.window_s or (2.0 if args.quick else 30.0)
    args.warmup_s = args.warmup_s or (0.5 if args.quick else 5.0)
    args.databases = args.databases.split(",")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    exit_on_sigterm()
    raise_file_limit(args.boxes + 1000)
    host = host_info()
    rows = []
    for database in args.databases:
        work = args.keep / database if args.keep else Path(tempfile.mkdtemp(prefix="loa-bench-"))
        work.mkdir(parents=True, exist_ok=True)
        try:
            rows.append(run_database(args, work, database))
        finally:
            if args.keep is None:
                shutil.rmtree(work, ignore_errors=True)
    host["load_average_end"] = round(os.getloadavg()[0], 2)
    result = {
        "receipts_per_s": {row["database"]: row["controller"]["receipts_per_s"] for row in rows},
        "floor_receipts_per_s": {row["database"]: row["floor"]["receipts_per_s"] for row in rows},
        "ratio_to_floor": {row["database"]: row["ratio_to_floor"] for row in rows},
        "boxes": args.boxes,
        "inflight": args.inflight,
        "window_s": args.window_s,
        "rows": rows,
        "host": host,
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
    }
    print_table(result)
    write_result(result, args.out)
    lost = [
        row["database"]
        for row in rows
        if row["controller"]["rows_stored"] != row["controller"]["acked_by_then"]
    ]
    if lost:
        print(f"PROBLEM: rows stored differ from receipts acked on {', '.join(lost)}")
    return 1 if lost else 0


if __name__ == "__main__":
    raise SystemExit(main())
