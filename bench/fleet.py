"""Issue 9's fleet simulator: N enrolled boxes running the real agent, a real controller, a real broker.

``Fleet`` builds a world (bench/fleet_world.py: the province, every box registered and enrolled
through the registry, the broker's accounts and ACL written from it), runs a managed Mosquitto with
those files (``use_username_as_clientid``, the production queue limits of deploy/mosquitto/loa.conf),
the controller (``python -m loa serve``, SQLite or PostgreSQL), and box processes
(bench/fleet_boxes.py: a few thousand real agents each, one connection per box, no thread per box).
The benchmarks (bench/emergency_fanout.py, timeline_push.py, receipts_throughput.py,
panel_under_load.py) and the fault suite (bench/faults.py: it also kills the broker, box processes
and the controller, and cuts boxes off) drive it; on its own it runs a fleet until Ctrl-C:

    .venv/bin/python bench/fleet.py --boxes 1000 [--procs 4] [--database postgresql] [--schedules]

Box folders go to /dev/shm (a RAM disk) unless ``Fleet(box_root=…)`` says otherwise: 10,000 outboxes
with ``synchronous=FULL`` on one shared disk would measure that disk, not Loa (a real box has its
own). ``tc netem`` (loss, delay) needs the kernel's sch_netem: ``fleet_support.netem_available``
says whether it is there (every benchmark records it in ``host.netem``); where it is not (this
machine), the fleet runs without it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from fleet_boxes import device_id  # noqa: E402
from fleet_support import Worker, exit_on_sigterm, raise_file_limit, stop_workers  # noqa: E402
from fleet_world import Seeded, seed_world  # noqa: E402

from loa.mosquitto import Mosquitto, free_port  # noqa: E402

FLOOR_ACCOUNT = "bench_floor"  # a controller replica's account: the bare publisher and acker
# What deploy/mosquitto/loa.conf sets (production), on the one plain listener used here.
BROKER_CONFIG = (
    "max_inflight_messages 20\nset_tcp_nodelay true\n"
    "connection_messages false\nuse_username_as_clientid true\n"
)


class Fleet:
    """A seeded world, its broker and controller, and the box processes; ``close`` ends them all."""

    def __init__(
        self,
        work: Path,
        *,
        boxes: int,
        procs: int = 4,
        database: str = "sqlite",
        status_every_s: float = 60.0,
        offsets_ms: int = 0,
        schedules: bool = False,
        broker_queue: int = 1000,
        sink: str = "null",
        box_root: Path | None = None,
        log: Any = None,
    ) -> None:
        self.work, self.capacity, self.procs = work, boxes, procs
        self.database, self.status_every_s, self.offsets_ms = database, status_every_s, offsets_ms
        self.schedules, self.broker_queue, self.sink = schedules, broker_queue, sink
        shm = Path("/dev/shm")
        base = box_root or (shm if shm.is_dir() and os.access(shm, os.W_OK) else work)
        self.box_root = Path(tempfile.mkdtemp(prefix="loa-fleet-", dir=base))
        self.progress = log or (lambda text: print(f"… {text}", file=sys.stderr, flush=True))
        self.workers: list[Worker] = []
        self.ranges: list[list[tuple[int, int]]] = []  # per box process: the (first, count) it runs
        self.restarts = 0
        self.boxes = 0
        self.broker: Mosquitto | None = None
        self.controller: subprocess.Popen[bytes] | None = None
        self.postgres: Any = None
        self.url = ""
        self.seeded: Seeded | None = None
        self.env: dict[str, str] = {}
        self.versions: dict[str, int] = {}  # the timeline version each box last accepted
        self.acks: list[float] = []  # receipt → ack latencies seen by every mark so far

    # --- the world ------------------------------------------------------------------------------

    def seed(self) -> Seeded:
        from controller.settings import Settings

        port, broker_dir = free_port(), self.work / "broker"
        broker_dir.mkdir(parents=True, exist_ok=True)
        values: dict[str, Any] = {
            "environment": "development",
            "data_dir": self.work / "controller",
            "host": "127.0.0.1",
            "port": free_port(),
            "mqtt_host": "127.0.0.1",
            "mqtt_port": port,
            "mqtt_username": "loa_controller",
            "mqtt_password": secrets.token_urlsafe(24),
            "mqtt_controller_usernames": f"loa_controller,{FLOOR_ACCOUNT}",
            "broker_password_file": broker_dir / "passwords",
            "broker_acl_file": broker_dir / "acl",
            "broker_pid_file": broker_dir / "mosquitto.pid",
            "status_interval_seconds": max(5, round(self.status_every_s)),
            "emergency_two_person": True,
        }
        if self.database == "postgresql":
            from loa.postgres import Postgres

            self.postgres = Postgres().start()  # its own folder: the server runs as postgres
            values["database_url"] = self.postgres.url
        values["public_url"] = f"http://127.0.0.1:{values['port']}"
        self.env = {
            f"LOA_{k.upper()}": str(v).lower() if isinstance(v, bool) else str(v) for k, v in values.items()
        }
        self.settings = Settings(**values)
        self.progress(f"seeding {self.capacity} boxes ({self.database})")
        self.seeded = seed_world(
            self.settings,
            boxes=self.capacity,
            box_root=self.box_root,
            schedules=self.schedules,
            device_id=device_id,
        )
        self.broker = Mosquitto(
            broker_dir,
            port=port,
            password_file=self.settings.broker_password_file,
            acl_file=self.settings.broker_acl_file,
            extra_config=f"max_connections {self.capacity + 100}\nmax_queued_messages {self.broker_queue}\n"
            + BROKER_CONFIG,
            user="root" if os.geteuid() == 0 else None,
        ).start()
        assert self.broker.process is not None
        (broker_dir / "mosquitto.pid").write_text(f"{self.broker.process.pid}\n")
        return self.seeded

    def start_controller(self, extra_env: dict[str, str] | None = None) -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOA_")} | self.env | (extra_env or {})
        with (self.work / "controller.log").open("ab") as log:  # the child keeps its own copy
            self.controller = subprocess.Popen(
                [sys.executable, "-m", "loa", "--log-level", "WARNING", "serve"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=log,
            )
        self.url = self.env["LOA_PUBLIC_URL"]
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.controller.poll() is not None:
                raise SystemExit(
                    f"fleet: the controller exited:\n{(self.work / 'controller.log').read_text()[-3000:]}"
                )
            with contextlib.suppress(httpx.HTTPError):  # not listening yet
                if httpx.get(f"{self.url}/healthz", timeout=2).json().get("mqtt"):
                    return self.url
            time.sleep(0.2)
        raise SystemExit("fleet: the controller did not reach the broker within 180 s")

    def stop_controller(self) -> None:
        if self.controller is not None and self.controller.poll() is None:
            self.controller.send_signal(signal.SIGTERM)
            try:
                self.controller.wait(30)
            except subprocess.TimeoutExpired:
                self.controller.kill()
                self.controller.wait()
        self.controller = None

    # --- the boxes ------------------------------------------------------------------------------

    def grow(self, total: int, *, timeout_s: float | None = None) -> float:
        """Bring the fleet to ``total`` boxes online (new ones spread over the processes)."""
        start, first = time.monotonic(), self.boxes
        if total <= first:
            return 0.0
        if total > self.capacity:
            raise ValueError(f"the world holds {self.capacity} boxes")
        while len(self.workers) < min(self.procs, total):
            self.workers.append(self._spawn(len(self.workers), f"boxes-{len(self.workers)}.log"))
            self.ranges.append([])
        per = -(-(total - first) // len(self.workers))
        busy = []
        for n, worker in enumerate(self.workers):
            lo = first + n * per
            count = min(per, total - lo)
            if count > 0:
                worker.send({"cmd": "add", "first": lo, "count": count})
                self.ranges[n].append((lo, count))
                busy.append(worker)
        for worker in busy:
            worker.wait_for("ready", timeout_s or 120 + (total - first) / 20)
        self.boxes = total
        return time.monotonic() - start

    def _spawn(self, n: int, log_name: str) -> Worker:
        argv = [sys.executable, str(HERE / "fleet_boxes.py"), "--root", str(self.box_root)]
        argv += ["--status-every-s", str(self.status_every_s), "--offsets-ms", str(self.offsets_ms)]
        argv += ["--sink", self.sink]
        assert self.seeded is not None
        argv += ["--media-sha256", self.seeded.media[0]["sha256"]]
        if os.environ.get("BENCH_PROFILE_BOXES"):  # a folder: one cProfile file per process
            argv += ["--profile", str(Path(os.environ["BENCH_PROFILE_BOXES"]) / f"boxes-{n}.prof")]
        return Worker(argv, self.work / log_name)

    def kill_worker(self, n: int) -> None:
        """Kill -9 box process ``n``: every agent in it dies at once, mid-write or mid-airing."""
        self.workers[n].kill()

    def restart_worker(self, n: int, *, timeout_s: float = 180) -> float:
        """A new process for the boxes process ``n`` ran, over the same box folders (keys, outboxes,
        timelines): the real agent starting after a crash. Seconds until they are all online."""
        start = time.monotonic()
        self.restarts += 1
        worker = self._spawn(n, f"boxes-{n}-restart-{self.restarts}.log")
        self.workers[n] = worker
        for lo, count in self.ranges[n]:
            worker.send({"cmd": "add", "first": lo, "count": count})
        worker.wait_for("ready", timeout_s)
        return time.monotonic() - start

    def kill_broker(self) -> None:
        """Kill -9 the broker (what it had not saved yet is lost, as in a crash)."""
        assert self.broker is not None
        self.broker.kill()

    def start_broker(self) -> None:
        """Start the broker again on the same port, folder and files (its saved state restored)."""
        assert self.broker is not None
        self.broker.start()
        assert self.broker.process is not None
        (self.work / "broker" / "mosquitto.pid").write_text(f"{self.broker.process.pid}\n")

    def kill_controller(self) -> None:
        """Kill -9 the controller."""
        if self.controller is not None:
            self.controller.kill()
            self.controller.wait()
        self.controller = None

    def stop_boxes(self) -> None:
        """Every box stops as ``loa agent`` does (offline status, disconnect); the world stays."""
        workers, self.workers, self.ranges, self.boxes = self.workers, [], [], 0
        stop_workers(workers)

    def ask(self, cmd: dict[str, Any], event: str, timeout_s: float = 60) -> list[dict[str, Any]]:
        for worker in self.workers:
            worker.send(cmd)
        return [worker.wait_for(event, timeout_s) for worker in self.workers]

    def mark(self) -> dict[str, Any]:
        """Every box process's counts, summed (``ack_s``: latencies since the last mark)."""
        replies = self.ask({"cmd": "mark"}, "mark")
        total: dict[str, Any] = {"t": time.time(), "ack_s": [s for r in replies for s in r["ack_s"]]}
        self.acks += total["ack_s"]
        keys = (
            "boxes",
            "online",
            "acked",
            "outstanding",
            "drops",
            "cpu_s",
            "steps",
            "step_errors",
            "reports_sent",
        )
        for key in keys:
            total[key] = sum(r[key] for r in replies)
        total.update(receipts_made=sum(r["receipts_made"] for r in replies))
        total["rss_mb"] = round(sum(r["rss_mb"] for r in replies), 1)
        total["longest_turn_s"] = max(r["longest_turn_s"] for r in replies)
        return total

    def take_acks(self) -> list[float]:
        """Receipt → ack latencies of every receipt acked since the last call."""
        self.mark()
        acks, self.acks = self.acks, []
        return acks

    def events(self, kind: str) -> list[list[Any]]:
        return [row for reply in self.ask({"cmd": "events", "kind": kind}, "events") for row in reply["rows"]]

    def receipts(self, **cmd: Any) -> None:
        for worker in self.workers:
            worker.send({"cmd": "receipts", **cmd})

    def wait_drained(self, timeout_s: float) -> float | None:
        """Seconds until every receipt written so far is acked (None: not within the timeout)."""
        start = time.monotonic()
        while time.monotonic() - start < timeout_s:
            if self.mark()["outstanding"] == 0:
                return time.monotonic() - start
            time.sleep(0.5)
        return None

    def wait_timelines(self, version: int, timeout_s: float) -> tuple[dict[str, float], list[list[Any]]]:
        """Wait until every box holds ``version`` (or later); when each new acceptance came, and the
        timeline arrivals seen meanwhile."""
        accepted: dict[str, float] = {}
        arrivals: list[list[Any]] = []
        deadline = time.monotonic() + timeout_s
        while True:
            for name, got, at in self.events("timeline"):
                self.versions[name] = max(got, self.versions.get(name, 0))
                if got >= version:
                    accepted.setdefault(name, at)
            arrivals += [row for row in self.events("arrival") if row[1] == "timeline"]
            behind = sum(1 for n in range(self.boxes) if self.versions.get(device_id(n), 0) < version)
            if not behind or time.monotonic() > deadline:
                return accepted, arrivals
            time.sleep(0.25)

    # --- clients of the controller and the broker ------------------------------------------------

    def login(self, username: str = "bench-admin") -> httpx.Client:
        assert self.seeded is not None
        http = httpx.Client(base_url=self.url, timeout=120)
        answer = http.post(
            "/api/v1/auth/token", json={"username": username, "password": self.seeded.users[username]}
        )
        answer.raise_for_status()
        http.headers["Authorization"] = f"Bearer {answer.json()['token']}"
        return http

    def post_schedules(self, bulletin_id: int, rules: list[Any]) -> list[int]:
        """Province-wide schedules of ``bulletin_id``, one per ``playlists.rules.Rule``, through the API
        (clashes accepted); returns their ids."""
        assert self.seeded is not None
        http, ids = self.login(), []
        try:
            for rule in rules:
                answer = http.post(
                    "/api/v1/schedules",
                    json={
                        "bulletin_id": bulletin_id,
                        "target_zone_id": self.seeded.province_id,
                        "rule": rule.model_dump(mode="json"),
                        "accept_clashes": True,
                    },
                )
                answer.raise_for_status()
                ids.append(int(answer.json()["id"]))
        finally:
            http.close()
        return ids

    def rows(self, sql: str, **params: Any) -> list[Any]:
        """Rows of one read on the controller's database (an engine of its own, disposed after)."""
        from sqlalchemy import create_engine, text

        engine = create_engine(self.settings.resolved_database_url)
        try:
            with engine.connect() as db:
                return list(db.execute(text(sql), params).all())
        finally:
            engine.dispose()

    def bare_client(self) -> Any:
        """A paho client on the floor account (a controller replica's rights), connected."""
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id=FLOOR_ACCOUNT, protocol=mqtt.MQTTv5
        )
        client.username_pw_set(FLOOR_ACCOUNT, self.settings.mqtt_password)
        connected = threading.Event()
        client.on_connect = lambda *_: connected.set()
        client.connect("127.0.0.1", self.settings.mqtt_port, keepalive=30)
        client.loop_start()
        if not connected.wait(10):
            raise SystemExit("fleet: the bare client could not connect")
        return client

    def pids(self) -> dict[str, list[int]]:
        found = {"boxes": [w.process.pid for w in self.workers]}
        if self.broker is not None and self.broker.process is not None:
            found["broker"] = [self.broker.process.pid]
        if self.controller is not None:
            found["controller"] = [self.controller.pid]
        return found

    def close(self) -> None:
        """Stop the boxes, the controller, the broker and PostgreSQL, in that order. Each is stopped
        even if stopping one before it failed or was interrupted (a second Ctrl-C or SIGTERM), so no
        broker or database is left running."""
        with contextlib.ExitStack() as stopping:  # runs the callbacks last-registered first
            stopping.callback(shutil.rmtree, self.box_root, ignore_errors=True)
            if self.postgres is not None:
                stopping.callback(self.postgres.stop)
            if self.broker is not None:
                stopping.callback(self.broker.stop)
            stopping.callback(self.stop_controller)
            stopping.callback(self.stop_boxes)

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boxes", type=int, default=1000)
    parser.add_argument("--procs", type=int, default=4, help="box processes")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--status-every-s", type=float, default=60.0)
    parser.add_argument("--offsets-ms", type=int, default=0, help="box clocks off by up to ± this")
    parser.add_argument("--schedules", action="store_true", help="seed daily schedules (7-day timelines)")
    parser.add_argument("--receipts-per-s", type=float, default=0.0, help="made-up receipts, all boxes")
    parser.add_argument("--work", type=Path, help="keep the controller's and broker's folder here")
    args = parser.parse_args(argv)
    exit_on_sigterm()
    raise_file_limit(args.boxes + 1000)
    work = args.work or Path(tempfile.mkdtemp(prefix="loa-fleet-work-"))
    work.mkdir(parents=True, exist_ok=True)
    with Fleet(
        work,
        boxes=args.boxes,
        procs=args.procs,
        database=args.database,
        status_every_s=args.status_every_s,
        offsets_ms=args.offsets_ms,
        schedules=args.schedules,
    ) as fleet:
        seeded = fleet.seed()
        url = fleet.start_controller()
        print(f"controller {url} (users: {', '.join(f'{u} / {p}' for u, p in seeded.users.items())})")
        print(f"{args.boxes} boxes online after {fleet.grow(args.boxes):.1f} s; Ctrl-C stops everything")
        fleet.receipts(per_s=args.receipts_per_s / max(1, len(fleet.workers)))
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(10)
                m = fleet.mark()
                print(f"online {m['online']}/{m['boxes']}, acked {m['acked']}, awaiting {m['outstanding']}")
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
