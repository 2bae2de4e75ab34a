"""Issue 9's benchmark: an emergency, from the approver's confirm to the first sample on every box.

A fleet (bench/fleet.py) of enrolled boxes running the real agent, a real Mosquitto with the
registry's accounts and ACL, a real controller with the two-person rule on. For each size N (the
fleet grows between sizes; every box stays online):

1. **floor**: a bare paho client (a controller replica's account) publishes one QoS 1 message of
   the same size on the province's zone-command topic; each box notes when it arrives (and keeps
   it from its agent). That is Mosquitto's fan-out to the same N connections, and the floor.
2. **emergency**: ``bench-admin`` creates a province-wide emergency (``POST /api/v1/emergencies``,
   pending); the clock starts just before ``bench-admin2`` confirms it (``POST …/confirm``). The
   controller signs one play_now command for the province's zone topic; each box verifies it,
   records it in its outbox, and its player starts the item: the sink's first sample is the end.
3. the receipts the boxes then write (started, completed, command_done) are drained: every one
   committed by the controller and acked (``drain_s``).

    .venv/bin/python bench/emergency_fanout.py                 # N = 100, 1,000, 10,000
    .venv/bin/python bench/emergency_fanout.py --sizes 100,1000
    .venv/bin/python bench/emergency_fanout.py --quick         # N = 20 (CI smoke)

Prints a table and writes bench/results/emergency_fanout.json. Targets at the largest size: p99 ≤ 2 s
and within 3× the floor's p99.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
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

from playlists.wire import Topics  # noqa: E402

TARGETS = {"p99_s": 2.0, "ratio_to_floor": 3.0}
COMMAND_BYTES = 1100  # about the size of a signed province-wide play_now command


def collect(
    fleet: Fleet, keep: dict[str, Callable[[list[Any]], bool]], until: tuple[str, int], timeout_s: float
) -> dict[str, list[list[Any]]]:
    """The boxes' events of each kind in ``keep`` that it accepts, until ``until`` = (kind, count)."""
    found: dict[str, list[list[Any]]] = {kind: [] for kind in keep}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and len(found[until[0]]) < until[1]:
        time.sleep(0.2)
        for kind, accept in keep.items():
            found[kind] += [row for row in fleet.events(kind) if accept(row)]
    return found


def floor(fleet: Fleet, topic: str, n: int) -> dict[str, Any]:
    """One bare QoS 1 publish to every box's zone topic; arrival latency per box."""
    client = fleet.bare_client()
    marker = f"FLOOR {time.time_ns()} ".encode()
    payload = marker + b"x" * max(0, COMMAND_BYTES - len(marker))
    fleet.events("arrival")  # forget what came before
    try:
        t0 = time.time()
        client.publish(topic, payload, qos=1).wait_for_publish(30)
        found = collect(fleet, {"arrival": lambda row: row[1] == "floor"}, ("arrival", n), 30)
    finally:
        client.disconnect()
        client.loop_stop()
    latencies = [row[2] - t0 for row in found["arrival"]]
    return {**spread(latencies), "missing": n - len(latencies), "bytes": len(payload)}


def emergency(fleet: Fleet, n: int, timeout_s: float) -> dict[str, Any]:
    """Create (admin 1), confirm (admin 2, the clock starts), wait for every box's first sample."""
    seeded = fleet.seeded
    assert seeded is not None
    creator, approver = fleet.login("bench-admin"), fleet.login("bench-admin2")
    created = creator.post(
        "/api/v1/emergencies",
        json={"bulletin_id": seeded.emergency_bulletin_id, "zone_ids": [seeded.province_id]},
    )
    created.raise_for_status()
    item = f"e{created.json()['id']}"
    fleet.events("arrival"), fleet.events("first_sample")
    usage = Usage(fleet.pids())
    t0 = time.time()
    confirmed = approver.post(f"/api/v1/emergencies/{created.json()['id']}/confirm")
    t1 = time.time()
    confirmed.raise_for_status()

    keep = {"arrival": lambda row: row[1] == "zone_command", "first_sample": lambda row: row[1] == item}
    found = collect(fleet, keep, ("first_sample", n), timeout_s)
    used = usage.stop()
    first = {row[0]: row[2] for row in found["first_sample"]}
    handed = {row[0]: row[4] for row in found["first_sample"]}
    arrived = {row[0]: row[2] for row in found["arrival"]}
    both = [d for d in first if d in arrived]
    return {
        **spread([at - t0 for at in first.values()]),
        "missing": n - len(first),
        "confirm_http_s": round(t1 - t0, 3),
        "arrival": spread([at - t0 for at in arrived.values()]),
        "queued_in_simulator": spread([handed[d] - arrived[d] for d in both]),
        "on_box": spread([first[d] - handed[d] for d in both], 4),
        "own_cpu_estimate": spread([arrived[d] - t0 + first[d] - handed[d] for d in both]),
        "command_bytes": max((row[3] for row in found["arrival"]), default=None),
        "usage": used,
        "t0": t0,
    }


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    sizes = sorted(args.sizes)
    with Fleet(
        work, boxes=sizes[-1], procs=args.procs, offsets_ms=args.offsets_ms, broker_queue=args.broker_queue
    ) as fleet:
        seeded = fleet.seed()
        fleet.start_controller()
        topic = Topics().zone_command(seeded.province_code)
        rows = []
        for n in sizes:
            fleet.progress(f"{n} boxes")
            grow_s = fleet.grow(n)
            accepted, _arrivals = fleet.wait_timelines(1, 120 + n / 50)
            settle_s = fleet.wait_drained(300)
            time.sleep(args.pause_s)
            bare = floor(fleet, topic, n)
            time.sleep(args.pause_s)
            fleet.take_acks()  # ack latencies from here on belong to this emergency
            sent = emergency(fleet, n, args.timeout_s)
            # Every box writes started, completed and command_done: wait for the item to end first.
            time.sleep(max(0.0, sent["t0"] + seeded.media[0]["duration_ms"] / 1000 + 0.5 - time.time()))
            usage = Usage(fleet.pids())
            waited = fleet.wait_drained(args.drain_timeout_s)
            drain_s = time.time() - sent.pop("t0") if waited is not None else None
            drain_usage, after, acks = usage.stop(), fleet.mark(), fleet.take_acks()
            ratio = sent["p99_s"] / bare["p99_s"] if sent["p99_s"] and bare["p99_s"] else None
            rows.append(
                {
                    "boxes": n,
                    "emergency": sent,
                    "floor": bare,
                    "ratio_p99_to_floor": round(ratio, 2) if ratio else None,
                    "drain_s": round(drain_s, 1) if drain_s is not None else None,
                    "receipts": len(acks),
                    "receipt_ack_s": spread(acks),
                    "drain_usage": drain_usage,
                    "grow_s": round(grow_s, 1),
                    "timelines_accepted": len(accepted),
                    "settle_s": round(settle_s, 1) if settle_s is not None else None,
                    "box_processes_rss_mb": after["rss_mb"],
                    "step_errors": after["step_errors"],
                    "connection_drops": after["drops"],
                }
            )
            drained = rows[-1]["drain_s"]
            fleet.progress(f"{n}: p99 {sent['p99_s']} s (floor {bare['p99_s']} s), receipts in {drained} s")
        return {
            "rows": rows,
            "seeded_s": seeded.seconds,
            "procs": len(fleet.workers),
            "offsets_ms": args.offsets_ms,
            "broker_queue": args.broker_queue,
        }


