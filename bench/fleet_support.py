"""Small helpers shared by bench/fleet.py and the benchmarks that drive it."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import queue
import resource
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
ROOT = Path(__file__).resolve().parents[1]


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def spread(values: list[float], digits: int = 3) -> dict[str, float | int | None]:
    """Count, p50, p99 and max of some latencies (seconds)."""
    if not values:
        return {"n": 0, "p50_s": None, "p99_s": None, "max_s": None}
    return {
        "n": len(values),
        "p50_s": round(percentile(values, 50), digits),
        "p99_s": round(percentile(values, 99), digits),
        "max_s": round(max(values), digits),
    }


def cpu_s(pid: int) -> float:
    """CPU seconds a process used so far (all threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def waited_s(pid: int) -> float:
    """Seconds the live threads of a process have spent runnable but not running."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError, IndexError, ValueError):  # a thread that just ended
            total += int((task / "schedstat").read_text().split()[1])
    return total / 1e9


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def netem_available() -> tuple[bool, str]:
    """Whether a network namespace with a ``tc netem`` qdisc can be made here (cleaned up again)."""
    name = f"loaprobe{os.getpid()}"
    steps = [
        ["ip", "netns", "add", name],
        ["ip", "link", "add", f"v{name}", "type", "veth", "peer", "name", f"p{name}"],
        ["ip", "link", "set", f"p{name}", "netns", name],
        [
            "ip",
            "netns",
            "exec",
            name,
            "tc",
            "qdisc",
            "add",
            "dev",
            f"p{name}",
            "root",
            "netem",
            "delay",
            "1ms",
        ],
    ]
    reason = "ok"
    try:
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                reason = f"{' '.join(step[:4])}…: {(done.stderr or done.stdout).strip()[:120]}"
                break
    except OSError as exc:
        reason = str(exc)
    finally:
        subprocess.run(["ip", "link", "del", f"v{name}"], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)
    return reason == "ok", reason


class Usage:
    """CPU (% of one core) and RSS of the fleet's processes over a window, the time their threads
    waited for a CPU while runnable (% of the window: a busy machine shows here), and the load
    average."""

    def __init__(self, pids: dict[str, list[int]]) -> None:
        self.pids, self.t0, self.load0 = pids, time.monotonic(), os.getloadavg()[0]
        self.before = {
            name: (sum(cpu_s(p) for p in ps), sum(waited_s(p) for p in ps)) for name, ps in pids.items()
        }

    def stop(self) -> dict[str, Any]:
        seconds = time.monotonic() - self.t0
        out: dict[str, Any] = {
            "seconds": round(seconds, 2),
            "load_average": [round(self.load0, 2), round(os.getloadavg()[0], 2)],
        }
        for name, ps in self.pids.items():
            used = sum(cpu_s(p) for p in ps) - self.before[name][0]
            waited = sum(waited_s(p) for p in ps) - self.before[name][1]
            out[name] = {
                "cpu_percent": round(used / seconds * 100, 1),
                "cpu_s": round(used, 2),
                "waited_for_cpu_percent": round(waited / seconds * 100, 1),
                "rss_mb": round(sum(rss_mb(p) for p in ps), 1),
            }
        return out


def host_info() -> dict[str, Any]:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    version = subprocess.run(["mosquitto", "-h"], capture_output=True, text=True, check=False).stdout
    netem, why = netem_available()
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "mosquitto": version.splitlines()[0] if version else None,
        "load_average_start": round(os.getloadavg()[0], 2),
        "netem": netem,
        "netem_note": why,
        "shared_machine": True,
    }


def exit_on_sigterm() -> None:
    """SIGTERM ends a benchmark like Ctrl-C: its fleet stops its processes and deletes its folders."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def stop_workers(workers: list[Worker], timeout_s: float = 60) -> None:
    """Stop box processes together: each is asked first, then all are waited for within one
    ``timeout_s`` (one after another, a fleet of four took four times as long to stop)."""
    for worker in workers:
        worker.request_stop()
    deadline = time.monotonic() + timeout_s
    for worker in workers:
        worker.stop(max(0.1, deadline - time.monotonic()))


def raise_file_limit(needed: int) -> None:
    """The broker and the box processes inherit the hard open-file limit."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < needed:
        raise SystemExit(f"fleet: the open-file limit ({hard}) is too low for {needed} connections")


def write_result(result: dict[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"\nwrote {out}")


class Worker:
    """A bench/fleet_boxes.py process, spoken to in JSON lines."""

    def __init__(self, argv: list[str], log_path: Path) -> None:
        self.log_path = log_path
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                argv, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True
            )
        self._events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._stop_requested = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._events.put(json.loads(line))
        self._events.put(None)

    def send(self, cmd: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(cmd) + "\n")
        self.process.stdin.flush()

    def wait_for(self, event: str, timeout_s: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                found = self._events.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise SystemExit(
                    f"fleet: no {event!r} from {self.log_path.name} in {timeout_s:.0f} s"
                ) from None
            if found is None:
                raise SystemExit(f"fleet: {self.log_path.name} exited:\n{self.log_path.read_text()[-2000:]}")
            if found["event"] == event:
                return found

    def request_stop(self) -> None:
        """Ask the process to stop (its boxes say offline and disconnect) without waiting for it."""
        if self.process.poll() is None and not self._stop_requested:
            with contextlib.suppress(OSError):  # it is exiting already
                self.send({"cmd": "stop"})
            self._stop_requested = True

    def stop(self, timeout_s: float = 60) -> None:
        """Ask the process to stop and wait for it; kill -9 it after ``timeout_s``."""
        self.request_stop()
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.close()

    def kill(self) -> None:
        """Kill -9 the process (its boxes die at once, mid-write or mid-airing)."""
        self.process.kill()
        self.process.wait()
        self.close()

    def close(self) -> None:
        """Close the pipes of a process that ended."""
        self._reader.join(5)
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
