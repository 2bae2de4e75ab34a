"""Issue 9's benchmark: a province-wide schedule change, republished as 7-day timelines to every box.

A fleet (bench/fleet.py) of 3,000 enrolled boxes running the real agent, each already holding its
7-day timeline (version 1, compiled from seeded daily schedules: one province-wide slot and three
per commune). Then an admin adds a province-wide daily slot (``POST /api/v1/schedules``, as the
panel does): the controller plans it, saves it, recompiles every box, signs and publishes 3,000
new timelines (retained, QoS 1); each box verifies its new version, stores it and hands it to its
player. Measured: from the POST to every box having accepted version 2 (``push_s``), the POST's
own time, each box's acceptance delay, and the bytes the broker delivered (the signed envelopes).

Floor, same run, same boxes: a bare paho client (a controller replica's account, default client
settings like the controller's) publishes envelopes of the same sizes to the same timeline topics
(not retained); the boxes note their arrival and keep them from their agents.

    .venv/bin/python bench/timeline_push.py                # 3,000 boxes
    .venv/bin/python bench/timeline_push.py --quick        # 30 boxes (CI smoke)

Prints a table and writes bench/results/timeline_push.json.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

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

NEW_SLOT = "19:30:00"  # the province-wide slot added by the change (clashes with no seeded one)


def floor(fleet: Fleet, sizes: dict[str, int], timeout_s: float) -> dict[str, Any]:
    """The same number of messages, of the same sizes, through a bare client; until all arrived."""
    topics = Topics()
    client = fleet.bare_client()
    fleet.events("arrival")
    try:
        t0 = time.time()
        sent = []
        for device, size in sizes.items():
            marker = f"FLOOR {device} ".encode()
            sent.append(
                client.publish(topics.timeline(device), marker + b"x" * max(0, size - len(marker)), qos=1)
            )
        arrived: dict[str, float] = {}
        deadline = time.monotonic() + timeout_s
        while len(arrived) < len(sizes) and time.monotonic() < deadline:
            time.sleep(0.2)
            arrived.update((row[0], row[2]) for row in fleet.events("arrival") if row[1] == "floor")
    finally:
        client.disconnect()
        client.loop_stop()
    latencies = [at - t0 for at in arrived.values()]
    return {
        "all_s": round(max(latencies), 3) if latencies else None,
        **spread(latencies),
        "missing": len(sizes) - len(arrived),
    }


def push(fleet: Fleet, timeout_s: float) -> dict[str, Any]:
    """The change through the API; until every box accepted version 2."""
    seeded = fleet.seeded
    assert seeded is not None
    admin = fleet.login("bench-admin")
    today = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date().isoformat()
    body = {
        "bulletin_id": seeded.bulletin_ids[0],
        "target_zone_id": seeded.province_id,
        "rule": {"kind": "daily", "start_date": today, "times": [NEW_SLOT]},
        "priority": "normal",
    }
    usage = Usage(fleet.pids())
    t0 = time.time()
    answer = admin.post("/api/v1/schedules", json=body)
    http_s = time.time() - t0
    answer.raise_for_status()
    accepted, arrivals = fleet.wait_timelines(2, timeout_s)
    used = usage.stop()
    delays = [at - t0 for at in accepted.values()]
    sizes = [row[3] for row in arrivals]
    return {
        "push_s": round(max(delays), 3) if delays else None,
        **spread(delays),
        "missing": fleet.boxes - len(accepted),
        "http_s": round(http_s, 3),
        "arrival": spread([row[2] - t0 for row in arrivals]),
        "bytes": sum(sizes),
        "messages": len(sizes),
        "mean_bytes": round(sum(sizes) / len(sizes)) if sizes else None,
        "usage": used,
    }


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    with Fleet(work, boxes=args.boxes, procs=args.procs, schedules=True) as fleet:
        seeded = fleet.seed()
        fleet.start_controller()
        grow_s = fleet.grow(args.boxes)
        _accepted, first = fleet.wait_timelines(1, 300 + args.boxes / 10)
        fleet.wait_drained(120)
        sizes = {row[0]: row[3] for row in first}
        time.sleep(args.pause_s)
        fleet.progress(f"floor: {len(sizes)} bare messages")
        bare = floor(fleet, sizes, args.timeout_s)
        time.sleep(args.pause_s)
        fleet.progress("province-wide schedule change")
        change = push(fleet, args.timeout_s)
        after = fleet.mark()
    ratio = change["push_s"] / bare["all_s"] if change["push_s"] and bare["all_s"] else None
    return {
        "boxes": args.boxes,
        "push_s": change["push_s"],
        "bytes": change["bytes"],
        "floor_s": bare["all_s"],
        "ratio_to_floor": round(ratio, 2) if ratio else None,
        "change": change,
        "floor": bare,
        "first_push": {"messages": len(first), "bytes": sum(row[3] for row in first)},
        "schedules": seeded.schedules,
        "grow_s": round(grow_s, 1),
        "seeded_s": seeded.seconds,
        "box_processes": {
            "procs": args.procs,
            "rss_mb": after["rss_mb"],
            "step_errors": after["step_errors"],
        },
    }


def print_table(result: dict[str, Any]) -> None:
    c, f, h = result["change"], result["floor"], result["host"]
    print(
        f"Loa timeline push — {result['boxes']} boxes, 7-day timelines; {h['cpus']} CPUs, load average "
        f"{h['load_average_start']} → {h['load_average_end']}"
    )
    ctl = c["usage"].get("controller", {})
    rows = [
        ("every box on the new version", f"{c['push_s']} s (target: none set; floor {f['all_s']} s)"),
        ("  per box p50 / p99 / max", f"{c['p50_s']} / {c['p99_s']} / {c['max_s']} s"),
        ("  POST /api/v1/schedules (plan, save, compile, sign, publish)", f"{c['http_s']} s"),
        ("  bytes delivered", f"{c['bytes']:,} in {c['messages']} messages ({c['mean_bytes']} per box)"),
        ("  controller CPU meanwhile", f"{ctl.get('cpu_s')} s"),
        ("floor: same sizes, bare client", f"{f['all_s']} s (p50 {f['p50_s']} s)"),
        ("ratio to the floor", f"{result['ratio_to_floor']}×"),
        ("missing", f"{c['missing']} (floor {f['missing']})"),
    ]
    width = max(len(name) for name, _ in rows)
    print("\n".join(f"{name:<{width}}  {value}" for name, value in rows))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boxes", type=int, help="boxes (default 3000; quick 30)")
    parser.add_argument("--procs", type=int, default=3, help="box processes (default 3)")
    parser.add_argument("--pause-s", type=float, default=3.0, help="quiet time before each measurement")
    parser.add_argument("--timeout-s", type=float, default=300.0, help="longest wait for every box")
    parser.add_argument("--quick", action="store_true", help="CI size")
    parser.add_argument("--keep", type=Path, help="keep the controller's and broker's folder (logs) here")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "timeline_push.json")
    args = parser.parse_args(argv)
    args.boxes = args.boxes or (30 if args.quick else 3000)
    if args.quick:
        args.procs, args.pause_s = 1, min(args.pause_s, 0.5)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    exit_on_sigterm()
    raise_file_limit(args.boxes + 1000)
    host = host_info()
    work = args.keep or Path(tempfile.mkdtemp(prefix="loa-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        result = run(args, work)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    host["load_average_end"] = round(os.getloadavg()[0], 2)
    result.update(host=host, command=" ".join([Path(sys.executable).name, *sys.argv]))
    print_table(result)
    write_result(result, args.out)
    return 1 if result["change"]["missing"] or result["floor"]["missing"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
