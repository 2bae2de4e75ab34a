"""The sinks with a real ffmpeg: the file sink writes exactly the PCM that went on air (MP3, Opus,
tones, streams), with timestamps; the ALSA sink feeds a waiting ffmpeg (here ``-f null``)."""

from __future__ import annotations

import array
import hashlib
import json
import threading
import time
from pathlib import Path

import pytest

from edge_agent.clock import SystemClock
from edge_agent.sinks import AlsaSink, FileSink, SinkError, Source
from edge_agent.sinks._ffmpeg import BYTES_PER_MS
from edge_agent.sinks.pcmcache import PcmCache

pytestmark = pytest.mark.integration


def play(sink, source: Source, *, stop_after_s: float | None = None):
    """As the player does: prepare, start, wait for the end, finish, discard what was prepared."""
    done = threading.Event()
    prepared = sink.prepare(source)
    playback = sink.start(prepared, done.set)
    deadline = time.monotonic() + (stop_after_s if stop_after_s is not None else 30)
    while not playback.done() and time.monotonic() < deadline:
        remaining = playback.remaining_s()
        done.wait(min(0.02, remaining) if remaining is not None else 0.02)
    result = playback.finish()
    prepared.discard()
    return result


def lines(sink: FileSink) -> list[dict]:
    return [json.loads(text) for text in sink.played_log.read_text().splitlines()]


def peak(pcm: bytes) -> int:
    samples = array.array("h", pcm)
    return max(abs(s) for s in samples)


@pytest.mark.parametrize("fmt", ["mp3", "opus"])
def test_file_sink_writes_the_decoded_pcm_and_a_line_with_timestamps(tmp_path, audio, fmt):
    media = tmp_path / f"clip.{fmt}"
    media.write_bytes(audio(500, fmt=fmt, frequency=440))
    sink = FileSink(tmp_path / "out", SystemClock(), volume=80)

    result = play(sink, Source(label="a/1", kind="file", path=media, duration_ms=500, volume=50))

    [line] = lines(sink)
    pcm = tmp_path / "out" / line["pcm_file"]
    assert pcm.name == f"{line['started_at_ms']}-a_1.pcm"
    assert line["sha256"] == hashlib.sha256(media.read_bytes()).hexdigest()
    assert line["pcm_sha256"] == hashlib.sha256(pcm.read_bytes()).hexdigest()
    assert abs(len(pcm.read_bytes()) - 500 * BYTES_PER_MS) <= 30 * BYTES_PER_MS  # codec padding
    assert (line["volume"], line["interrupted"], line["kind"]) == (40, False, "file")
    assert line["first_sample_ms"] == line["started_at_ms"] == result.started_at_ms
    assert 480 <= line["ended_at_ms"] - line["started_at_ms"] <= 540
    assert list((tmp_path / "out").glob(".prep-*")) == []
    assert len(list((tmp_path / "out" / ".decoded").glob("*.pcm"))) == 1  # kept for the next airing


def test_file_sink_volume_scales_the_samples(tmp_path, audio):
    media = tmp_path / "clip.mp3"
    media.write_bytes(audio(300, frequency=500))
    loud, soft = (
        FileSink(tmp_path / "loud", SystemClock()),
        FileSink(tmp_path / "soft", SystemClock(), volume=50),
    )

    for sink in (loud, soft):
        play(sink, Source(label="a", kind="file", path=media, duration_ms=300))

    loud_peak = peak((tmp_path / "loud" / lines(loud)[0]["pcm_file"]).read_bytes())
    soft_peak = peak((tmp_path / "soft" / lines(soft)[0]["pcm_file"]).read_bytes())
    assert soft_peak / loud_peak == pytest.approx(0.5, abs=0.03)


