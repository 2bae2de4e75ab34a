"""The file sink: decodes what it would play to PCM (s16le, mono, 48 kHz) and writes, for every
airing, ``<started_at_ms>-<item_id>.pcm`` (exactly the samples that went on air) and one JSON line in
``played.jsonl`` with the timestamps. Used by the demo, the tests and the benchmark."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_agent.clock import Clock
from edge_agent.sinks import _ffmpeg
from edge_agent.sinks.base import PlayResult, SinkError, Source, effective_volume, sha256_file
from edge_agent.sinks.pcmcache import PcmCache
from playlists.files import fsync_dir

log = logging.getLogger(__name__)

PLAYED_LOG = "played.jsonl"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_CHUNK = 64 * 1024
STREAM_RETRY_S = 1.0


@dataclass
class FilePrepared:
    source: Source
    volume: int
    pcm: Path | None = None  # decoded samples (None for a stream: decoded while it plays)
    source_sha256: str | None = None
    source_bytes: int | None = None
    release: Callable[[], None] | None = None

    def discard(self) -> None:
        release, self.release = self.release, None
        if release is not None:
            release()


class FileSink:
    """Writes what it plays into ``folder``; whole files only (temp → fsync → rename)."""

    def __init__(self, folder: Path, clock: Clock, *, volume: int = 100, ffmpeg: str = "ffmpeg") -> None:
        self.folder = folder
        self._clock = clock
        self._volume = volume
        self._ffmpeg = ffmpeg
        self._log_lock = threading.Lock()
        folder.mkdir(parents=True, exist_ok=True)
        self._decoded = PcmCache(folder / ".decoded", ffmpeg=ffmpeg)
        for leftover in folder.glob(".prep-*"):  # decoded by a process that was killed
            leftover.unlink(missing_ok=True)
        _repair_torn_tail(self.played_log)

    @property
    def played_log(self) -> Path:
        return self.folder / PLAYED_LOG

    def set_volume(self, volume: int) -> None:
        self._volume = volume

    def prepare(self, source: Source) -> FilePrepared:
        volume = effective_volume(self._volume, source.volume)
        if source.kind == "stream":
            if not source.url:
                raise SinkError("stream item without a stream_url")
            return FilePrepared(source, volume)
        prepared = FilePrepared(source, volume)
        if source.path is not None:
            prepared.source_sha256 = sha256_file(source.path)
            prepared.source_bytes = source.path.stat().st_size
        prepared.pcm, prepared.release = self._decoded.acquire(
            source, gain=volume / 100, source_sha256=prepared.source_sha256
        )
        return prepared

    def start(self, prepared: Any, wake: Callable[[], None]) -> PcmPlayback | StreamPlayback:
        if not isinstance(prepared, FilePrepared):
            raise SinkError("prepared by another sink")
        if prepared.source.kind == "stream":
            return StreamPlayback(self, prepared, wake)
        return PcmPlayback(self, prepared)

    # -- used by the playbacks ------------------------------------------------------------------

    def now(self) -> tuple[int, int]:
        return self._clock.now_ms(), self._clock.monotonic_ms()

    def store(self, started_at_ms: int, label: str, pcm: Path, aired_bytes: int) -> tuple[str, str]:
        """Copy the aired prefix of ``pcm`` to its final name; returns (file name, pcm sha256)."""
        name = f"{started_at_ms}-{_UNSAFE.sub('_', label)}.pcm"
        temp = self.folder / f".prep-{uuid.uuid4().hex}.part"
        digest = hashlib.sha256()
        left = aired_bytes
        with pcm.open("rb") as source, temp.open("wb") as target:
            while left > 0 and (chunk := source.read(min(_CHUNK, left))):
                digest.update(chunk)
                target.write(chunk)
                left -= len(chunk)
            target.flush()
            os.fsync(target.fileno())
        os.replace(temp, self.folder / name)
        fsync_dir(self.folder)
        return name, digest.hexdigest()

    def record(self, line: dict[str, Any]) -> None:
        with self._log_lock, self.played_log.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(line, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())


@dataclass
class PcmPlayback:
    """A decoded file or tone 'playing' against the clock; nothing is written until it ends."""

    sink: FileSink
    prepared: FilePrepared
    started_at_ms: int = 0
    started_mono_ms: int = 0
    duration_ms: int = 0
    stopped_mono_ms: int | None = None
    result: PlayResult | None = None

    def __post_init__(self) -> None:
        self.started_at_ms, self.started_mono_ms = self.sink.now()
        assert self.prepared.pcm is not None
        self.duration_ms = self.prepared.pcm.stat().st_size // _ffmpeg.BYTES_PER_MS

    @property
    def first_sample_ms(self) -> int | None:
        return self.started_at_ms

    def remaining_s(self) -> float | None:
        if self.stopped_mono_ms is not None:
            return 0.0
        _, mono = self.sink.now()
        return max(0.0, (self.started_mono_ms + self.duration_ms - mono) / 1000)

    def done(self) -> bool:
        return self.remaining_s() == 0.0

    def stop(self) -> None:
        if self.stopped_mono_ms is None:
            self.stopped_mono_ms = self.sink.now()[1]

    def finish(self) -> PlayResult:
        if self.result is not None:
            return self.result
        end_mono = self.stopped_mono_ms if self.stopped_mono_ms is not None else self.sink.now()[1]
        aired_ms = max(0, min(self.duration_ms, end_mono - self.started_mono_ms))
        assert self.prepared.pcm is not None
        size = self.prepared.pcm.stat().st_size
        aired_bytes = size if aired_ms >= self.duration_ms else aired_ms * _ffmpeg.BYTES_PER_MS
        name, pcm_sha = self.sink.store(
            self.started_at_ms, self.prepared.source.label, self.prepared.pcm, aired_bytes
        )
        ended = self.started_at_ms + aired_ms
        self.result = PlayResult(self.started_at_ms, self.started_at_ms, ended, aired_ms)
        self.sink.record(
            _line(
                self.prepared,
                self.result,
                pcm_file=name,
                pcm_sha256=pcm_sha,
                interrupted=self.stopped_mono_ms is not None,
            )
        )
        return self.result


@dataclass
class StreamPlayback:
    """A stream relayed for its duration: ffmpeg decodes into a temp file, restarted after cuts."""

    sink: FileSink
    prepared: FilePrepared
    wake: Callable[[], None]
    started_at_ms: int = 0
    started_mono_ms: int = 0
    first: int | None = None
    errors: list[str] = field(default_factory=list)
    result: PlayResult | None = None

    def __post_init__(self) -> None:
        self.started_at_ms, self.started_mono_ms = self.sink.now()
        self._stop = threading.Event()
        self._finished = threading.Event()
        self._pcm = self.sink.folder / f".prep-{uuid.uuid4().hex}.pcm"
        self._thread = threading.Thread(target=self._run, name="loa-stream", daemon=True)
        self._thread.start()

    @property
    def first_sample_ms(self) -> int | None:
        return self.first

    def remaining_s(self) -> float | None:
        return 0.0 if self._finished.is_set() else None

    def done(self) -> bool:
        return self._finished.is_set()

    def stop(self) -> None:
        self._stop.set()

    def _left_s(self) -> float:
        return (self.started_mono_ms + self.prepared.source.duration_ms - self.sink.now()[1]) / 1000

    def _run(self) -> None:
        url = self.prepared.source.url or ""
        try:
            with self._pcm.open("wb") as out:
                while not self._stop.is_set() and (left := self._left_s()) > 0.05:
                    self._relay(url, left, out)
                    if not self._stop.is_set() and self._left_s() > 0.05:
                        log.warning("stream %s cut; reconnecting", url)
                        self._stop.wait(STREAM_RETRY_S)
                out.flush()
                os.fsync(out.fileno())
        except OSError as exc:
            self.errors.append(f"stream_error: {exc}")
        finally:
            self._finished.set()
            self.wake()

    def _relay(self, url: str, seconds: float, out: Any) -> None:
        gain = self.prepared.volume / 100
        command = _ffmpeg.stream_command(
            url, seconds=seconds, gain=gain, output=["pipe:1"], ffmpeg=self.sink._ffmpeg
        )
        process = _ffmpeg.spawn(command, stdout=True)
        stopper = threading.Thread(target=self._stop_on_signal, args=(process,), daemon=True)
        stopper.start()
        assert process.stdout is not None
        try:
            while chunk := os.read(process.stdout.fileno(), _CHUNK):
                if self.first is None:
                    self.first = self.sink.now()[0]
                out.write(chunk)
        finally:
            errors = _ffmpeg.end(process)
            if process.returncode not in (0, -15) and not self._stop.is_set():
                self.errors.append(f"stream_error: {errors.decode(errors='replace').strip()[-200:]}")

    def _stop_on_signal(self, process: Any) -> None:
        while process.poll() is None:
            if self._stop.wait(0.1):
                process.terminate()
                return

    def finish(self) -> PlayResult:
        if self.result is not None:
            return self.result
        self.stop()
        self._thread.join(10)
        ended, _ = self.sink.now()
        size = self._pcm.stat().st_size if self._pcm.exists() else 0
        size -= size % 2
        name, pcm_sha = self.sink.store(self.started_at_ms, self.prepared.source.label, self._pcm, size)
        self._pcm.unlink(missing_ok=True)
        aired = size // _ffmpeg.BYTES_PER_MS
        error = None if size else (self.errors[-1] if self.errors else "stream_error: no audio received")
        self.result = PlayResult(self.started_at_ms, self.first, ended, aired, error)
        self.sink.record(
            _line(
                self.prepared,
                self.result,
                pcm_file=name,
                pcm_sha256=pcm_sha,
                interrupted=self._left_s() > 0.05,
            )
        )
        return self.result


def _line(prepared: FilePrepared, result: PlayResult, **extra: Any) -> dict[str, Any]:
    source = prepared.source
    return {
        "item_id": source.label,
        "kind": source.kind,
        "sha256": prepared.source_sha256,
        "bytes": prepared.source_bytes,
        "url": source.url,
        "offset_ms": source.offset_ms,
        "first_sample_ms": result.first_sample_ms,
        "started_at_ms": result.started_at_ms,
        "ended_at_ms": result.ended_at_ms,
        "aired_ms": result.aired_ms,
        "volume": prepared.volume,
        **extra,
    }


def _repair_torn_tail(path: Path) -> None:
    """A line cut by a power loss would glue itself to the next one: drop it."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return
    if data and not data.endswith(b"\n"):
        keep = data.rfind(b"\n") + 1
        log.warning("%s ends in a torn line; dropped %d bytes", path, len(data) - keep)
        with path.open("r+b") as handle:
            handle.truncate(keep)
            os.fsync(handle.fileno())
