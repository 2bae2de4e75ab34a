"""Issue 9's fault suite in one command: the soak, offline and hijack scenarios on a real fleet.

    .venv/bin/python bench/faults.py                 # CI size, all three (~2.5 minutes)
    .venv/bin/python bench/faults.py --size issue    # the issue's sizes: 200 boxes, 10 minutes
    .venv/bin/python bench/faults.py --size large    # 1,000 boxes, 60 minutes (also: loa fleet faults …)

Each scenario builds its own fleet (bench/fleet.py: enrolled boxes running the real agent, a real
Mosquitto with the registry's accounts and ACL, ``loa serve`` on SQLite):

* soak (bench/faults_soak.py): a compressed schedule aired through broker kill -9s, box-process
  kill -9s and controller kill -9s; then zero lost or doubled receipts, every item accounted for
  in the as-run, ``loa audit verify`` passes;
* offline (bench/faults_offline.py): boxes cut from the broker for 72 simulated hours, 150 items
  each; every receipt drains after reconnection;
* hijack (bench/faults_hijack.py): thousands of generated forged, replayed, expired, rolled-back
  and cross-commune documents; none plays, each is reported.

Writes bench/results/faults.json (``--out``) after each scenario (``complete`` once all ran) and
prints a table; exit 1 if any scenario failed.
``FAULTS_SIZE`` (ci, issue, large) chooses the size of tests/faults/ the same way.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from faults_hijack import HijackSize, run_hijack  # noqa: E402
from faults_offline import OfflineSize, run_offline  # noqa: E402
from faults_soak import SoakSize, run_soak  # noqa: E402
from fleet_support import exit_on_sigterm, host_info, raise_file_limit, write_result  # noqa: E402

SIZES: dict[str, dict[str, Any]] = {
    # Fits CI: all three in about 2.5 minutes on the 2-core machine.
    "ci": {
        "soak": SoakSize(
            50, 4, 45, 7.5, broker_kills=2, agent_kills=5, controller_restarts=1, drain_timeout_s=180
        ),
        "offline": OfflineSize(20, 1, 72, drain_timeout_s=180),
        "hijack": HijackSize(20, attempts=2000, box_account_attempts=200),
    },
    # The issue's: 200 boxes, 10 minutes, 5 broker kills, 20 agent kills, 2 controller restarts.
    "issue": {
        "soak": SoakSize(
            200, 4, 600, 15, broker_kills=5, agent_kills=20, controller_restarts=2, drain_timeout_s=600
        ),
        "offline": OfflineSize(20, 1, 72, drain_timeout_s=600),
        "hijack": HijackSize(200, attempts=10_000, box_account_attempts=1000),
    },
    "large": {
        "soak": SoakSize(
            1000, 4, 3600, 30, broker_kills=10, agent_kills=40, controller_restarts=4, drain_timeout_s=1800
        ),
        "offline": OfflineSize(1000, 4, 72, drain_timeout_s=3600),
        "hijack": HijackSize(1000, attempts=50_000, box_account_attempts=5000),
    },
}
SCENARIOS = ("soak", "offline", "hijack")
TEST_TIMEOUT_S = {"ci": 300, "issue": 3600, "large": 4 * 3600}  # per test of tests/faults/


def env_size() -> str:
    """The size tests/faults/ runs at: ``FAULTS_SIZE`` (ci, issue or large; ci by default)."""
    size = os.environ.get("FAULTS_SIZE", "ci")
    if size not in SIZES:
        raise SystemExit(f"FAULTS_SIZE must be one of {', '.join(sorted(SIZES))}, not {size!r}")
    return size


def size_for_tests(scenario: str) -> Any:
    """The scenario's size at ``FAULTS_SIZE``, the open-file limit raised for its connections."""
    size = SIZES[env_size()][scenario]
    raise_file_limit(size.boxes + 1000)
    return size


def log(text: str) -> None:
    print(f"… {text}", file=sys.stderr, flush=True)


