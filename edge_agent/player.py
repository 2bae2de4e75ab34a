"""The local player: decides what must be on air now, and waits precisely for the next instant.

Invariant 4: a box plays at the instant, not when a message arrives. One thread decides (``step``):
timeline items at their instants, play_now and test_tone commands, what to interrupt, what to skip,
what to resume. Decoding happens ahead on a worker thread (edge_agent/prepare.py); starting and
ending airings, with their receipts, in edge_agent/onair.py; the rules are in edge_agent/schedule.py.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from itertools import islice

from edge_agent import BUILD_EPOCH_MS
from edge_agent.clock import Clock, ClockWatch
from edge_agent.media import MediaCache
from edge_agent.onair import OnAir
from edge_agent.outbox import Outbox
from edge_agent.prepare import Preparer
from edge_agent.schedule import (
    LATE_AFTER_MS,
    Entry,
    Run,
    command_preempts,
    open_items,
    skip_reason,
    timeline_entry,
    timeline_preempts,
)
from edge_agent.sinks import Sink
from playlists.wire import Command, MediaRef, Timeline, TimelineItem

log = logging.getLogger(__name__)

FINE_MS = 300  # this close to an instant, the player stops planning and waits for it precisely
PREPARE_LEAD_MS = 10_000  # decode this long ahead of an instant
QUIET_MS = 2_000  # but start no other decode this close before an instant…
QUIET_AFTER_MS = 500  # …nor this soon after one
MAX_WAIT_S = 1.0  # the loop looks at the clock (jumps) and beats its heart at least this often
JUMP_REPORT_GAP_MS = 60_000
_ORIGIN_ORDER = {"command": 2, "timeline": 1, "resume": 0}


class Player:
    """Holds the timeline and the running commands, and puts the right thing on air."""

    def __init__(
        self,
        *,
        sink: Sink,
        cache: MediaCache,
        outbox: Outbox,
        clock: Clock,
        build_ms: int = BUILD_EPOCH_MS,
        executor: Executor | None = None,
    ) -> None:
        self._outbox = outbox
        self._clock = clock
        self._watch = ClockWatch(clock, build_ms=build_ms)
        self._lock = threading.Lock()
        self._timeline: Timeline | None = None
        self._inbox: list[Run | Command] = []
        self._run_media: tuple[MediaRef, ...] = ()
        self._preparer = Preparer(sink=sink, cache=cache, clock=clock, executor=executor)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._on = OnAir(
            outbox=outbox,
            preparer=self._preparer,
            clock=clock,
            lock=self._lock,
            wake=self._wake.set,
            changed=self._notify,
            run_ended=self._release_media,
        )
        self._sane = True
        self._trouble_until: int | None = None
        self._last_jump_report: int | None = None
        self._listeners: list[Callable[[], None]] = []
        self._thread: threading.Thread | None = None
        self._heartbeat = clock.monotonic_ms()
        self._open_for: Timeline | None = None
        self._open_handled = -1
        self._open_items: list[TimelineItem] = []

    # -- what others see and send ---------------------------------------------------------------

    def add_listener(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` when something starts or stops playing, or the clock's sanity changes."""
        self._listeners.append(callback)

    @property
    def timeline(self) -> Timeline | None:
        return self._timeline

    @property
    def playing_item_id(self) -> str | None:
        air = self._on.air
        return None if air is None else air.entry.fields["item_id"] or air.entry.key

    @property
    def clock_sane(self) -> bool:
        return self._sane

    @property
    def last_clock_jump_ms(self) -> int | None:
        return self._watch.last_jump_ms

    def heartbeat_age_s(self) -> float:
        """Seconds since the player's loop last ran (the service watchdog is fed only while small)."""
        return (self._clock.monotonic_ms() - self._heartbeat) / 1000

    def set_timeline(self, timeline: Timeline | None) -> None:
        """Replace the timeline entirely (what plays now plays on) and re-plan."""
        with self._lock:
            self._timeline = timeline
        self._wake.set()

    def submit(self, run: Run) -> None:
        """Carry out a play_now or test_tone command (its media is in the cache already)."""
        with self._lock:
            self._inbox.append(run)
            if run.item is not None and run.item.media is not None:
                self._run_media = (*self._run_media, run.item.media)
        self._wake.set()

    def wake(self) -> None:
        """Look again now (e.g. media just arrived: prepare what failed for lack of it)."""
        self._wake.set()

    def stop_now(self, command: Command) -> None:
        """The ``stop`` command: silence everything now and cancel running commands."""
        with self._lock:
            self._inbox.append(command)
        self._wake.set()

    def upcoming_media(self) -> list[MediaRef]:
        """Media of the items still to be played and of running commands, for the prefetcher."""
        with self._lock:
            timeline, handled, refs = self._timeline, set(self._on.handled), list(self._run_media)
        if timeline is not None:
            now = self._clock.now_ms()
            refs += [
                item.media
                for item in open_items(timeline, handled)
                if item.kind == "audio" and item.media is not None and now - item.start_ms <= LATE_AFTER_MS
            ]
        return refs

    def referenced_media(self) -> set[str]:
        """sha256 of every file the timeline or a command still refers to (never evicted)."""
        with self._lock:
            timeline, shas = self._timeline, {ref.sha256 for ref in self._run_media}
        if timeline is not None:
            shas |= {item.media.sha256 for item in timeline.items if item.media is not None}
        return shas

    # -- the loop -------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="loa-player", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop playing (what plays is interrupted, running commands fail) and end the thread."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        else:
            self._shutdown()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                delay = self.step()
            except Exception:
                log.exception("player step failed; retrying shortly")
                delay = MAX_WAIT_S
            self._clock.wait(self._wake, MAX_WAIT_S if delay is None else min(delay, MAX_WAIT_S))
        self._shutdown()

    def step(self) -> float | None:
        """Do everything due now; returns seconds until something is due next (None: nothing is)."""
        while not self._stop.is_set():
            self._heartbeat = self._clock.monotonic_ms()
            self._wake.clear()
            self._take_inbox()
            now = self._clock.now_ms()
            self._watch_clock(now)
            air = self._on.air
            if air is not None and air.playback.done():
                self._on.end(completed=True)
                continue
            due = air.record_at_mono_ms if air is not None else None
            if due is not None and self._clock.monotonic_ms() >= due:
                self._on.record_start()
            if not self._sane:
                return MAX_WAIT_S
            self._skip_stale(now)
            soon, later = self._soon(now)
            self._preparer.keep_only(soon, later=later)
            choice = self._choose(now)
            if choice is None:
                return self._next_delay(now)
            entry, reason = choice
            self._preparer.wait(entry)  # decoded before the instant; what plays goes on meanwhile
            if entry.origin == "timeline" and entry.item is not None:
                # Judged as of its start (the decode may have taken long), so that nothing is left
                # to do between the instant and the first sample.
                self._skip_stale(max(self._clock.now_ms(), entry.start_ms))
                if entry.item.id in self._on.handled:
                    continue
            if entry.start_ms > self._clock.now_ms() and self._clock.wait_until_ms(
                entry.start_ms, self._wake
            ):
                continue  # something arrived meanwhile: plan again
            if self._on.air is not None:
                self._on.end(completed=False, reason=reason, by=entry)
            self._on.begin(entry)
        return None

    # -- deciding -------------------------------------------------------------------------------

    def _take_inbox(self) -> None:
        with self._lock:
            inbox, self._inbox = self._inbox, []
        for message in inbox:
            if not isinstance(message, Run):
                self._stop_everything(message)
                continue
            same = self._same_item_running(message)
            if same is not None:
                # One emergency sent to several zones the box is in: it plays once.
                self._release_media(message)
                reason = f"duplicate_of:{same.command.id}"
                self._outbox.append(
                    event="command_done", command_id=message.command.id, reason=reason, command_done=True
                )
                continue
            message.due_ms = max(message.due_ms, message.received_ms)
            self._on.runs.append(message)

    def _same_item_running(self, run: Run) -> Run | None:
        """A running play_now of the same item (same id) as ``run``, if there is one."""
        if run.item is None:
            return None
        return next((r for r in self._on.runs if r.item is not None and r.item.id == run.item.id), None)

    def _waiting_runs(self) -> list[Run]:
        """Runs not on air right now (a run's next repetition waits for the current one to end)."""
        airing = self._on.air.entry.run if self._on.air is not None else None
        return [run for run in self._on.runs if run is not airing]

    def _open(self, until_ms: int | None = None) -> Iterator[Entry]:
        """The timeline's items not handled yet, in order, up to ``until_ms``.

        The sorted list is kept until the timeline or the handled set changes: the loop runs every
        second, and at an instant fifty agents may share one small CPU.
        """
        timeline = self._timeline
        if timeline is None:
            return
        if self._open_for is not timeline or self._open_handled != len(self._on.handled):
            self._open_items = open_items(timeline, self._on.handled)
            self._open_for, self._open_handled = timeline, len(self._on.handled)
        for item in self._open_items:
            if until_ms is not None and item.start_ms > until_ms:
                return
            if item.id not in self._on.handled:
                yield timeline_entry(timeline, item)

    def _soon(self, now: int) -> tuple[list[Entry], list[Entry]]:
        """What to prepare now (the next items, runs, what resumes), and what a little later.

        Around an instant (QUIET_MS before it, QUIET_AFTER_MS after a start) no decode starts unless
        it is for an item due within QUIET_MS: on a small CPU it would compete with the wake-up at the
        instant (and, in the benchmark, with fifty agents' wake-ups).
        """
        horizon = now + PREPARE_LEAD_MS
        items = list(islice(self._open(horizon), 2))
        just_started = self._clock.monotonic_ms() - self._on.last_start_mono_ms < QUIET_AFTER_MS
        busy = just_started or any(now < entry.start_ms <= now + QUIET_MS for entry in items)
        later = [entry for entry in items if busy and entry.start_ms > now + QUIET_MS]
        runs = [run.entry() for run in self._waiting_runs() if run.due_ms <= horizon][:2]
        air = self._on.air
        run = air.entry.run if air is not None else None
        if run is not None:  # no gap between repetitions, nor before what resumes after them
            runs += [run.entry(run.done + 1)] if run.done + 1 < run.repeat else run.suspended[-1:]
        now_items = items[: len(items) - len(later)]
        return now_items + runs + self._on.resume[-1:], later

    def _choose(self, now: int) -> tuple[Entry, str | None] | None:
        horizon = now + FINE_MS
        due = list(self._open(horizon))
        item = max(due, key=lambda e: (e.rank, -e.start_ms), default=None)
        run = next((r.entry() for r in self._waiting_runs() if r.due_ms <= horizon), None)
        air = self._on.air
        if air is None:
            options = [e for e in (run, item, *self._on.resume[-1:]) if e is not None]
            if not options:
                return None
            return max(options, key=lambda e: (e.rank, _ORIGIN_ORDER[e.origin], -e.start_ms)), None
        best = run if run is not None and command_preempts(air.entry.rank, run.rank) else None
        if item is not None and timeline_preempts(air.entry.rank, item.rank):
            best = item if best is None or item.rank > best.rank else best
        if best is None:
            return None
        if best.run is not None:
            return best, f"play_now:{best.run.command.id}"
        return best, f"preempted:{best.fields['item_id']}"

    def _skip_stale(self, now: int) -> None:
        timeline = self._timeline
        if timeline is None:
            return
        for entry in list(self._open(now)):
            if entry.item is None:
                continue
            reason = skip_reason(timeline, entry.item, now, trouble_until_ms=self._trouble_until)
            if reason is not None:
                log.warning("item %s skipped: %s (due %d, now %d)", entry.key, reason, entry.start_ms, now)
                self._outbox.append(event="skipped", reason=reason, handled=True, **entry.fields)
                self._on.mark_handled(entry.item.id)

    def _next_delay(self, now: int) -> float | None:
        waits: list[int] = []
        air = self._on.air
        if air is not None:
            remaining = air.playback.remaining_s()
            waits.append(round((MAX_WAIT_S if remaining is None else remaining) * 1000))
            if air.record_at_mono_ms is not None:
                waits.append(air.record_at_mono_ms - self._clock.monotonic_ms())
        for entry in self._open():
            if entry.start_ms <= now:  # waits behind something of higher priority, until too late
                waits.append(entry.start_ms + LATE_AFTER_MS + 1 - now)
                continue
            waits.append(entry.start_ms - FINE_MS - now)
            if not self._preparer.has(entry.key):
                waits.append(entry.start_ms - PREPARE_LEAD_MS - now)
            break
        # A run that is due but waits behind something of higher priority: its end wakes us.
        waits += [run.due_ms - FINE_MS - now for run in self._waiting_runs() if run.due_ms > now]
        return max(0, min(waits)) / 1000 if waits else None

    def _stop_everything(self, command: Command) -> None:
        reason = f"stopped:{command.id}"
        self._on.cancel_all(reason)
        now = self._clock.now_ms()
        for entry in list(self._open(now)):
            if entry.item is None:
                continue
            self._outbox.append(event="skipped", reason=reason, handled=True, **entry.fields)
            self._on.mark_handled(entry.item.id)
        self._outbox.append(event="command_done", command_id=command.id, command_done=True)
        log.info("stop command %s: silence", command.id)

    def _shutdown(self) -> None:
        with self._lock:
            inbox, self._inbox = self._inbox, []
        self._on.runs += [message for message in inbox if isinstance(message, Run)]
        self._on.cancel_all("agent_stopped")
        self._preparer.shutdown()

    def _release_media(self, run: Run) -> None:
        media = run.item.media if run.item is not None else None
        with self._lock:
            rest = list(self._run_media)
            if media in rest:
                rest.remove(media)
            self._run_media = tuple(rest)

    # -- the clock ------------------------------------------------------------------------------

    def _watch_clock(self, now: int) -> None:
        jump = self._watch.check()
        if jump is not None:
            log.error("wall clock jumped by %+d ms", jump)
            self._trouble_until = now
            mono = self._clock.monotonic_ms()
            if self._last_jump_report is None or mono - self._last_jump_report >= JUMP_REPORT_GAP_MS:
                self._last_jump_report = mono
                self._outbox.append(event="failed", reason=f"clock_jump:{jump:+d}")
        timeline = self._timeline
        sane = self._watch.sane(now, issued_at_ms=timeline.issued_at_ms if timeline is not None else None)
        if sane == self._sane:
            return
        self._sane = sane
        if sane:
            log.warning("wall clock is sane again (%d); playing what is current", now)
            self._trouble_until = now
        else:
            log.error("wall clock %d cannot be right; playing nothing until it is", now)
        self._notify()

    def _notify(self) -> None:
        for callback in self._listeners:
            try:
                callback()
            except Exception:
                log.exception("player listener failed")
