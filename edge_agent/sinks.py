"""Where sound goes: the player only knows the ``Sink`` interface; ffmpeg is called here and only here.

``FileSink`` writes what it would play into a folder (demo, tests, a box without a sound card);
``AlsaSink`` plays through ffmpeg to an ALSA device.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import subprocess
import threading
from pathlib import Path
from typing import Protocol

from edge_agent.clock import Clock
from playlists.files import atomic_write_bytes
from playlists.wire import TimelineItem

log = logging.getLogger(__name__)

PLAYED_LOG = "played.jsonl"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


class SinkError(RuntimeError):
    """The sink could not play an item."""


class Sink(Protocol):
    """Plays one item; blocks until it is done or ``stop`` is set."""

    def play(self, item: TimelineItem, media_path: Path | None, stop: threading.Event) -> None: ...


def effective_volume(box_volume: int, item: TimelineItem) -> int:
    """The item's volume is a percent of the box's volume."""
    return round(box_volume * item.volume / 100)


class FileSink:
    """Writes a copy of each played file and one JSON line per play into ``folder``."""

    def __init__(self, folder: Path, clock: Clock, *, realtime: bool = True, volume: int = 100) -> None:
        self.folder = folder
        self._clock = clock
        self._realtime = realtime
        self._volume = volume
        folder.mkdir(parents=True, exist_ok=True)

    @property
    def played_log(self) -> Path:
        return self.folder / PLAYED_LOG

    def play(self, item: TimelineItem, media_path: Path | None, stop: threading.Event) -> None:
        data = media_path.read_bytes() if media_path is not None else b""
        started = self._clock.now_ms()
        atomic_write_bytes(self.folder / f"{started}-{_UNSAFE.sub('_', item.id)}.bin", data)
        interrupted = self._realtime and self._clock.wait(stop, item.duration_ms / 1000)
        ended = self._clock.now_ms()
        line = {
            "item_id": item.id,
            "sha256": hashlib.sha256(data).hexdigest(),
            "bytes": len(data),
            "started_at_ms": started,
            "ended_at_ms": ended,
            "volume": effective_volume(self._volume, item),
            "interrupted": interrupted,
        }
        with self.played_log.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(line, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())


class AlsaSink:
    """Plays through ``ffmpeg … -f alsa default``; the ffmpeg process is terminated when stop is set."""

    def __init__(
        self,
        *,
        volume: int = 100,
        device: str = "default",
        output_format: str = "alsa",
        pace_input: bool = False,
        ffmpeg: str = "ffmpeg",
    ) -> None:
        self._volume = volume
        self._device = device
        self._format = output_format
        self._pace_input = pace_input  # for outputs that do not block like a sound card does (-f null)
        self._ffmpeg = ffmpeg

    def command(self, item: TimelineItem, media_path: Path) -> list[str]:
        gain = effective_volume(self._volume, item) / 100
        pace = ["-re"] if self._pace_input else []
        return [
            self._ffmpeg,
            "-nostdin",
            "-loglevel",
            "error",
            *pace,
            "-i",
            str(media_path),
            "-af",
            f"volume={gain:.2f}",
            "-f",
            self._format,
            self._device,
        ]

    def play(self, item: TimelineItem, media_path: Path | None, stop: threading.Event) -> None:
        if media_path is None:
            raise SinkError(f"item {item.id!r} has no media to play")
        try:
            process = subprocess.Popen(
                self.command(item, media_path),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        except OSError as exc:
            raise SinkError(f"cannot start ffmpeg: {exc}") from exc
        errors = b""
        try:
            while True:
                try:
                    _, errors = process.communicate(timeout=0.1)
                    break
                except subprocess.TimeoutExpired:
                    if stop.is_set():
                        process.terminate()
                        try:
                            process.communicate(timeout=2)
                        except subprocess.TimeoutExpired:
                            process.kill()
                            process.communicate()
                        return
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
        if process.returncode != 0:
            raise SinkError(
                f"ffmpeg exited with {process.returncode}: {errors.decode(errors='replace')[-300:]}"
            )
