"""What ``loa restore`` makes sure of before it replaces anything: that this Loa knows the backup's
migration, and that no controller is running on the data."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class RestoreRefused(RuntimeError):
    """Restoring now would do harm; the message says what to do."""


def check_revision_known(database_url: str, revision: str | None) -> None:
    """A backup from a newer Loa (a migration we do not have) cannot be restored by this one."""
    from alembic.script import ScriptDirectory

    from controller.db import alembic_config

    if revision is None:
        raise RestoreRefused("the backup's database has no schema version (was it ever migrated?)")
    scripts = ScriptDirectory.from_config(alembic_config(database_url))
    try:
        known = scripts.get_revision(revision) is not None
    except Exception:
        known = False
    if not known:
        raise RestoreRefused(f"the backup is at migration {revision}, unknown to this Loa: update Loa first")


@contextmanager
def check_no_controller_runs(database_url: str, data_dir: Path) -> Iterator[None]:
    """Hold the leader lock while restoring: a controller that runs holds it (stop every one first)."""
    from controller.db import make_engine
    from controller.leader import lock_for

    engine = make_engine(database_url)
    lock = lock_for(engine, data_dir)
    try:
        if not lock.try_acquire():
            raise RestoreRefused("a controller is running on this data: stop it first (loa-controller)")
        yield
    finally:
        lock.release()
        engine.dispose()
