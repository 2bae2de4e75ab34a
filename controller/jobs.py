"""Periodic jobs, kept in the database by APScheduler so a restart loses none of them.

APScheduler stores a job by the textual reference of a module-level function; ``run`` is that
function, and it calls what this process registered under the job's name (the bound methods of
this process's services). Every replica starts its scheduler paused; only the holder of the leader lock
(controller/leader.py) resumes it, so one replica runs the jobs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine

log = logging.getLogger(__name__)
_handlers: dict[str, Callable[[], object]] = {}


def run(name: str) -> None:
    """Entry point of every stored job."""
    handler = _handlers.get(name)
    if handler is None:
        log.warning("job %s has no handler in this process", name)
        return
    handler()


class Jobs:
    """The controller's scheduler with a database job store."""

    def __init__(self, engine: Engine) -> None:
        self.scheduler = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=engine)},
            timezone="UTC",
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
        )

    def every(self, name: str, seconds: int, handler: Callable[[], object]) -> None:
        """Run ``handler`` every ``seconds`` (now first), as the stored job ``name``."""
        _handlers[name] = handler
        self.scheduler.add_job(
            "controller.jobs:run",
            "interval",
            args=[name],
            seconds=seconds,
            id=name,
            name=name,
            replace_existing=True,
            next_run_time=datetime.now(UTC),
        )

    def start(self, *, paused: bool = False) -> None:
        """Start the scheduler; a paused one keeps its jobs stored but runs none of them."""
        self.scheduler.start(paused=paused)

    def pause(self) -> None:
        self.scheduler.pause()

    def resume(self, *, run_now: tuple[str, ...] = ()) -> None:
        """Start running jobs; ``run_now`` ones at once (a new leader catches up on what the old one
        may have left half done)."""
        for name in run_now:
            if self.scheduler.get_job(name) is not None:
                self.scheduler.modify_job(name, next_run_time=datetime.now(UTC))
        self.scheduler.resume()

    def stop(self) -> None:
        self.scheduler.shutdown(wait=False)
