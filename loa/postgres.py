"""Run a real PostgreSQL server on a free port, with its cluster in a folder.

Used by the tests (and available to the demo); production servers are the operator's (see
docs/deployment.md). PostgreSQL refuses to run as root, so when we are root the cluster belongs to
the ``postgres`` system user that Debian's package creates, and the server runs as that user.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from loa.mosquitto import free_port, wait_for_port

log = logging.getLogger(__name__)


class PostgresError(RuntimeError):
    """The server could not be set up or started."""


def bin_dir() -> Path:
    """The folder with initdb and postgres (Debian keeps them out of PATH, per major version)."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_major, reverse=True)
    if not candidates:
        raise PostgresError("PostgreSQL is not installed (apt-get install postgresql)")
    return Path(candidates[0]).parent


def _major(path: str) -> int:
    part = Path(path).parent.parent.name
    return int(part) if part.isdigit() else 0


class Postgres:
    """A throwaway cluster listening on 127.0.0.1:``port``, trust auth, one database ``loa``.

    Without ``folder`` the cluster lives in a fresh folder under the system temp dir (which the
    ``postgres`` user can reach, unlike pytest's 0700 folders) and is deleted on ``stop``.
    """

    def __init__(self, folder: Path | None = None, *, port: int | None = None, database: str = "loa") -> None:
        self._owns_folder = folder is None
        self.folder = folder or Path(tempfile.mkdtemp(prefix="loa-pg-"))
        self.port = port or free_port()
        self.database = database
        self.process: subprocess.Popen[bytes] | None = None
        self._run_as = _unprivileged_user()

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    @property
    def url(self) -> str:
        """A SQLAlchemy URL for the database (psycopg 3 driver)."""
        return f"postgresql+psycopg://loa@127.0.0.1:{self.port}/{self.database}"

    def start(self, timeout: float = 30.0) -> Postgres:
        binaries = bin_dir()
        self.folder.mkdir(parents=True, exist_ok=True)
        if self._run_as is not None:
            shutil.chown(self.folder, self._run_as.pw_uid, self._run_as.pw_gid)
        if not (self.data_dir / "PG_VERSION").exists():
            initdb = [str(binaries / "initdb"), "-D", str(self.data_dir), "-U", "loa", "-A", "trust"]
            self._run([*initdb, "-E", "UTF8", "--locale", "C.UTF-8", "--no-sync"])
        options = ["-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.folder}"]
        options += ["-c", "fsync=off", "-c", "full_page_writes=off", "-c", "synchronous_commit=off"]
        with (self.folder / "postgres.log").open("ab") as log_file:
            self.process = subprocess.Popen(
                [str(binaries / "postgres"), "-D", str(self.data_dir), "-p", str(self.port), *options],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                preexec_fn=self._demote,
            )
        try:
            wait_for_port("127.0.0.1", self.port, timeout)
            self._create_database(binaries)
        except Exception:
            self.stop()
            raise
        log.info("postgres listening", extra={"port": self.port})
        return self

    def _create_database(self, binaries: Path) -> None:
        """createdb, retried while the server is still finishing its start-up."""
        command = [str(binaries / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "loa"]
        for _ in range(50):
            done = subprocess.run([*command, self.database], capture_output=True, check=False)
            if done.returncode == 0 or b"already exists" in done.stderr:
                return
            if b"starting up" not in done.stderr and b"Connection refused" not in done.stderr:
                raise PostgresError(f"createdb failed: {done.stderr.decode(errors='replace')}")
            time.sleep(0.1)
        raise PostgresError("PostgreSQL did not accept connections")

    def _run(self, command: list[str]) -> None:
        done = subprocess.run(command, capture_output=True, check=False, preexec_fn=self._demote)
        if done.returncode != 0:
            raise PostgresError(f"{Path(command[0]).name} failed: {done.stderr.decode(errors='replace')}")

    def _demote(self) -> None:
        if self._run_as is not None:
            os.setgid(self._run_as.pw_gid)
            os.setuid(self._run_as.pw_uid)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()  # smart shutdown; SIGINT would be "fast"
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
        if self._owns_folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> Postgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            self.stop()


def _unprivileged_user() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError as exc:
        raise PostgresError("running as root needs the 'postgres' system user") from exc
