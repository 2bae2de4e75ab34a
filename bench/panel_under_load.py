"""Issue 9's benchmark: how fast the panel answers while a province's boxes are online and reporting.

A fleet (bench/fleet.py) of 3,000 enrolled boxes running the real agent: each holds its 7-day
timeline, sends its status every 10 s (``LOA_STATUS_INTERVAL_SECONDS=10``) and the boxes send 50
receipts/s between them, through their real outboxes. An admin (who sees the whole province) logs
in through the panel's form and requests the main pages and the device list again and again, one
at a time, as a user clicking around would: latency of each request, p50 and p99 per page.

Baseline, same run: the same requests once the boxes have stopped (the database holds the same
boxes, receipts and history; only the load is gone). The ratio is loaded over idle.

    .venv/bin/python bench/panel_under_load.py              # 3,000 boxes, 20 rounds of every page
    .venv/bin/python bench/panel_under_load.py --quick      # 30 boxes, 2 rounds (CI smoke)

Prints a table and writes bench/results/panel_under_load.json.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

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

PAGES = (
    "/",
    "/devices",
    "/devices?state=offline",
    "/api/v1/devices",
    "/bulletins",
    "/schedules",
    "/asrun",
    "/emergency",
    "/registry",
)


def panel_client(fleet: Fleet) -> tuple[httpx.Client, int]:
    """Logged in through the panel's own form (a session cookie) and the API (a bearer token);
    with how many attempts failed (a busy controller may answer 500: tried again 2 s later)."""
    assert fleet.seeded is not None
    http = httpx.Client(base_url=fleet.url, timeout=120, follow_redirects=False)
    password = fleet.seeded.users["bench-admin"]
    failures = 0
    for _attempt in range(10):
        form = http.post("/login", data={"username": "bench-admin", "password": password})
        token = http.post("/api/v1/auth/token", json={"username": "bench-admin", "password": password})
        if form.status_code == 303 and token.status_code == 200:
            http.headers["Authorization"] = f"Bearer {token.json()['token']}"
            return http, failures
        failures += 1
        time.sleep(2)
    raise SystemExit(
        f"panel_under_load: no login after {failures} attempts ({form.status_code}, {token.status_code})"
    )


def browse(fleet: Fleet, http: httpx.Client, rounds: int) -> dict[str, Any]:
    """Every page ``rounds`` times, one request at a time; latency per page."""
    timings: dict[str, list[float]] = {page: [] for page in PAGES}
    errors: dict[str, int] = {}
    sizes: dict[str, int] = {}
    usage = Usage(fleet.pids())
    for _ in range(rounds):
        for page in PAGES:
            start = time.perf_counter()
            answer = http.get(page)
            timings[page].append(time.perf_counter() - start)
            sizes[page] = len(answer.content)
            if answer.status_code != 200:
                errors[page] = errors.get(page, 0) + 1
    used = usage.stop()
    return {
        "pages": {page: {**spread(values, 4), "bytes": sizes[page]} for page, values in timings.items()},
        "all": spread([t for values in timings.values() for t in values], 4),
        "errors": errors,
        "usage": used,
    }


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    with Fleet(
        work, boxes=args.boxes, procs=args.procs, schedules=True, status_every_s=args.status_every_s
    ) as fleet:
        seeded = fleet.seed()
        fleet.start_controller(dict(item.split("=", 1) for item in args.controller_env))
        grow_s = fleet.grow(args.boxes)
        fleet.wait_timelines(1, 300 + args.boxes / 10)
        fleet.wait_drained(120)
        fleet.receipts(
            per_s=args.receipts_per_s / len(fleet.workers), schedule_id=1 if seeded.schedules else None
        )
        time.sleep(args.warmup_s)
        http, login_failures = panel_client(fleet)
        before = fleet.mark()
        fleet.progress(f"loaded: {args.rounds} rounds of {len(PAGES)} pages")
        loaded = browse(fleet, http, args.rounds)
        after = fleet.mark()
        seconds = after["t"] - before["t"]
        reporting = {
            "login_failures": login_failures,
            "online": after["online"],
            "receipts_acked_per_s": round((after["acked"] - before["acked"]) / seconds, 1),
            "ack_latency": spread(after["ack_s"]),
        }
        fleet.receipts(per_s=0)
        fleet.wait_drained(120)
        fleet.stop_boxes()
        time.sleep(args.pause_s)
        fleet.progress("idle: the same pages, boxes stopped")
        idle = browse(fleet, http, args.rounds)
    ratios = {
        page: round(loaded["pages"][page]["p99_s"] / idle["pages"][page]["p99_s"], 2)
        for page in PAGES
        if loaded["pages"][page]["p99_s"] and idle["pages"][page]["p99_s"]
    }
    return {
        "boxes": args.boxes,
        "p50_s": loaded["all"]["p50_s"],
        "p99_s": loaded["all"]["p99_s"],
        "device_list_p99_s": loaded["pages"]["/devices"]["p99_s"],
        "loaded": loaded,
        "idle": idle,
        "ratio_p99_loaded_to_idle": ratios,
        "reporting": reporting,
        "status_every_s": args.status_every_s,
        "controller_env": args.controller_env,
        "receipts_per_s_offered": args.receipts_per_s,
        "rounds": args.rounds,
        "grow_s": round(grow_s, 1),
        "seeded_s": seeded.seconds,
    }


def print_table(result: dict[str, Any]) -> None:
    h, r = result["host"], result["reporting"]
    print(
        f"Loa panel under load — {result['boxes']} boxes on, status every {result['status_every_s']:g} s, "
        f"{r['receipts_acked_per_s']} receipts/s acked; {result['rounds']} requests per page; "
        f"{h['cpus']} CPUs, load average {h['load_average_start']} → {h['load_average_end']}"
    )
    print(f"{'page':<24} | {'loaded p50':>10} {'p99':>7} | {'idle p50':>8} {'p99':>7} | {'ratio':>5} | bytes")
    for page in PAGES:
        lo, idle = result["loaded"]["pages"][page], result["idle"]["pages"][page]
        print(
            f"{page:<24} | {lo['p50_s']!s:>10} {lo['p99_s']!s:>7} | {idle['p50_s']!s:>8} "
            f"{idle['p99_s']!s:>7} | {result['ratio_p99_loaded_to_idle'].get(page)!s:>5} | {lo['bytes']:,}"
        )
    idle = result["idle"]["all"]
    print(
        f"all pages: loaded p50 {result['p50_s']} s, p99 {result['p99_s']} s; "
        f"idle p50 {idle['p50_s']} s, p99 {idle['p99_s']} s"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boxes", type=int, help="boxes (default 3000; quick 30)")
    parser.add_argument("--procs", type=int, default=3, help="box processes (default 3)")
    parser.add_argument("--rounds", type=int, help="requests per page (default 20; quick 2)")
    parser.add_argument("--status-every-s", type=float, default=10.0, help="each box's status interval")
    parser.add_argument("--receipts-per-s", type=float, default=50.0, help="receipts per second, all boxes")
    parser.add_argument("--warmup-s", type=float, help="load before measuring (default 20; quick 1)")
    parser.add_argument("--pause-s", type=float, default=5.0, help="after the boxes stop, before idle")
    parser.add_argument(
        "--controller-env",
        action="append",
        default=[],
        metavar="LOA_X=VALUE",
        help="a setting for the controller (repeatable)",
    )
    parser.add_argument("--quick", action="store_true", help="CI size")
    parser.add_argument("--keep", type=Path, help="keep the controller's and broker's folder (logs) here")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "panel_under_load.json")
    args = parser.parse_args(argv)
    args.boxes = args.boxes or (30 if args.quick else 3000)
    args.rounds = args.rounds or (2 if args.quick else 20)
    args.warmup_s = args.warmup_s if args.warmup_s is not None else (1.0 if args.quick else 20.0)
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
    errors = sum(result["loaded"]["errors"].values()) + sum(result["idle"]["errors"].values())
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
