"""Putting things on air and taking them off, with the receipts that say so.

The player decides *what* should be on air (edge_agent/player.py); this module does it: it starts
the sink, writes ``started`` (with the actual first-sample instant) and, at the end, ``completed``,
``interrupted`` (with ``seconds_aired``) or ``failed``; it carries play_now and test_tone runs through
their repetitions to ``command_done``, and keeps what a play_now interrupted to resume it after.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from edge_agent.clock import Clock
from edge_agent.media import MediaUnavailable
from edge_agent.outbox import Outbox
from edge_agent.prepare import Preparer
from edge_agent.schedule import Entry, Run, resumed
from edge_agent.sinks import Playback, PlayResult, Prepared, SinkError
from playlists.wire import ReceiptEvent

log = logging.getLogger(__name__)


RECORD_AFTER_MS = 100  # the started receipt is written this long after the first sample (see begin)


@dataclass
class Airing:
    entry: Entry
    playback: Playback
    started_at_ms: int
    prepared: Prepared | None
    note: str | None = None
    record_at_mono_ms: int | None = None  # the started receipt is still to be written then


class OnAir:
    """What is on air, the runs in progress, the entries waiting to resume, the handled items."""

    def __init__(
        self,
        *,
        outbox: Outbox,
        preparer: Preparer,
        clock: Clock,
        lock: threading.Lock,
        wake: Callable[[], None],
        changed: Callable[[], None],
        run_ended: Callable[[Run], None],
    ) -> None:
        self._outbox = outbox
        self._preparer = preparer
        self._clock = clock
        self._lock = lock
        self._wake = wake
        self._changed = changed
        self._run_ended = run_ended
        self.air: Airing | None = None
        self.runs: list[Run] = []
        self.resume: list[Entry] = []
        self.handled: set[str] = outbox.handled_ids()
        self.last_start_mono_ms = clock.monotonic_ms() - 3_600_000

    def mark_handled(self, item_id: str) -> None:
        with self._lock:
            self.handled.add(item_id)

    def begin(self, entry: Entry) -> None:
        """Start ``entry`` now (what was on air must have been ended)."""
        prepared: Prepared | None = None
        try:
            prepared = self._preparer.take(entry)
            playback = self._preparer.playback(entry, prepared, self._wake)
        except (MediaUnavailable, SinkError, OSError) as exc:
            if prepared is not None:
                prepared.discard()
            reason = exc.reason if isinstance(exc, MediaUnavailable) else str(exc) or type(exc).__name__
            self.fail(entry, reason)
            return
        _remove(self.resume, entry)
        started = playback.first_sample_ms or self._clock.now_ms()
        run = entry.run
        if run is not None and run.first_started_ms is None:
            run.first_started_ms = started
        note = "resumed" if entry.origin == "resume" else None
        if run is not None and run.repeat > 1:
            note = f"repeat:{run.done + 1}/{run.repeat}"
        if entry.origin == "timeline" and entry.item is not None:
            self.mark_handled(entry.item.id)
        # The started receipt (signing, SQLite, fsync) waits RECORD_AFTER_MS: the first samples
        # must not compete for the CPU and the GIL with bookkeeping (the ALSA feeder is a thread of
        # this process; fifty benchmark agents share two cores). A crash in that window cannot
        # replay the item: a restart takes longer than the 5 s after which it is skipped as late.
        self.last_start_mono_ms = self._clock.monotonic_ms()
        record_at = self.last_start_mono_ms + RECORD_AFTER_MS if entry.receipts else None
        self.air = Airing(entry, playback, started, prepared, note, record_at)
        log.info("on air: %s (due %d, started %d)", entry.key, entry.start_ms, started)
        self._changed()

    def record_start(self) -> None:
        """Write the started receipt of what is on air, if not written yet."""
        air = self.air
        if air is None or air.record_at_mono_ms is None:
            return
        air.record_at_mono_ms = None
        self._outbox.append(
            event="started",
            started_at_ms=air.started_at_ms,
            reason=air.note,
            handled=air.entry.origin == "timeline",
            airing="start",
            **air.entry.fields,
        )

    def fail(self, entry: Entry, reason: str) -> None:
        """``entry`` could not start."""
        log.error("%s not played: %s", entry.key, reason)
        _remove(self.resume, entry)
        if entry.run is not None:
            self.finish_run(entry.run, event="failed", reason=reason, ended_ms=None, resume=True)
            return
        if entry.receipts:
            self._outbox.append(
                event="failed", reason=reason, handled=entry.origin == "timeline", **entry.fields
            )
        if entry.origin == "timeline" and entry.item is not None:
            self.mark_handled(entry.item.id)

    def end(
        self, *, completed: bool, reason: str | None = None, by: Entry | None = None, cancel: bool = False
    ) -> None:
        """Take what is on air off: it ended by itself (``completed``) or is interrupted for ``reason``.

        Interrupted by a play_now that resumes (``by``), its rest waits in that run; ``cancel`` (a stop
        command, the agent stopping) drops what would have resumed.
        """
        self.record_start()
        air, self.air = self.air, None
        if air is None:
            return
        if not completed:
            air.playback.stop()
        try:
            result = air.playback.finish()
        except (OSError, SinkError) as exc:
            log.exception("cannot finish %s", air.entry.key)
            now = self._clock.now_ms()
            result = PlayResult(
                air.started_at_ms, air.started_at_ms, now, now - air.started_at_ms, f"sink_error: {exc}"
            )
        if air.prepared is not None:
            air.prepared.discard()
        entry = air.entry
        event: ReceiptEvent = "interrupted"
        why = reason
        if completed:
            event, why = ("completed", None) if result.error is None else ("failed", result.error)
        if entry.receipts:
            self._outbox.append(
                event=event,
                started_at_ms=air.started_at_ms,
                ended_at_ms=result.ended_at_ms,
                seconds_aired=result.aired_ms / 1000 if event != "completed" else None,
                reason=why,
                airing="end",
                **entry.fields,
            )
        run = entry.run
        if run is not None:
            if event == "completed":
                run.done += 1
                run.due_ms = result.ended_at_ms
                if run.done >= run.repeat:
                    self.finish_run(
                        run, event="command_done", reason=None, ended_ms=result.ended_at_ms, resume=True
                    )
            else:
                self.finish_run(
                    run, event="failed", reason=why, ended_ms=result.ended_at_ms, resume=not cancel
                )
        elif by is not None and by.run is not None and by.run.after == "resume" and not cancel:
            by.run.suspended.append(resumed(entry, result.aired_ms, self._clock.now_ms()))
        log.info("off air: %s (%s, %.1f s aired)", entry.key, event, result.aired_ms / 1000)
        self._changed()

    def finish_run(
        self,
        run: Run,
        *,
        event: Literal["command_done", "failed"],
        reason: str | None,
        ended_ms: int | None,
        resume: bool,
    ) -> None:
        """The command is over: its receipt, and what it interrupted may resume (unless cancelled)."""
        _remove(self.runs, run)
        self._preparer.drop(f"cmd:{run.command.id}:")
        self._run_ended(run)
        self._outbox.append(
            event=event,
            command_id=run.command.id,
            item_id=run.item.id if run.item is not None else None,
            started_at_ms=run.first_started_ms,
            ended_at_ms=ended_ms,
            reason=reason,
            command_done=True,
        )
        if resume:
            self.resume.extend(run.suspended)
        run.suspended.clear()

    def cancel_all(self, reason: str) -> None:
        """Silence: end what is on air and every run, forget what would have resumed."""
        if self.air is not None:
            self.end(completed=False, reason=reason, cancel=True)
        for run in list(self.runs):
            self.finish_run(run, event="failed", reason=reason, ended_ms=None, resume=False)
        self.resume.clear()


def _remove(entries: list[Entry] | list[Run], target: Entry | Run) -> None:
    for index, candidate in enumerate(entries):
        if candidate is target:
            del entries[index]
            return
