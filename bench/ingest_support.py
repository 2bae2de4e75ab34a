"""What bench/status_ingest.py needs around the controller: seeding its database, reading it back
read-only, polling its API, talking to the swarm processes, and /proc figures."""

from __future__ import annotations

import contextlib
import re
import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from fleet_support import Worker

ROOT = Path(__file__).resolve().parents[1]


def sample(pid: int) -> dict[str, float]:
    """CPU ticks used so far (every thread), resident and peak resident MB of a process, and the
    seconds its live threads have waited for a CPU while runnable (a busy machine shows here)."""
    memory = {"VmRSS": 0, "VmHWM": 0}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name = line.split(":", 1)[0]
        if name in memory:
            memory[name] = int(line.split()[1])
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    waited_ns = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError, IndexError, ValueError):  # a thread that just ended
            waited_ns += int((task / "schedstat").read_text().split()[1])
    return {
        "ticks": int(fields[11]) + int(fields[12]),
        "rss_mb": memory["VmRSS"] / 1024,
        "hwm_mb": memory["VmHWM"] / 1024,
        "waited_s": waited_ns / 1e9,
    }


def seed_database(db_path: Path, device_ids: list[str], *, seed: int, password: str) -> float:
    """The controller's database before it starts: the province, a village per commune, every box
    registered with its public key (``register_device``, as the panel does), and an admin ``bench``.
    Returns the seconds it took."""
    from sqlalchemy import event
    from sqlmodel import Session, select
    from swarm import device_key

    from controller.db import make_engine, migrate
    from controller.devices import register_device
    from controller.models import Zone
    from controller.seed import add_user, add_village, load_province
    from playlists.signing import public_key_b64

    start = time.monotonic()
    url = f"sqlite:///{db_path}"
    migrate(url)
    engine = make_engine(url)

    @event.listens_for(engine, "connect")
    def _no_fsync(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dbapi_connection.execute("PRAGMA synchronous=OFF")  # seeding is not measured; the controller syncs

    with Session(engine) as session:
        load_province(session)
        communes = session.exec(select(Zone).where(Zone.kind == "commune").order_by(Zone.code)).all()
        villages = [add_village(session, commune=c, code=f"bench-{c.code}", name="Thôn 1") for c in communes]
        for n, device_id in enumerate(device_ids):
            register_device(
                session,
                device_id=device_id,
                name=f"Loa {n + 1}",
                zone_id=villages[n % len(villages)].id or 0,
                public_key=public_key_b64(device_key(device_id, seed).public_key()),
            )
        add_user(
            session, username="bench", full_name="Bench", password=password, role="admin", commune_ids=[]
        )
    engine.dispose()
    return time.monotonic() - start


class Child(Worker):
    """A bench/swarm.py process, spoken to in JSON lines (fleet_support.Worker), with the range of
    boxes it simulates."""

    def __init__(self, argv: list[str], log_path: Path, *, first: int = 0, count: int = 0) -> None:
        super().__init__(argv, log_path)
        self.first, self.count = first, count

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, timeout_s: float = 10) -> None:
        super().stop(timeout_s)


class Presence:
    """Every box's ``last_seen_at`` and state in the controller's SQLite, sampled read-only.

    Each status the controller stores moves the box's ``last_seen_at`` (its arrival time), and a box
    sends one every 10 s: sampled more often than that, every move seen is one status stored.
    """

    def __init__(self, db_path: Path, *, every_s: float) -> None:
        self._db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, check_same_thread=False)
        self._lock = threading.Lock()
        self._seen: dict[str, str | None] | None = None
        self.status_updates = 0
        self.online = 0
        self._stop = threading.Event()
        self._every_s = every_s
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        rows = self._db.execute("SELECT id, last_seen_at, state FROM device").fetchall()
        first = self._seen is None
        seen = self._seen if self._seen is not None else {}
        for device_id, last_seen, _state in rows:
            if not first and seen.get(device_id) != last_seen:
                self.status_updates += 1
            seen[device_id] = last_seen
        self._seen = seen
        self.online = sum(1 for _id, _seen, state in rows if state == "online")

    def _run(self) -> None:
        while not self._stop.wait(self._every_s):
            with self._lock:
                self._sample()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            self._sample()
            (receipts,) = self._db.execute("SELECT count(*) FROM receipt").fetchone()
            return {"t": time.time(), "status_updates": self.status_updates, "receipts": receipts}

    def wait_all_online(self, boxes: int, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                self._sample()
                if self.online >= boxes:
                    return True
            time.sleep(0.5)
        return False

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._db.close()


class OfflineInDb:
    """When each box's row first says ``offline``: what the API reads, without the API's cost."""

    def __init__(self, db_path: Path, *, every_s: float = 0.05) -> None:
        self._db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, check_same_thread=False)
        self.first: dict[str, float] = {}
        self._every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._every_s):
            now = time.time()
            for (device_id,) in self._db.execute("SELECT id FROM device WHERE state = 'offline'"):
                self.first.setdefault(device_id, now)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._db.close()


class Poller:
    """Asks the API for the offline boxes, again and again, as a panel left open would."""

    def __init__(self, http: httpx.Client, *, pause_s: float) -> None:
        self.polls: list[tuple[float, float, frozenset[str]]] = []  # sent, received, offline ids
        self.errors = 0
        self._http, self._pause_s = http, pause_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            sent = time.time()
            response = self._http.get("/api/v1/devices", params={"state": "offline"})
            if response.status_code == 200:
                self.polls.append((sent, time.time(), frozenset(d["id"] for d in response.json())))
            else:
                self.errors += 1
            self._stop.wait(self._pause_s)

    def shown_since(self, device: str, at: float) -> tuple[float, float] | None:
        """(sent, received) of the first poll sent after ``at`` that lists the box offline."""
        for sent, received, offline in list(self.polls):
            if sent >= at and device in offline:
                return sent, received
        return None

    def online_before(self, device: str, at: float) -> bool:
        """Whether the last poll answered before ``at`` did not list the box offline."""
        before = [offline for _sent, received, offline in self.polls if received <= at]
        return bool(before) and device not in before[-1]

    def seen_offline(self) -> set[str]:
        return set().union(*(offline for _s, _r, offline in self.polls))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def controller_log_summary(path: Path, limit: int = 6) -> dict[str, Any]:
    """Warnings and errors in the controller's log, the most frequent first (timestamps removed)."""
    counts: Counter[str] = Counter()
    tracebacks = 0
    for line in path.read_text(errors="replace").splitlines():
        tracebacks += line.startswith("Traceback")
        match = re.match(r"^\S+ \S+ (WARNING|ERROR|CRITICAL) (.*)$", line)
        if match:
            counts[f"{match[1]} {re.sub(r'[0-9]+', 'N', match[2])[:160]}"] += 1
    return {
        "warnings": sum(n for k, n in counts.items() if k.startswith("WARNING")),
        "errors": sum(n for k, n in counts.items() if not k.startswith("WARNING")),
        "tracebacks": tracebacks,
        "most_frequent": [{"line": k, "count": n} for k, n in counts.most_common(limit)],
    }