def run(name: str, size: Any, work: Path, log: Any) -> dict[str, Any]:
    """One scenario at one size; its result (``passed``, ``problems``, its figures, ``seconds``)."""
    started = time.monotonic()
    if name == "soak":
        result = run_soak(work, size, log=log).result
    elif name == "offline":
        result = run_offline(work, size, log=log).result
    else:
        result = run_hijack(work, size, log=log).result
    return {"size": asdict(size), **result, "seconds": round(time.monotonic() - started, 1)}


def summary(name: str, r: dict[str, Any]) -> str:
    """One line of what a scenario did."""
    if name == "soak":
        kills = ", ".join(
            f"{k} {sum(f['kind'] == k for f in r['faults'])}" for k in ("broker", "agent", "controller")
        )
        verify = "ok" if r["audit_verify"] else "FAILED"
        return (
            f"{r['slots']} slots in {r['window_s']:.0f} s; kill -9: {kills}; "
            f"{r['receipts_stored']} receipts, drained in {r['drain_s']} s; "
            f"as-run {r['as_run']}; audit verify {verify}"
        )
    if name == "offline":
        return (
            f"{r['hours']} h offline, {r['items_due_per_box']['min']}+ items each; "
            f"{r['receipts_written_offline']} receipts drained in {r['drain_s']} s "
            f"({r['receipts_per_s']}/s); audit verify {'ok' if r['audit_verify'] else 'FAILED'}"
        )
    box = r["box_account"]
    return (
        f"{r['attempts']} attempts ({r['deliveries']} deliveries): {r['plays']} played, "
        f"{r['refusals_stored_by_controller']} refusals reported, "
        f"{r['security_receipts']} security receipts; box account: "
        f"{box['refused_by_broker']}/{box['foreign_topics']} refused by the broker, "
        f"{box['refused_by_controller']}/{box['forged_receipts']} forged receipts refused"
    )


def table(results: dict[str, dict[str, Any]]) -> str:
    rows = [("scenario", "boxes", "s", "verdict", "what happened")]
    for name, r in results.items():
        verdict = "passed" if r["passed"] else "FAILED: " + "; ".join(_problems(r))[:300]
        rows.append((name, str(r["size"]["boxes"]), str(r["seconds"]), verdict, summary(name, r)))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join(
        "  ".join([*(cell.ljust(w) for cell, w in zip(row[:4], widths, strict=True)), row[4]]) for row in rows
    )


def _problems(result: dict[str, Any]) -> list[str]:
    found = result.get("problems", [])
    if isinstance(found, dict):
        return [p for ps in found.values() for p in ps] or ["see the JSON"]
    return list(found) or ["see the JSON"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="ci")
    parser.add_argument("--only", default=",".join(SCENARIOS), help="comma-separated: soak,offline,hijack")
    parser.add_argument("--boxes", type=int, help="boxes, instead of the size's number")
    parser.add_argument("--keep", type=Path, help="build the fleets here and keep their folders and logs")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "faults.json")
    args = parser.parse_args(argv)
    exit_on_sigterm()
    chosen = [name for name in args.only.split(",") if name]
    sizes = SIZES[args.size]
    if args.boxes:
        sizes = {name: replace(size, boxes=args.boxes) for name, size in sizes.items()}
    raise_file_limit(max(getattr(sizes[name], "boxes", 0) for name in chosen) + 1000)
    work = args.keep or Path(tempfile.mkdtemp(prefix="loa-faults-"))
    work.mkdir(parents=True, exist_ok=True)
    host = host_info()
    results: dict[str, dict[str, Any]] = {}
    try:
        for name in chosen:
            log(f"{name} ({args.size})")
            results[name] = run(name, sizes[name], work, log)
            # Written after every scenario: a long run stopped midway keeps the verdicts it reached.
            host["load_average_end"] = round(os.getloadavg()[0], 2)
            report = {"size": args.size, "passed": all(r["passed"] for r in results.values())}
            report |= {"complete": len(results) == len(chosen), "host": host, "scenarios": results}
            write_result(report, args.out)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print(table(results))
    return 0 if all(r["passed"] for r in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
