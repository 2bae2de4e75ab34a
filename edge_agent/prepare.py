"""Getting entries ready ahead of their instant: verified media → sink source → decoded, on a worker
thread, so that the player's own thread never waits for ffmpeg when an instant comes."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, Future, ThreadPoolExecutor

from edge_agent.clock import Clock
from edge_agent.media import MediaCache, MediaUnavailable
from edge_agent.schedule import Entry
from edge_agent.sinks import Playback, PlayResult, Prepared, Sink, Source

log = logging.getLogger(__name__)


class Silence:
    """A silence item: it 'plays' against the clock, without the sink."""

    def __init__(self, clock: Clock, duration_ms: int) -> None:
        self._clock = clock
        self._started = clock.now_ms()
        self._mono = clock.monotonic_ms()
        self._duration = duration_ms
        self._stopped: int | None = None

    @property
    def first_sample_ms(self) -> int | None:
        return self._started

    def remaining_s(self) -> float | None:
        if self._stopped is not None:
            return 0.0
        return max(0.0, (self._mono + self._duration - self._clock.monotonic_ms()) / 1000)

    def done(self) -> bool:
        return self.remaining_s() == 0.0

    def stop(self) -> None:
        if self._stopped is None:
            self._stopped = self._clock.monotonic_ms()

    def finish(self) -> PlayResult:
        end = self._stopped if self._stopped is not None else self._clock.monotonic_ms()
        aired = max(0, min(self._duration, end - self._mono))
        return PlayResult(self._started, self._started, self._started + aired, aired)


class Preparer:
    """Prepared entries by key; each is used once (started) or discarded."""

    def __init__(
        self, *, sink: Sink, cache: MediaCache, clock: Clock, executor: Executor | None = None
    ) -> None:
        self._sink = sink
        self._cache = cache
        self._clock = clock
        self._executor = executor or ThreadPoolExecutor(max_workers=1, thread_name_prefix="loa-prepare")
        self._ready: dict[str, Future[Prepared | None]] = {}

    def has(self, key: str) -> bool:
        return key in self._ready

    def keep_only(self, entries: Iterable[Entry], *, later: Iterable[Entry] = ()) -> None:
        """Prepare ``entries`` (if not yet), keep ``later`` if prepared, discard whatever else."""
        wanted = {entry.key: entry for entry in entries}
        kept = set(wanted) | {entry.key for entry in later}
        for key in [key for key in self._ready if key not in kept]:
            _discard_when_done(self._ready.pop(key))
        for key, entry in wanted.items():
            if key not in self._ready or _missing_media(self._ready[key]):
                self._ready[key] = self._executor.submit(self.make, entry)

    def drop(self, prefix: str) -> None:
        for key in [key for key in self._ready if key.startswith(prefix)]:
            _discard_when_done(self._ready.pop(key))

    def wait(self, entry: Entry) -> None:
        """Block until ``entry`` is prepared (or failed to be)."""
        future = self._ready.get(entry.key)
        if future is None:
            self._ready[entry.key] = future = self._executor.submit(self.make, entry)
        with contextlib.suppress(Exception):
            future.exception()

    def take(self, entry: Entry) -> Prepared | None:
        """The prepared entry (None: a silence), now; raises MediaUnavailable or SinkError."""
        future = self._ready.pop(entry.key, None)
        if future is None:
            return self.make(entry)
        try:
            return future.result()
        except MediaUnavailable as exc:
            if exc.reason != "media_missing":
                raise
            return self.make(entry)  # it may have arrived since

    def playback(self, entry: Entry, prepared: Prepared | None, wake: Callable[[], None]) -> Playback:
        if prepared is None:
            return Silence(self._clock, max(0, entry.duration_ms - entry.offset_ms))
        return self._sink.start(prepared, wake)

    def make(self, entry: Entry) -> Prepared | None:
        if entry.kind == "silence":
            return None
        return self._sink.prepare(self.source(entry))

    def source(self, entry: Entry) -> Source:
        item = entry.item
        if entry.kind == "tone" or item is None:
            label = entry.key.replace(":", "-")
            return Source(
                label=label, kind="tone", duration_ms=entry.duration_ms, frequency_hz=entry.frequency_hz
            )
        if item.kind == "stream":
            duration = max(0, item.duration_ms - entry.offset_ms)
            return Source(
                label=item.id, kind="stream", url=item.stream_url, duration_ms=duration, volume=item.volume
            )
        if item.media is None:
            raise MediaUnavailable("media_missing", f"audio item {item.id} has no media")
        return Source(
            label=item.id,
            kind="file",
            path=self._cache.verified_path(item.media),
            duration_ms=item.duration_ms,
            offset_ms=entry.offset_ms,
            volume=item.volume,
        )

    def shutdown(self) -> None:
        for key in list(self._ready):
            _discard_when_done(self._ready.pop(key))
        if isinstance(self._executor, ThreadPoolExecutor):
            self._executor.shutdown(wait=False, cancel_futures=True)


def _missing_media(future: Future[Prepared | None]) -> bool:
    """Prepared too early: the media was not fetched yet (try again)."""
    if not future.done() or future.cancelled():
        return False
    error = future.exception()
    return isinstance(error, MediaUnavailable) and error.reason == "media_missing"


def _discard_when_done(future: Future[Prepared | None]) -> None:
    def discard(done: Future[Prepared | None]) -> None:
        if not done.cancelled() and done.exception() is None:
            prepared = done.result()
            if prepared is not None:
                prepared.discard()

    if not future.cancel():
        future.add_done_callback(discard)
