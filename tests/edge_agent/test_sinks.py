"""The sinks: the file sink records what it plays; the ALSA sink drives a real ffmpeg and stops it."""

from __future__ import annotations

import hashlib
import json
import subprocess
import threading
import time

import pytest

from edge_agent.clock import SystemClock
from edge_agent.sinks import AlsaSink, FileSink, SinkError
from playlists.wire import MediaRef, TimelineItem


def item(item_id: str = "a/1", *, duration_ms: int = 200, volume: int = 100) -> TimelineItem:
    media = MediaRef(sha256="0" * 64, url="/m", bytes=1, duration_ms=duration_ms)
    return TimelineItem(id=item_id, start_ms=0, duration_ms=duration_ms, media=media, volume=volume)


def test_file_sink_writes_a_copy_and_a_line_and_takes_the_item_duration(tmp_path):
    media = tmp_path / "media.bin"
    media.write_bytes(b"approved sound")
    sink = FileSink(tmp_path / "out", SystemClock(), volume=80)

    sink.play(item(volume=50), media, threading.Event())

    [line] = [json.loads(text) for text in sink.played_log.read_text().splitlines()]
    assert line["sha256"] == hashlib.sha256(b"approved sound").hexdigest()
    assert (line["item_id"], line["bytes"], line["volume"], line["interrupted"]) == ("a/1", 14, 40, False)
    assert 190 <= line["ended_at_ms"] - line["started_at_ms"] < 1000
    [copy] = (tmp_path / "out").glob("*.bin")
    assert copy.name == f"{line['started_at_ms']}-a_1.bin"
    assert copy.read_bytes() == b"approved sound"


def test_file_sink_stops_early_when_asked(tmp_path, clock):
    media = tmp_path / "media.bin"
    media.write_bytes(b"x")
    stop = threading.Event()
    stop.set()

    FileSink(tmp_path / "out", clock).play(item(duration_ms=60_000), media, stop)

    [line] = [json.loads(text) for text in (tmp_path / "out" / "played.jsonl").read_text().splitlines()]
    assert line["interrupted"] is True
    assert line["ended_at_ms"] == line["started_at_ms"]


@pytest.fixture(scope="module")
def tone(tmp_path_factory):
    path = tmp_path_factory.mktemp("tone") / "tone.wav"
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=0.3",
            str(path),
        ],
        check=True,
    )
    return path


@pytest.mark.integration
def test_alsa_sink_plays_through_ffmpeg_to_the_end(tone):
    sink = AlsaSink(volume=50, output_format="null", device="-", pace_input=True)

    began = time.monotonic()
    sink.play(item(), tone, threading.Event())

    assert time.monotonic() - began >= 0.25  # paced like a sound card: the whole 0.3 s tone


@pytest.mark.integration
def test_alsa_sink_terminates_ffmpeg_when_stop_is_set(tmp_path):
    long_tone = tmp_path / "long.wav"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "sine=duration=30", str(long_tone)],
        check=True,
    )
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    sink = AlsaSink(output_format="null", device="-", pace_input=True)

    began = time.monotonic()
    sink.play(item(duration_ms=30_000), long_tone, stop)

    assert time.monotonic() - began < 5


@pytest.mark.integration
def test_alsa_sink_reports_an_unplayable_file(tmp_path):
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"not audio at all")

    with pytest.raises(SinkError, match="ffmpeg exited"):
        AlsaSink(output_format="null", device="-").play(item(), bad, threading.Event())


def test_alsa_sink_command_scales_the_item_volume_by_the_box_volume(tmp_path):
    command = AlsaSink(volume=80).command(item(volume=50), tmp_path / "a.mp3")

    path = str(tmp_path / "a.mp3")
    expected = [
        "ffmpeg",
        "-nostdin",
        "-loglevel",
        "error",
        "-i",
        path,
        "-af",
        "volume=0.40",
        "-f",
        "alsa",
        "default",
    ]
    assert command == expected
