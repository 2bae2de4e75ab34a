"""Two controllers on PostgreSQL and Mosquitto: the leader dies in the middle of a schedule change.

Real processes throughout: a PostgreSQL server, a Mosquitto broker, two ``loa serve`` replicas sharing
them (and a data folder, as replicas share the signing key and media store), and four ``loa agent``
boxes enrolled through the API with file sinks. The test holds the cluster-wide compile lock so that
the leader, answering an editor's new schedule, has committed the schedule but not yet published any
timeline; then it kills the leader with SIGKILL. The other replica must take the lead, publish the new
timelines, and every box must play the new item; every receipt must be stored exactly once (each
box's sequence numbers contiguous and equal to its outbox's), and the audit chain must verify.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlmodel import Session, select

from controller.db import migrate
from controller.leader import mutex_for
from controller.models import Zone
from controller.seed import add_user, add_village, load_province
from edge_agent.outbox import OUTBOX_FILE
from loa.mosquitto import Mosquitto, free_port, wait_for_port
from loa.postgres import Postgres
from tests.databases import on_postgresql

pytestmark = [
    pytest.mark.integration,
    pytest.mark.e2e,
    pytest.mark.skipif(on_postgresql(), reason="runs on its own PostgreSQL server anyway: once is enough"),
]
PASSWORD = "failover-test-password"  # test fixture only
BOXES = ("box-1", "box-2", "box-3", "box-4")
T = TypeVar("T")


def eventually(check: Callable[[], T | None], *, timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


@dataclass
class Cluster:
    root: Path
    database_url: str
    broker: Mosquitto
    ports: dict[str, int]
    replicas: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    agents: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def env(self, name: str) -> dict[str, str]:
        return {
            **os.environ,
            "LOA_ENVIRONMENT": "development",
            "LOA_DATA_DIR": str(self.root / "controller"),
            "LOA_DATABASE_URL": self.database_url,
            "LOA_PORT": str(self.ports[name]),
            "LOA_PUBLIC_URL": self.url("b"),  # boxes fetch media from the replica that survives
            "LOA_MQTT_PORT": str(self.broker.port),
            "LOA_MQTT_CLIENT_ID": f"loa-controller-{name}",
            "LOA_COMPILE_INTERVAL_SECONDS": "3600",  # only schedule changes and a new leader publish
            "LOA_LEADER_CHECK_SECONDS": "0.2",
            "LOA_TTS_ENGINE": "espeak-ng",
        }

    def start_replica(self, name: str) -> None:
        with (self.root / f"replica-{name}.log").open("ab") as log:
            command = [sys.executable, "-m", "loa", "serve"]
            self.replicas[name] = subprocess.Popen(
                command, env=self.env(name), stdout=log, stderr=subprocess.STDOUT
            )
        wait_for_port("127.0.0.1", self.ports[name], timeout=60)

    def is_leader(self, name: str) -> bool:
        try:
            return bool(httpx.get(f"{self.url(name)}/healthz", timeout=5).json()["leader"])
        except httpx.HTTPError:
            return False

    def token(self, name: str, username: str) -> dict[str, str]:
        login = {"username": username, "password": PASSWORD}
        answer = httpx.post(f"{self.url(name)}/api/v1/auth/token", json=login, timeout=10)
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"Bearer {answer.json()['token']}"}


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with Postgres() as postgres, Mosquitto(tmp_path / "broker") as broker:
        url = postgres.url.replace("postgresql://", "postgresql+psycopg://", 1)
        migrate(url)
        engine = create_engine(url)
        with Session(engine) as session:
            load_province(session)
            commune = session.exec(select(Zone).where(Zone.kind == "commune").order_by(Zone.name)).first()
            assert commune is not None and commune.id is not None
            add_village(session, commune=commune, code="thon-1", name="Thôn 1")
            for username, role in (("editor", "editor"), ("approver", "approver"), ("tech", "technician")):
                add_user(
                    session, username=username, full_name=username, password=PASSWORD, role=role,
                    commune_ids=[commune.id],
                )  # fmt: skip
        engine.dispose()
        running = Cluster(tmp_path, url, broker, {"a": free_port(), "b": free_port()})
        try:
            yield running
        finally:
            for process in [*running.agents, *running.replicas.values()]:
                if process.poll() is None:
                    process.terminate()
            for process in [*running.agents, *running.replicas.values()]:
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def _enrol_boxes(cluster: Cluster, village_id: int) -> None:
    tech = cluster.token("a", "tech")
    for device_id in BOXES:
        registered = httpx.post(
            f"{cluster.url('a')}/api/v1/devices",
            headers=tech,
            json={"device_id": device_id, "name": device_id, "zone_id": village_id},
            timeout=10,
        )
        assert registered.status_code == 201, registered.text
        box = cluster.root / device_id
        code = registered.json()["enrolment_code"]
        files = ["--config", str(box / "agent.toml"), "--data-dir", str(box / "data"), "--sink", "file"]
        enrol = [sys.executable, "-m", "loa", "agent", "enroll", "--controller", cluster.url("b")]
        files += ["--code", code]
        enrolled = subprocess.run(
            [*enrol, *files],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert enrolled.returncode == 0, enrolled.stderr
        with (box / "agent.log").open("ab") as log:
            cluster.agents.append(
                subprocess.Popen(
                    [sys.executable, "-m", "loa", "agent", "--config", str(box / "agent.toml")],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )


def _approved_bulletin(cluster: Cluster, commune_id: int) -> int:
    editor, approver = cluster.token("a", "editor"), cluster.token("a", "approver")
    created = httpx.post(
        f"{cluster.url('a')}/api/v1/bulletins",
        headers=editor,
        json={"commune_id": commune_id, "title": "Lịch tiêm phòng", "body": "Kính thưa bà con."},
        timeout=10,
    )
    assert created.status_code == 201, created.text
    bulletin_id = int(created.json()["id"])
    submitted = httpx.post(f"{cluster.url('a')}/api/v1/bulletins/{bulletin_id}/submit", headers=editor)
    assert submitted.status_code == 200, submitted.text
    approved = httpx.post(
        f"{cluster.url('a')}/api/v1/bulletins/{bulletin_id}/approve", headers=approver, timeout=120
    )
    assert approved.status_code == 200, approved.text
    return bulletin_id


def test_the_leader_dies_mid_schedule_change_and_nothing_is_lost(cluster: Cluster) -> None:
    engine = create_engine(cluster.database_url)

    def rows(sql: str, **params: object) -> list[tuple[object, ...]]:
        with engine.connect() as db:
            return [tuple(row) for row in db.execute(text(sql), params)]

    commune_id, village_id = rows("SELECT parent_id, id FROM zone WHERE code = 'thon-1'")[0]
    cluster.start_replica("a")
    eventually(lambda: cluster.is_leader("a"), timeout=30, what="replica a leading")
    cluster.start_replica("b")
    time.sleep(1)
    assert not cluster.is_leader("b"), "one leader at a time"
    _enrol_boxes(cluster, int(str(village_id)))
    bulletin_id = _approved_bulletin(cluster, int(str(commune_id)))
    editor = cluster.token("a", "editor")

    def schedule(in_seconds: int) -> httpx.Response:
        return httpx.post(
            f"{cluster.url('a')}/api/v1/schedules",
            headers=editor,
            json={"bulletin_id": bulletin_id, "target_zone_id": village_id, "in_seconds": in_seconds},
            timeout=60,
        )

    def played(schedule_id: int) -> set[str]:
        sql = "SELECT DISTINCT device_id FROM receipt WHERE schedule_id = :s AND event = 'completed'"
        return {str(row[0]) for row in rows(sql, s=schedule_id)}

    # Boxes online and playing: receipts flow through the shared subscription to both replicas.
    first = schedule(8)
    assert first.status_code == 201, first.text
    # The schedule change: the leader commits it, then waits for the compile lock we hold.
    compile_lock = mutex_for(engine, cluster.root, "compile")
    release, held = threading.Event(), threading.Event()

    def hold() -> None:
        with compile_lock():
            held.set()
            release.wait(120)

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    assert held.wait(10)
    answers: list[object] = []
    change = threading.Thread(target=lambda: answers.append(_try(lambda: schedule(25))), daemon=True)
    change.start()
    try:
        eventually(
            lambda: rows("SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"),
            timeout=30,
            what="the leader blocked on the compile lock, its schedule committed",
        )
        new_schedule = rows("SELECT max(id) FROM schedule")[0][0]
        assert new_schedule != first.json()["id"], "the new schedule is stored before any timeline is sent"
        started = "SELECT COUNT(DISTINCT device_id) FROM receipt WHERE schedule_id = :s AND event = 'started'"
        on_air = lambda: rows(started, s=first.json()["id"])[0][0] == len(BOXES)  # noqa: E731
        eventually(on_air, timeout=30, what="the first item on air (receipts flowing)")
        cluster.replicas["a"].send_signal(signal.SIGKILL)
        cluster.replicas["a"].wait(10)
    finally:
        release.set()
    change.join(30)
    # The request waits at most REQUEST_WAIT_S for the compile (controller/timelines.py): the editor
    # got "saved" (201) while the compile waited for the lock, or saw the leader die if it died first.
    [answer] = answers
    assert isinstance(answer, httpx.HTTPError) or getattr(answer, "status_code", None) == 201, answer
    eventually(lambda: cluster.is_leader("b"), timeout=15, what="replica b taking the lead")

    new_id = int(str(new_schedule))
    first_id = int(first.json()["id"])
    eventually(lambda: played(first_id) == set(BOXES), timeout=60, what="the first item on every box")
    eventually(lambda: played(new_id) == set(BOXES), timeout=90, what="the new item on every box")

    def drained() -> bool:
        return all(_outbox_pending(cluster.root / box) == 0 for box in BOXES)

    eventually(drained, timeout=60, what="every outbox acknowledged")
    for box in BOXES:
        stored = rows("SELECT seq FROM receipt WHERE device_id = :d ORDER BY seq", d=box)
        seqs = [int(str(row[0])) for row in stored]
        last = _outbox_last_seq(cluster.root / box)
        assert seqs == list(range(1, last + 1)), f"{box}: receipts lost or doubled: {seqs} vs 1..{last}"
    verified = subprocess.run(
        [sys.executable, "-m", "loa", "audit", "verify"], env=cluster.env("b"), capture_output=True, text=True
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    engine.dispose()


def _try(call: Callable[[], httpx.Response]) -> object:
    try:
        return call()
    except httpx.HTTPError as error:
        return error


def _outbox(box: Path, sql: str) -> int:
    """One number from a box's outbox (SQLite in WAL mode: a reader does not disturb the agent)."""
    [path] = (box / "data").rglob(OUTBOX_FILE)
    with contextlib.closing(sqlite3.connect(path, timeout=10)) as db:
        row = db.execute(sql).fetchone()
    return int(row[0]) if row else 0


def _outbox_pending(box: Path) -> int:
    return _outbox(box, "SELECT COUNT(*) FROM receipts")


def _outbox_last_seq(box: Path) -> int:
    return _outbox(box, "SELECT value FROM meta WHERE key = 'last_seq'")
