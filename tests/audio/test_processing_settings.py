"""The filter graphs and settings are plain values: checked here without running ffmpeg."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from audio import ProcessingSettings
from audio.chimes import Chime
from audio.ffmpeg import Analysis, LoudnormStats
from audio.processing import apply_filter, is_linear, measure_filter, programme_graph, speech_chain

SPEECH = Analysis(
    duration_s=10.0, sound_start_s=1.0, sound_end_s=9.0, integrated_lufs=-20.0, peak_dbfs=-1.0, errors=()
)
CHIME = Analysis(
    duration_s=2.0, sound_start_s=0.0, sound_end_s=2.0, integrated_lufs=-24.0, peak_dbfs=-9.0, errors=()
)
STATS = LoudnormStats(input_i=-16.4, input_tp=-4.6, input_lra=2.1, input_thresh=-26.5, target_offset=0.2)


def test_defaults_are_speech_opus_at_minus_16_lufs() -> None:
    settings = ProcessingSettings()

    assert (settings.codec, settings.bitrate, settings.sample_rate, settings.mime) == (
        "opus",
        32,
        48000,
        "audio/ogg",
    )
    assert (settings.target_lufs, settings.true_peak_dbtp) == (-16.0, -1.5)
    assert ProcessingSettings(codec="mp3").bitrate == 64
    assert ProcessingSettings(codec="mp3").mime == "audio/mpeg"
    assert (settings.max_upload_bytes, settings.max_duration_s) == (64 * 1024 * 1024, 3600.0)


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"target_lufs": -3.0}, "target loudness"),
        ({"true_peak_dbtp": 1.0}, "true peak"),
        ({"codec": "aac"}, "unknown codec"),
        ({"sample_rate": 44100}, "opus cannot be encoded at 44100 Hz"),
        ({"bitrate_kbps": 2}, "bitrate"),
        ({"chime_notes_hz": ()}, "chime notes"),
        ({"fade_ms": -1}, "fade"),
        ({"max_upload_bytes": 0}, "upload limits"),
    ],
)
def test_impossible_settings_are_refused(change: dict[str, object], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        ProcessingSettings(**change)  # type: ignore[arg-type]


def test_cache_key_is_stable_and_changes_only_with_what_shapes_the_file(tmp_path: Path) -> None:
    base = ProcessingSettings()
    chime = tmp_path / "chime.wav"
    chime.write_bytes(b"one chime")
    with_chime = ProcessingSettings(opening_chime=chime)

    assert base.cache_key() == ProcessingSettings().cache_key()
    assert base.cache_key() == ProcessingSettings(max_upload_bytes=1, max_duration_s=5).cache_key()
    assert base.cache_key() == ProcessingSettings(bitrate_kbps=32).cache_key()
    changed = [
        dataclasses.replace(base, **change).cache_key()  # type: ignore[arg-type]
        for change in ({"target_lufs": -23.0}, {"codec": "mp3"}, {"bitrate_kbps": 48}, {"chimes": False})
    ]
    assert len({base.cache_key(), *changed}) == 5
    before = with_chime.cache_key()
    chime.write_bytes(b"another chime")
    assert with_chime.cache_key() != before


def test_speech_is_trimmed_faded_levelled_and_limited_under_the_ceiling() -> None:
    chain = speech_chain(SPEECH, ProcessingSettings(fade_ms=50))

    assert "atrim=start=0.9500:end=9.0500" in chain
    assert "afade=t=in:st=0:d=0.050" in chain
    assert "afade=t=out:st=8.050:d=0.050" in chain
    assert "volume=10.00dB" in chain  # from -20 LUFS to the target, driven 6 dB into the limiter
    assert "alimiter=limit=0.501187" in chain  # -6 dBFS: 4.5 dB under the -1.5 dBTP ceiling
    untrimmed = speech_chain(SPEECH, ProcessingSettings(trim_silence=False, fade_ms=0))
    assert "atrim" not in untrimmed and "afade" not in untrimmed


def test_chimes_open_and_close_the_programme_at_their_own_level() -> None:
    opening, closing = Chime(Path("/c/open.wav"), CHIME), Chime(Path("/c/close.wav"), CHIME)

    inputs, graph = programme_graph(
        Path("/s.wav"), SPEECH, ProcessingSettings(), opening=opening, closing=closing
    )

    assert inputs == [Path("/s.wav"), Path("/c/open.wav"), Path("/c/close.wav")]
    assert graph.endswith("[opening][speech][closing]concat=n=3:v=0:a=1[prog]")
    assert "[1:a:0]" in graph and "volume=5.00dB,apad=pad_dur=0.4[opening]" in graph  # -24 → -19 LUFS
    assert "adelay=delays=400[closing]" in graph
    alone_inputs, alone = programme_graph(Path("/s.wav"), SPEECH, ProcessingSettings(chimes=False))
    assert alone_inputs == [Path("/s.wav")] and alone.endswith("[prog]") and "concat" not in alone


def test_second_loudnorm_pass_is_linear_with_the_first_pass_measurements() -> None:
    settings = ProcessingSettings()

    assert measure_filter(settings) == "loudnorm=I=-16:TP=-1.5:LRA=11:print_format=json"
    applied = apply_filter(STATS, settings)
    assert applied.startswith("loudnorm=I=-16:TP=-1.5:LRA=11:")
    assert (
        ":measured_I=-16.4:measured_TP=-4.6:measured_LRA=2.1:measured_thresh=-26.5:offset=0.2:linear=true"
        in applied
    )
    assert applied.endswith(",aresample=48000")
    assert is_linear(STATS, settings)
    assert not is_linear(dataclasses.replace(STATS, input_tp=2.0), settings)


def test_a_steady_tone_or_a_wide_recording_still_gets_linear_loudnorm() -> None:
    tone = apply_filter(dataclasses.replace(STATS, input_lra=0.0), ProcessingSettings())
    wide = apply_filter(dataclasses.replace(STATS, input_lra=17.5), ProcessingSettings())

    assert "measured_LRA=0.01" in tone  # loudnorm reads 0 as "not measured" and would go dynamic
    assert "LRA=17.5:" in wide and "measured_LRA=17.5" in wide
