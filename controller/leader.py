"""The leader lock: of all controller replicas sharing a database, one runs the periodic jobs.

Every replica serves the panel, the API and MQTT; only the holder of the lock runs APScheduler's
jobs (the periodic recompile), so two replicas never publish the same timelines at once.

- PostgreSQL: a session-level advisory lock held on a connection of its own. If that connection
  dies (the server restarts, the network cuts), the lock is gone with it: the next check notices,
  the replica steps down and tries again, and another replica may take over meanwhile.
- SQLite: the database is a file on one host, so replicas can only be processes on that host; an
  exclusive ``flock`` on ``<database>.leader`` beside it does the job, and the kernel releases it
  when the process dies, however it dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, Protocol

from sqlalchemy import Engine

log = logging.getLogger(__name__)


class LeaderLock(Protocol):
    def try_acquire(self) -> bool:
        """Take the lock if it is free; True when this process holds it afterwards."""

    def still_held(self) -> bool:
        """Whether the lock taken earlier is still ours."""

    def release(self) -> None: ...


class FileLock:
    """``flock`` on a file: one holder among the processes of one host."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[bytes] | None = None

    def try_acquire(self) -> bool:
        if self._file is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("ab")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._file = handle
        return True

    def still_held(self) -> bool:
        return self._file is not None

    def release(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


class AdvisoryLock:
    """``pg_try_advisory_lock`` on a dedicated connection; the lock lives as long as it does."""

    def __init__(self, engine: Engine, name: str = "loa-controller-leader") -> None:
        self.engine = engine
        self.key = _key(name)
        self._connection: Any = None

    def try_acquire(self) -> bool:
        if self._connection is not None:
            return self.still_held()
        try:
            connection = self.engine.raw_connection()
        except Exception:
            log.warning("leader lock: cannot reach the database", exc_info=True)
            return False
        try:
            cursor = connection.cursor()
            cursor.execute("SELECT pg_try_advisory_lock(%s)", (self.key,))
            row = cursor.fetchone()
            won = bool(row and row[0])
            connection.commit()
        except Exception:
            log.warning("leader lock: query failed", exc_info=True)
            _invalidate(connection)
            return False
        if not won:
            connection.close()
            return False
        self._connection = connection
        return True

    def still_held(self) -> bool:
        if self._connection is None:
            return False
        try:
            cursor = self._connection.cursor()
            cursor.execute("SELECT 1")  # a session lock lasts exactly as long as its session
            held = bool(cursor.fetchone()[0])
            self._connection.commit()
        except Exception:
            log.warning("leader lock: connection lost", exc_info=True)
            held = False
        if not held:
            _invalidate(self._connection)
            self._connection = None
        return held

    def release(self) -> None:
        if self._connection is None:
            return
        with contextlib.suppress(Exception):
            cursor = self._connection.cursor()
            cursor.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
            self._connection.commit()
        with contextlib.suppress(Exception):
            self._connection.close()
        self._connection = None


def _invalidate(connection: Any) -> None:
    """Throw a pooled connection away rather than return it with unknown state."""
    with contextlib.suppress(Exception):
        connection.invalidate()
    with contextlib.suppress(Exception):
        connection.close()


def lock_for(engine: Engine, fallback_dir: Path) -> LeaderLock:
    """The right lock for the database behind ``engine``."""
    url = engine.url
    if url.get_backend_name() == "postgresql":
        return AdvisoryLock(engine)
    database = url.database
    if url.get_backend_name() == "sqlite" and database and database != ":memory:":
        return FileLock(Path(database).with_name(Path(database).name + ".leader"))
    return FileLock(fallback_dir / f"leader-{os.getpid()}.lock")


class Leadership:
    """Keeps trying the lock; calls ``on_elected`` on winning it and ``on_deposed`` on losing it."""

    def __init__(
        self,
        lock: LeaderLock,
        *,
        interval_s: float,
        on_elected: Callable[[], object],
        on_deposed: Callable[[], object],
    ) -> None:
        self.lock = lock
        self.interval_s = interval_s
        self.on_elected = on_elected
        self.on_deposed = on_deposed
        self.is_leader = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check(self) -> None:
        """One round: keep or lose the lock if we hold it, else try to take it."""
        if self.is_leader:
            if not self.lock.still_held():
                self.is_leader = False
                log.warning("leader lock lost: stepping down")
                self.on_deposed()
        elif self.lock.try_acquire():
            self.is_leader = True
            log.info("leader lock taken: this replica runs the periodic jobs")
            self.on_elected()

    def start(self) -> None:
        self.check()
        self._thread = threading.Thread(target=self._loop, name="loa-leader", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.check()
            except Exception:
                log.exception("leader check failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval_s + 5)
        if self.is_leader:
            self.is_leader = False
            self.on_deposed()
        self.lock.release()


def _key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


Mutex = Callable[[], contextlib.AbstractContextManager[None]]


def mutex_for(engine: Engine, fallback_dir: Path, name: str) -> Mutex:
    """A lock that every replica sharing the database waits for: one holder at a time, freed when its
    holder dies. Used to serialise timeline compiles, so two replicas never publish versions that fork.

    PostgreSQL: ``pg_advisory_lock`` on a connection of its own (a dead holder's connection closes,
    and the lock with it). SQLite: a blocking ``flock`` on ``<database>.<name>``.
    """
    url = engine.url
    if url.get_backend_name() == "postgresql":
        key = _key(f"loa-{name}")

        @contextlib.contextmanager
        def advisory() -> Iterator[None]:
            connection = engine.raw_connection()
            try:
                cursor = connection.cursor()
                cursor.execute("SELECT pg_advisory_lock(%s)", (key,))
                connection.commit()
                yield
                cursor.execute("SELECT pg_advisory_unlock(%s)", (key,))
                connection.commit()
            except BaseException:
                _invalidate(connection)  # closing the session frees the lock in any state
                raise
            else:
                connection.close()

        return advisory
    database = url.database
    if url.get_backend_name() == "sqlite" and database and database != ":memory:":
        path = Path(database).with_name(f"{Path(database).name}.{name}")
    else:
        path = fallback_dir / f"{name}-{os.getpid()}.lock"

    @contextlib.contextmanager
    def flocked() -> Iterator[None]:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("ab") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    return flocked