def test_file_sink_stopped_early_keeps_only_what_aired(tmp_path, audio):
    media = tmp_path / "clip.mp3"
    media.write_bytes(audio(3_000, frequency=600))
    sink = FileSink(tmp_path / "out", SystemClock())
    playback = sink.start(
        sink.prepare(Source(label="a", kind="file", path=media, duration_ms=3_000)), lambda: None
    )

    time.sleep(0.4)
    playback.stop()
    result = playback.finish()

    [line] = lines(sink)
    assert line["interrupted"] is True
    assert 350 <= result.aired_ms <= 600
    assert (tmp_path / "out" / line["pcm_file"]).stat().st_size == result.aired_ms * BYTES_PER_MS


def test_file_sink_plays_the_rest_of_an_interrupted_file_from_its_offset(tmp_path, audio):
    media = tmp_path / "clip.opus"
    media.write_bytes(audio(1_000, fmt="opus", frequency=650))
    sink = FileSink(tmp_path / "out", SystemClock())

    result = play(sink, Source(label="a", kind="file", path=media, duration_ms=1_000, offset_ms=600))

    assert result.aired_ms == pytest.approx(400, abs=30)
    assert lines(sink)[0]["offset_ms"] == 600


def test_file_sink_plays_a_test_tone(tmp_path):
    sink = FileSink(tmp_path / "out", SystemClock())

    result = play(sink, Source(label="tone", kind="tone", duration_ms=300, frequency_hz=1000))

    [line] = lines(sink)
    assert (line["kind"], line["sha256"], result.aired_ms) == ("tone", None, 300)
    assert (tmp_path / "out" / line["pcm_file"]).stat().st_size == 300 * BYTES_PER_MS


def test_file_sink_relays_a_stream_for_its_duration_and_reconnects_after_a_cut(tmp_path, audio, media_server):
    data = audio(4_000, frequency=700)
    url = media_server.add_stream("radio", data)
    media_server.stream_cut_after = len(data) // 8  # the first connection drops after ~0.5 s
    sink = FileSink(tmp_path / "out", SystemClock())

    began = time.monotonic()
    result = play(sink, Source(label="relay", kind="stream", url=url, duration_ms=1_500))

    [line] = lines(sink)
    assert 1.4 <= time.monotonic() - began <= 3.0
    assert len([r for r in media_server.requests if r["path"] == "/stream/radio"]) >= 2
    assert result.error is None and 600 <= result.aired_ms <= 1_600
    assert line["first_sample_ms"] is not None and line["first_sample_ms"] >= line["started_at_ms"]
    assert (tmp_path / "out" / line["pcm_file"]).stat().st_size == result.aired_ms * BYTES_PER_MS


def test_file_sink_repairs_a_torn_last_line_and_clears_leftovers(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "played.jsonl").write_text('{"item_id": "a"}\n{"item_id": "b", "sha')
    (folder / ".prep-dead.pcm").write_bytes(b"\0" * 10)

    sink = FileSink(folder, SystemClock())

    assert sink.played_log.read_text() == '{"item_id": "a"}\n'
    assert not (folder / ".prep-dead.pcm").exists()


def test_file_sink_refuses_an_unplayable_file_at_prepare(tmp_path):
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"not audio at all")

    with pytest.raises(SinkError, match="decode_error"):
        FileSink(tmp_path / "out", SystemClock()).prepare(
            Source(label="a", kind="file", path=bad, duration_ms=1)
        )
    assert list((tmp_path / "out").glob(".prep-*")) == []


def null_alsa(tmp_path: Path, **kwargs) -> AlsaSink:
    return AlsaSink(
        spool=tmp_path / "spool",
        clock=SystemClock(),
        output_format="null",
        device="-",
        pace_input=True,
        find_amixer=False,
        **kwargs,
    )


def test_alsa_sink_feeds_a_waiting_ffmpeg_to_the_end(tmp_path, audio):
    media = tmp_path / "clip.mp3"
    media.write_bytes(audio(400, frequency=800))
    sink = null_alsa(tmp_path)

    began = time.monotonic()
    result = play(sink, Source(label="a", kind="file", path=media, duration_ms=400))

    assert result.error is None
    assert 0.35 <= time.monotonic() - began <= 2
    assert [p.suffix for p in (tmp_path / "spool").iterdir()] == [".pcm"]  # decoded, kept


