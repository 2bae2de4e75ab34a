"""Running the audio tools: time-limited, failures turned into one-line ``AudioError`` messages.

Only ``audio.ffmpeg`` builds ffmpeg and ffprobe command lines; this module runs what it is given,
and keeps temporary paths out of the messages (they are reduced to file names).
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import IO

from audio.errors import AudioError

logger = logging.getLogger(__name__)

TIMEOUT_S = 600.0


def run(args: list[str], *, what: str, paths: list[Path]) -> subprocess.CompletedProcess[bytes]:
    tool = args[0]
    try:
        done = subprocess.run(args, capture_output=True, timeout=TIMEOUT_S, check=False)
    except FileNotFoundError:
        raise AudioError(f"{what}: {tool} is not installed") from None
    except subprocess.TimeoutExpired:
        raise AudioError(f"{what}: {tool} took longer than {TIMEOUT_S:g} s") from None
    if done.returncode != 0:
        _fail(what, tool, done.returncode, done.stderr, paths)
    return done


def run_piped(*commands: list[str], what: str, paths: list[Path]) -> bytes:
    """Run ``commands`` as one pipeline (``a | b | c``) and return the last one's stderr.

    Each runs in its own process, so a pipeline of ffmpegs spreads over the cores. Any of them
    failing fails the whole; the first to fail (in pipeline order) is the one reported.
    """
    processes: list[subprocess.Popen[bytes]] = []
    upstream: IO[bytes] | None = None
    try:
        for number, args in enumerate(commands):
            last = number == len(commands) - 1
            try:
                process = subprocess.Popen(
                    args,
                    stdin=upstream,
                    stdout=subprocess.DEVNULL if last else subprocess.PIPE,
                    stderr=subprocess.PIPE,
                )
            except FileNotFoundError:
                raise AudioError(f"{what}: {args[0]} is not installed") from None
            if upstream is not None:
                upstream.close()  # the new process holds the read end now
            upstream = process.stdout
            processes.append(process)
    except BaseException:
        if upstream is not None:
            upstream.close()
        for process in processes:
            process.kill()
            process.wait()
            if process.stderr is not None:
                process.stderr.close()
        raise
    outputs: list[bytes] = [b""] * len(processes)

    def drain(index: int, stream: IO[bytes]) -> None:
        outputs[index] = stream.read()

    readers = []
    for index, process in enumerate(processes):
        assert process.stderr is not None
        readers.append(threading.Thread(target=drain, args=(index, process.stderr)))

    def kill_all() -> None:
        for process in processes:
            process.kill()

    timer = threading.Timer(TIMEOUT_S, kill_all)
    for thread in (*readers, timer):
        thread.start()
    try:
        codes = [p.wait() for p in processes]
        for reader in readers:
            reader.join()
    finally:
        timer.cancel()
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
            if process.stderr is not None:
                process.stderr.close()
    for args, code, output in zip(commands, codes, outputs, strict=True):
        if code != 0:
            _fail(what, args[0], code, output, paths)
    return outputs[-1]


def _fail(what: str, tool: str, returncode: int, stderr_bytes: bytes, paths: list[Path]) -> None:
    stderr = stderr_bytes.decode("utf-8", errors="replace")
    logger.debug("%s exited with %d: %s", tool, returncode, stderr)
    if returncode < 0:
        raise AudioError(f"{what}: {tool} was stopped after {TIMEOUT_S:g} s or by signal {-returncode}")
    raise AudioError(f"{what}: {_complaint(stderr, paths) or f'{tool} exited with {returncode}'}")


def _complaint(stderr: str, paths: list[Path]) -> str:
    """ffmpeg's last line, without the full paths of our (often temporary) files."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    if not lines:
        return ""
    line = re.sub(r"^(?:\[[^\]]*\] )+", "", lines[-1])
    for path in paths:
        line = line.removeprefix(f"{url(path)}: ").replace(url(path), path.name)
    return line


def temporary_sibling(dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".tmp", dir=dst.parent)
    os.close(fd)
    return Path(tmp_name)


def fsync_dir(folder: Path) -> None:
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def url(path: Path) -> str:
    # "file:" keeps ffmpeg from reading a name as an option ("-x") or another protocol ("http:…").
    return f"file:{path.absolute()}"
