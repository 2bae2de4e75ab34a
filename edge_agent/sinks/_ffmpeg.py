"""Every ffmpeg command line of the agent. Output is always signed 16-bit mono PCM at 48 kHz."""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
from pathlib import Path

from edge_agent.sinks.base import SinkError, Source

log = logging.getLogger(__name__)

SAMPLE_RATE = 48_000
BYTES_PER_MS = SAMPLE_RATE * 2 // 1000  # s16le mono
PCM_FORMAT = ["-f", "s16le", "-ar", str(SAMPLE_RATE), "-ac", "1"]
DECODE_TIMEOUT_S = 300.0
DECODE_NICENESS = 10
_BASE = ["-nostdin", "-hide_banner", "-loglevel", "error", "-threads", "1", "-filter_threads", "1"]


def _input(source: Source) -> list[str]:
    if source.kind == "tone":
        seconds = max(0.001, (source.duration_ms - source.offset_ms) / 1000)
        return ["-f", "lavfi", "-i", f"sine=frequency={source.frequency_hz}:sample_rate=48000:d={seconds}"]
    if source.kind == "file" and source.path is not None:
        seek = ["-ss", f"{source.offset_ms / 1000:.3f}"] if source.offset_ms else []
        return [*seek, "-i", str(source.path)]
    raise SinkError(f"{source.label}: nothing to decode")


def decode_command(source: Source, output: Path, *, gain: float, ffmpeg: str = "ffmpeg") -> list[str]:
    """Decode a file (MP3, Opus, …) or a tone into raw PCM, the gain applied."""
    return [
        ffmpeg,
        *_BASE,
        "-y",
        *_input(source),
        "-vn",
        "-af",
        f"volume={gain:.3f}",
        *PCM_FORMAT,
        str(output),
    ]


def decode(source: Source, output: Path, *, gain: float, ffmpeg: str = "ffmpeg") -> None:
    """Run the decode, at a low CPU priority (it runs ahead; what must be on time is the player's
    wake-up at the instant); raises SinkError with ffmpeg's last words."""
    process = spawn(decode_command(source, output, gain=gain, ffmpeg=ffmpeg))
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, process.pid, DECODE_NICENESS)
    try:
        _, errors = process.communicate(timeout=DECODE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        end(process)
        raise SinkError(f"decode_error: ffmpeg took more than {DECODE_TIMEOUT_S:.0f} s") from None
    if process.returncode != 0:
        words = errors.decode(errors="replace").strip()[-200:]
        raise SinkError(f"decode_error: ffmpeg exited with {process.returncode}: {words}")


def stream_command(
    url: str, *, seconds: float, gain: float, output: list[str], ffmpeg: str = "ffmpeg"
) -> list[str]:
    """Relay an HTTP stream for ``seconds``, reconnecting inside ffmpeg after short cuts."""
    reconnect = ["-reconnect", "1", "-reconnect_streamed", "1", "-reconnect_delay_max", "4"]
    timeouts = ["-rw_timeout", "10000000"]
    return [
        ffmpeg,
        *_BASE,
        "-re",
        *reconnect,
        *timeouts,
        "-i",
        url,
        "-t",
        f"{seconds:.3f}",
        "-vn",
        "-af",
        f"volume={gain:.3f}",
        *PCM_FORMAT,
        *output,
    ]


def pcm_player_command(
    output_format: str, device: str, *, pace: bool = False, ffmpeg: str = "ffmpeg"
) -> list[str]:
    """A player that waits for raw PCM on stdin: started ahead, it sounds the instant PCM arrives."""
    paced = ["-re"] if pace else []
    return [
        ffmpeg,
        *_BASE,
        "-probesize",
        "32",
        "-analyzeduration",
        "0",
        *paced,
        *PCM_FORMAT,
        "-i",
        "pipe:0",
        "-f",
        output_format,
        device,
    ]


def spawn(command: list[str], *, stdin: bool = False, stdout: bool = False) -> subprocess.Popen[bytes]:
    try:
        return subprocess.Popen(
            command,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE if stdout else subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
    except OSError as exc:
        raise SinkError(f"cannot start ffmpeg: {exc}") from exc


def end(process: subprocess.Popen[bytes], timeout_s: float = 2.0) -> bytes:
    """Terminate (then kill) ``process`` if it still runs, close its pipes; returns its stderr.

    Safe to call twice and from the thread that fed it (ffmpeg writes little at ``-loglevel error``,
    so reading stderr only at the end cannot block it).
    """
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    errors = b""
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is None or stream.closed:
            continue
        with contextlib.suppress(OSError, ValueError):  # the process may already be gone
            if stream is process.stderr:
                errors = stream.read()
            stream.close()
    return errors
