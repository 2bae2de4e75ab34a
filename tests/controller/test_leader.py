"""Only one controller replica runs the periodic jobs: the leader lock, on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from controller.app import create_app
from controller.db import migrate
from controller.jobs import Jobs
from controller.leader import AdvisoryLock, FileLock, Leadership, lock_for
from controller.settings import Settings
from loa.postgres import Postgres


def wait_until(condition, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    with Postgres() as server:
        yield server


def test_a_file_lock_has_one_holder_until_it_is_released(tmp_path: Path) -> None:
    first, second = FileLock(tmp_path / "loa.db.leader"), FileLock(tmp_path / "loa.db.leader")
    assert first.try_acquire()
    assert first.try_acquire(), "taking a lock we hold again is harmless"
    assert not second.try_acquire()
    first.release()
    assert second.try_acquire()
    assert second.still_held()
    second.release()


def test_a_file_lock_is_freed_when_its_holder_is_killed(tmp_path: Path) -> None:
    path = tmp_path / "loa.db.leader"
    script = (
        "import time; from pathlib import Path; from controller.leader import FileLock;"
        f"lock = FileLock(Path({str(path)!r})); assert lock.try_acquire(); print('held', flush=True);"
        "time.sleep(60)"
    )
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE) as holder:
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline().strip() == b"held"
            waiting = FileLock(path)
            assert not waiting.try_acquire()
        finally:
            holder.kill()
            holder.wait()
    assert waiting.try_acquire()
    waiting.release()


def test_sqlite_databases_lock_a_file_beside_them(tmp_path: Path) -> None:
    lock = lock_for(create_engine(f"sqlite:///{tmp_path / 'loa.db'}"), tmp_path / "fallback")
    assert isinstance(lock, FileLock)
    assert lock.path == tmp_path / "loa.db.leader"


def test_leadership_elects_one_and_hands_over_when_the_leader_stops(tmp_path: Path) -> None:
    events: list[str] = []
    replicas = [
        Leadership(
            FileLock(tmp_path / "leader"),
            interval_s=0.05,
            on_elected=lambda name=name: events.append(f"{name} elected"),
            on_deposed=lambda name=name: events.append(f"{name} deposed"),
        )
        for name in ("a", "b")
    ]
    for replica in replicas:
        replica.start()
    try:
        assert [r.is_leader for r in replicas] == [True, False]
        time.sleep(0.2)
        assert events == ["a elected"], "the follower keeps trying but never wins while a holds it"
        replicas[0].stop()
        assert wait_until(lambda: replicas[1].is_leader, 2)
        assert events == ["a elected", "a deposed", "b elected"]
    finally:
        for replica in replicas:
            replica.stop()


def test_a_paused_scheduler_runs_no_job_and_a_resumed_one_does(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'jobs.db'}")
    runs = threading.Event()
    jobs = Jobs(engine)
    jobs.every("leader-test-job", 3600, runs.set)
    jobs.start(paused=True)
    try:
        assert not runs.wait(0.5)
        jobs.resume()
        assert runs.wait(5)
    finally:
        jobs.stop()
        engine.dispose()


def test_of_two_controllers_on_one_database_only_one_is_leader(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, environment="development", compile_interval_seconds=3600, leader_check_seconds=0.1
    )
    migrate(settings.resolved_database_url)
    leader = TestClient(create_app(settings, connect_mqtt=False))
    follower = TestClient(create_app(settings, connect_mqtt=False))
    with contextlib.ExitStack() as running:
        running.enter_context(leader)
        with follower:
            assert leader.get("/healthz").json()["leader"] is True, "the first to start leads"
            time.sleep(0.3)
            assert follower.get("/healthz").json()["leader"] is False
            running.close()
            assert wait_until(lambda: follower.get("/healthz").json()["leader"] is True, 5)


def test_an_advisory_lock_has_one_holder_on_postgresql(postgres: Postgres) -> None:
    engines = [create_engine(postgres.url) for _ in range(2)]
    first, second = (AdvisoryLock(engine) for engine in engines)
    try:
        assert isinstance(lock_for(engines[0], Path("/nonexistent")), AdvisoryLock)
        assert first.try_acquire()
        assert not second.try_acquire()
        assert first.still_held()
        first.release()
        assert second.try_acquire()
    finally:
        first.release()
        second.release()
        for engine in engines:
            engine.dispose()


def test_losing_the_database_connection_loses_the_lead_to_another_replica(postgres: Postgres) -> None:
    engines = [create_engine(postgres.url) for _ in range(3)]
    first, second = AdvisoryLock(engines[0]), AdvisoryLock(engines[1])
    try:
        assert first.try_acquire()
        with engines[2].connect() as admin:
            admin.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks"
                    " WHERE locktype = 'advisory' AND pid <> pg_backend_pid()"
                )
            )
            admin.commit()
        assert wait_until(lambda: not first.still_held(), 5)
        assert second.try_acquire()
        assert not first.try_acquire(), "the old leader must not take it back while the new one holds it"
    finally:
        first.release()
        second.release()
        for engine in engines:
            engine.dispose()
