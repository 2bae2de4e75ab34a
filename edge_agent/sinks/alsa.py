"""The ALSA sink: real speakers through ffmpeg.

The media is decoded ahead of the instant and an ffmpeg player is started waiting on its stdin, so
that at the instant only PCM has to flow. The box volume goes to the mixer through ``amixer`` when
it is installed (the item's volume is applied in the decode), otherwise into the decode as well.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_agent.clock import Clock
from edge_agent.sinks import _ffmpeg
from edge_agent.sinks.base import PlayResult, SinkError, Source, effective_volume, sha256_file
from edge_agent.sinks.pcmcache import PcmCache

log = logging.getLogger(__name__)

_CHUNK = 4096
STREAM_RETRY_S = 1.0


@dataclass
class AlsaPrepared:
    source: Source
    gain: float
    pcm: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    release: Callable[[], None] | None = None

    def discard(self) -> None:
        if self.process is not None:
            _ffmpeg.end(self.process)
        release, self.release = self.release, None
        if release is not None:
            release()


class AlsaSink:
    """Plays on ``device`` (``-f alsa``); ``output_format``/``pace_input`` let tests use ``-f null``."""

    def __init__(
        self,
        *,
        spool: Path,
        clock: Clock,
        volume: int = 100,
        device: str = "default",
        mixer_control: str = "Master",
        amixer: str | None = None,
        find_amixer: bool = True,
        output_format: str = "alsa",
        pace_input: bool = False,
        ffmpeg: str = "ffmpeg",
    ) -> None:
        self._clock = clock
        self._device = device
        self._format = output_format
        self._pace = pace_input
        self._ffmpeg = ffmpeg
        self._mixer_control = mixer_control
        self._amixer = amixer if amixer is not None or not find_amixer else shutil.which("amixer")
        self._decoded = PcmCache(spool, ffmpeg=ffmpeg)
        self._volume = volume
        self.set_volume(volume)

    @property
    def uses_mixer(self) -> bool:
        return self._amixer is not None

    def mixer_command(self, volume: int) -> list[str]:
        return [self._amixer or "amixer", "-q", "sset", self._mixer_control, f"{volume}%"]

    def set_volume(self, volume: int) -> None:
        self._volume = volume
        if self._amixer is None:
            return
        try:
            subprocess.run(self.mixer_command(volume), capture_output=True, timeout=5, check=True)
        except (OSError, subprocess.SubprocessError) as exc:
            log.warning("amixer failed (%s); the box volume goes into the decode instead", exc)
            self._amixer = None

    def gain(self, item_volume: int) -> float:
        """The gain put into the decode: the item's volume, times the box's when no mixer carries it."""
        if self.uses_mixer:
            return item_volume / 100
        return effective_volume(self._volume, item_volume) / 100

    def prepare(self, source: Source) -> AlsaPrepared:
        prepared = AlsaPrepared(source, self.gain(source.volume))
        if source.kind == "stream":
            if not source.url:
                raise SinkError("stream item without a stream_url")
            return prepared
        sha = sha256_file(source.path) if source.path is not None else None
        prepared.pcm, prepared.release = self._decoded.acquire(source, gain=prepared.gain, source_sha256=sha)
        try:
            command = _ffmpeg.pcm_player_command(
                self._format, self._device, pace=self._pace, ffmpeg=self._ffmpeg
            )
            prepared.process = _ffmpeg.spawn(command, stdin=True)
        except BaseException:
            prepared.discard()
            raise
        return prepared

    def start(self, prepared: Any, wake: Callable[[], None]) -> AlsaPlayback:
        if not isinstance(prepared, AlsaPrepared):
            raise SinkError("prepared by another sink")
        return AlsaPlayback(self, prepared, wake)

    def stream_command(self, url: str, seconds: float, gain: float) -> list[str]:
        return _ffmpeg.stream_command(
            url, seconds=seconds, gain=gain, output=["-f", self._format, self._device], ffmpeg=self._ffmpeg
        )

    def now(self) -> tuple[int, int]:
        return self._clock.now_ms(), self._clock.monotonic_ms()


class AlsaPlayback:
    """Feeds the waiting player (or relays the stream) from a thread; calls ``wake`` at the end."""

    def __init__(self, sink: AlsaSink, prepared: AlsaPrepared, wake: Callable[[], None]) -> None:
        self._sink = sink
        self._prepared = prepared
        self._wake = wake
        self._stop = threading.Event()
        self._finished = threading.Event()
        self._errors: list[str] = []
        self._result: PlayResult | None = None
        self.started_at_ms, self._started_mono = sink.now()
        target = self._relay if prepared.source.kind == "stream" else self._feed
        self._thread = threading.Thread(target=self._guard, args=(target,), name="loa-alsa", daemon=True)
        self._thread.start()

    @property
    def first_sample_ms(self) -> int | None:
        return self.started_at_ms

    def remaining_s(self) -> float | None:
        return 0.0 if self._finished.is_set() else None

    def done(self) -> bool:
        return self._finished.is_set()

    def stop(self) -> None:
        self._stop.set()
        process = self._prepared.process
        if process is not None and process.poll() is None:
            process.terminate()

    def _guard(self, target: Callable[[], None]) -> None:
        try:
            target()
        except Exception as exc:
            self._errors.append(f"playback_error: {exc}")
        finally:
            self._finished.set()
            self._wake()

    def _feed(self) -> None:
        process, pcm = self._prepared.process, self._prepared.pcm
        assert process is not None and process.stdin is not None and pcm is not None
        try:
            with pcm.open("rb") as source:
                while not self._stop.is_set() and (chunk := source.read(_CHUNK)):
                    process.stdin.write(chunk)
            process.stdin.close()
        except (BrokenPipeError, ValueError):
            pass  # the player went away: stopped, or it failed (its exit code tells)
        errors = self._wait(process)
        if process.returncode != 0 and not self._stop.is_set():
            self._errors.append(f"playback_error: ffmpeg exited with {process.returncode}: {errors}")

    def _relay(self) -> None:
        source = self._prepared.source
        while not self._stop.is_set():
            left = (self._started_mono + source.duration_ms - self._sink.now()[1]) / 1000
            if left <= 0.05:
                return
            command = self._sink.stream_command(source.url or "", left, self._prepared.gain)
            self._prepared.process = _ffmpeg.spawn(command)
            errors = self._wait(self._prepared.process)
            if self._prepared.process.returncode != 0 and not self._stop.is_set():
                self._errors.append(f"stream_error: {errors}")
                log.warning("stream %s cut (%s); reconnecting", source.url, errors)
                self._stop.wait(STREAM_RETRY_S)

    def _wait(self, process: subprocess.Popen[bytes]) -> str:
        while process.poll() is None:
            if self._stop.wait(0.1):
                break
        return _ffmpeg.end(process).decode(errors="replace").strip()[-200:]

    def finish(self) -> PlayResult:
        if self._result is not None:
            return self._result
        stopped = not self._finished.is_set()
        self.stop()
        self._thread.join(10)
        ended, mono = self._sink.now()
        aired = max(0, mono - self._started_mono)  # the sound card paced it: wall time is air time
        error = self._errors[-1] if self._errors and not stopped else None
        self._prepared.discard()
        self._result = PlayResult(self.started_at_ms, self.started_at_ms, ended, aired, error)
        return self._result