def test_alsa_sink_stops_ffmpeg_at_once(tmp_path, audio):
    media = tmp_path / "clip.mp3"
    media.write_bytes(audio(5_000, frequency=900))
    sink = null_alsa(tmp_path)
    playback = sink.start(
        sink.prepare(Source(label="a", kind="file", path=media, duration_ms=5_000)), lambda: None
    )

    time.sleep(0.3)
    began = time.monotonic()
    playback.stop()
    result = playback.finish()

    assert time.monotonic() - began < 2
    assert result.error is None and result.aired_ms < 2_000


def test_alsa_sink_puts_the_box_volume_on_the_mixer_when_amixer_is_there(tmp_path):
    calls = tmp_path / "calls"
    amixer = tmp_path / "amixer"
    amixer.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    amixer.chmod(0o755)

    with_mixer = null_alsa(tmp_path, amixer=str(amixer), volume=60, mixer_control="PCM")
    with_mixer.set_volume(30)
    without = null_alsa(tmp_path, volume=60)  # as on a box without alsa-utils

    assert calls.read_text().splitlines() == ["-q sset PCM 60%", "-q sset PCM 30%"]
    assert with_mixer.gain(50) == 0.5
    assert without.gain(50) == 0.3


def test_alsa_sink_relays_a_stream(tmp_path, audio, media_server):
    url = media_server.add_stream("radio", audio(2_000, frequency=950))
    sink = null_alsa(tmp_path)

    result = play(sink, Source(label="relay", kind="stream", url=url, duration_ms=800))

    assert result.error is None and 700 <= result.aired_ms <= 2_000


def test_decoded_pcm_is_kept_for_the_next_airing_of_the_same_media_at_the_same_gain(tmp_path, audio):
    media = tmp_path / "clip.mp3"
    media.write_bytes(audio(300, frequency=1_100))
    sha = hashlib.sha256(media.read_bytes()).hexdigest()
    source = Source(label="a", kind="file", path=media, duration_ms=300)
    cache = PcmCache(tmp_path / "decoded")
    first, release_first = cache.acquire(source, gain=0.5, source_sha256=sha)
    release_first()

    again = PcmCache(tmp_path / "decoded", ffmpeg="/nonexistent/ffmpeg")  # must not decode
    second, release_second = again.acquire(source, gain=0.5, source_sha256=sha)
    release_second()

    assert first == second and first.stat().st_size == 300 * BYTES_PER_MS
    with pytest.raises(SinkError):
        again.acquire(source, gain=0.8, source_sha256=sha)  # another gain is another decode


def test_decoded_pcm_cache_evicts_the_least_recently_used_but_never_a_file_in_use(tmp_path):
    cache = PcmCache(tmp_path / "decoded", max_bytes=250 * BYTES_PER_MS)
    tones = [Source(label="t", kind="tone", duration_ms=100, frequency_hz=400 + n * 100) for n in range(3)]
    held, release_held = cache.acquire(tones[0], gain=1.0, source_sha256=None)
    for tone in tones[1:]:
        _, release = cache.acquire(tone, gain=1.0, source_sha256=None)
        release()
        time.sleep(0.01)

    assert held.exists()
    assert len(list((tmp_path / "decoded").glob("*.pcm"))) == 2
    release_held()


def test_the_rest_of_an_item_is_decoded_for_one_airing_only(tmp_path, audio):
    media = tmp_path / "clip.mp3"
    media.write_bytes(audio(500, frequency=1_200))
    cache = PcmCache(tmp_path / "decoded")

    path, release = cache.acquire(
        Source(label="a", kind="file", path=media, duration_ms=500, offset_ms=200),
        gain=1.0,
        source_sha256="ab" * 32,
    )
    release()

    assert not path.exists() and list((tmp_path / "decoded").iterdir()) == []