def print_table(result: dict[str, Any]) -> None:
    host = result["host"]
    print(
        f"Loa emergency fan-out — confirm (HTTP) → first sample on every box; {host['cpus']} CPUs, "
        f"load average {host['load_average_start']} → {host['load_average_end']}"
    )
    print(
        f"{'boxes':>6} | {'p50 s':>6} {'p99 s':>6} {'max s':>6} | {'floor p50':>9} {'p99':>6} {'max':>6} | "
        f"{'p99/floor':>9} | {'confirm s':>9} | {'drain s':>7} | missing"
    )
    for row in result["rows"]:
        e, f = row["emergency"], row["floor"]
        print(
            f"{row['boxes']:>6} | {e['p50_s']!s:>6} {e['p99_s']!s:>6} {e['max_s']!s:>6} | {f['p50_s']!s:>9} "
            f"{f['p99_s']!s:>6} {f['max_s']!s:>6} | {row['ratio_p99_to_floor']!s:>9} | "
            f"{e['confirm_http_s']!s:>9} | {row['drain_s']!s:>7} | {e['missing']}/{f['missing']}"
        )
    met = result["targets_met"]
    print(
        f"targets at {result['rows'][-1]['boxes']} boxes: p99 ≤ {TARGETS['p99_s']} s: "
        f"{'met' if met['p99_s'] else 'MISSED'}; within {TARGETS['ratio_to_floor']}× the floor: "
        f"{'met' if met['ratio_to_floor'] else 'MISSED'}"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", help="comma-separated box counts (default 100,1000,10000; quick 20)")
    parser.add_argument("--procs", type=int, default=4, help="box processes (default 4)")
    parser.add_argument("--offsets-ms", type=int, default=0, help="box clocks off by up to ± this")
    parser.add_argument("--pause-s", type=float, default=3.0, help="quiet time before each measurement")
    parser.add_argument("--timeout-s", type=float, default=60.0, help="longest wait for the first samples")
    parser.add_argument("--drain-timeout-s", type=float, default=600.0, help="longest wait for the receipts")
    parser.add_argument(
        "--broker-queue",
        type=int,
        default=1000,
        help="Mosquitto's max_queued_messages (default 1000, as deploy/mosquitto/loa.conf)",
    )
    parser.add_argument("--quick", action="store_true", help="CI size: 20 boxes, 1 process")
    parser.add_argument("--keep", type=Path, help="keep the controller's and broker's folder here")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "emergency_fanout.json")
    args = parser.parse_args(argv)
    default = "20" if args.quick else "100,1000,10000"
    args.sizes = [int(n) for n in (args.sizes or default).split(",")]
    if args.quick:
        args.procs, args.pause_s = 1, min(args.pause_s, 0.5)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    exit_on_sigterm()
    raise_file_limit(max(args.sizes) + 1000)
    host = host_info()
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=False)
        result = run(args, args.keep)
    else:
        work = Path(tempfile.mkdtemp(prefix="loa-bench-"))
        try:
            result = run(args, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    last = result["rows"][-1]
    result.update(
        boxes=last["boxes"],
        p50_s=last["emergency"]["p50_s"],
        p99_s=last["emergency"]["p99_s"],
        max_s=last["emergency"]["max_s"],
        floor_p99_s=last["floor"]["p99_s"],
        ratio_p99_to_floor=last["ratio_p99_to_floor"],
        targets=TARGETS,
        targets_met={
            "p99_s": last["emergency"]["p99_s"] is not None
            and last["emergency"]["p99_s"] <= TARGETS["p99_s"],
            "ratio_to_floor": last["ratio_p99_to_floor"] is not None
            and last["ratio_p99_to_floor"] <= TARGETS["ratio_to_floor"],
        },
        host={**host, "load_average_end": round(os.getloadavg()[0], 2)},
        command=" ".join([Path(sys.executable).name, *sys.argv]),
    )
    print_table(result)
    write_result(result, args.out)
    missing = sum(row["emergency"]["missing"] + row["floor"]["missing"] for row in result["rows"])
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
