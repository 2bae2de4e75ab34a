"""Stopping a fleet: its box processes stop together, and nothing is left running when stopping is
interrupted (a second Ctrl-C or SIGTERM while a long benchmark winds down)."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
from fleet import Fleet
from fleet_support import Worker, stop_workers

from loa.mosquitto import Mosquitto

# A stand-in box process: on "stop" it notes when, takes half a second to wind down, notes that too.
SLOW_TO_STOP = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    notes = Path(sys.argv[1])
    for line in sys.stdin:
        if '"stop"' in line:
            notes.with_suffix(".asked").write_text(repr(time.time()))
            time.sleep(0.5)
            notes.with_suffix(".gone").write_text(repr(time.time()))
            break
    """
)


def test_box_processes_are_all_asked_to_stop_before_any_is_waited_for(tmp_path: Path) -> None:
    workers = [
        Worker([sys.executable, "-c", SLOW_TO_STOP, str(tmp_path / f"w{n}")], tmp_path / f"w{n}.log")
        for n in range(3)
    ]
    stop_workers(workers, timeout_s=30)
    asked = [float((tmp_path / f"w{n}.asked").read_text()) for n in range(3)]
    gone = [float((tmp_path / f"w{n}.gone").read_text()) for n in range(3)]
    assert max(asked) < min(gone)  # one after another, the second was asked after the first had gone
    assert all(worker.process.returncode == 0 for worker in workers)


class Interrupted:
    """A box process whose stopping is interrupted, as by a second Ctrl-C."""

    def request_stop(self) -> None:
        raise KeyboardInterrupt

    def stop(self, timeout_s: float = 60) -> None:
        raise AssertionError("not reached")


def test_the_broker_is_stopped_even_when_stopping_the_boxes_is_interrupted(tmp_path: Path) -> None:
    fleet = Fleet(tmp_path, boxes=1)
    fleet.broker = Mosquitto(tmp_path / "broker").start()
    fleet.workers = [Interrupted()]  # type: ignore[list-item]
    broker = fleet.broker.process
    assert broker is not None and broker.poll() is None
    with pytest.raises(KeyboardInterrupt):
        fleet.close()
    assert broker.poll() is not None  # was left running before
    assert not fleet.box_root.exists()
