"""Every kind of input reaches the loudness target and stays under the true-peak ceiling once encoded,
as measured by pyloudnorm and scipy, not by our own code."""

from __future__ import annotations

import wave
from array import array
from collections.abc import Callable
from pathlib import Path

import pytest

from audio import EspeakNgEngine, MediaStore, ProcessingSettings, RenderedMedia, render_text, render_upload

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TEXT = "Kính thưa bà con nhân dân, xã thông báo lịch tiêm phòng. Bà con mang theo sổ tiêm chủng của trẻ."
# espeak-ng speech comes out at about -19.5 LUFS with peaks near full scale.
QUIET_GAIN = 10 ** ((-45.0 - -19.5) / 20)
CLIPPING_GAIN = 8.0

Render = Callable[[Path, MediaStore, ProcessingSettings], RenderedMedia]


def _speech(accent: str) -> Render:
    def render(_: Path, store: MediaStore, settings: ProcessingSettings) -> RenderedMedia:
        return render_text(TEXT, engine=EspeakNgEngine(), store=store, accent=accent, settings=settings)

    return render


def _upload(name: str) -> Render:
    def render(folder: Path, store: MediaStore, settings: ProcessingSettings) -> RenderedMedia:
        return render_upload(folder / name, store=store, settings=settings)

    return render


@pytest.fixture(scope="module")
def uploads(
    tmp_path_factory: pytest.TempPathFactory,
    speech_wav: Path,
    scaled_wav: Callable[[Path, Path, float], Path],
    ffmpeg_make: Callable[..., Path],
) -> Path:
    folder = tmp_path_factory.mktemp("uploads")
    scaled_wav(speech_wav, folder / "quiet.wav", QUIET_GAIN)
    scaled_wav(speech_wav, folder / "clipped.wav", CLIPPING_GAIN)
    # A recording as a phone makes it: stereo AAC in MP4, speech under a hum and some hiss.
    ffmpeg_make(
        folder / "recording.m4a",
        *[
            "-i",
            str(speech_wav),
            "-f",
            "lavfi",
            "-i",
            "sine=f=100:d=30",
            "-f",
            "lavfi",
            "-i",
            "anoisesrc=a=0.01:d=30",
        ],
        *["-filter_complex", "[0][1][2]amix=inputs=3:duration=first:weights=1 0.1 1,volume=0.5", "-ac", "2"],
        *["-c:a", "aac", "-b:a", "96k"],
    )
    # Music-like: a sustained chord, steady loudness (a loudness range of 0 LU).
    ffmpeg_make(
        folder / "chord.mp3", "-f", "lavfi", "-i", "sine=f=220:d=8", "-af", "volume=0.3", "-c:a", "libmp3lame"
    )
    return folder


@pytest.mark.parametrize(
    ("render", "settings"),
    [
        pytest.param(_speech("central"), ProcessingSettings(), id="espeak-central-opus-chimes"),
        pytest.param(_speech("south"), ProcessingSettings(chimes=False), id="espeak-south-opus"),
        pytest.param(_speech("north"), ProcessingSettings(codec="mp3"), id="espeak-north-mp3-chimes"),
        pytest.param(_upload("recording.m4a"), ProcessingSettings(), id="phone-recording-aac"),
        pytest.param(_upload("quiet.wav"), ProcessingSettings(chimes=False), id="very-quiet-upload-45-lufs"),
        pytest.param(_upload("clipped.wav"), ProcessingSettings(chimes=False), id="clipped-upload"),
        pytest.param(_upload("chord.mp3"), ProcessingSettings(chimes=False), id="steady-chord-mp3"),
        pytest.param(
            _upload("clipped.wav"), ProcessingSettings(target_lufs=-23.0), id="clipped-upload-at-23"
        ),
    ],
)
def test_encoded_output_reaches_the_target_within_one_lu_and_peaks_under_the_ceiling(
    render: Render,
    settings: ProcessingSettings,
    uploads: Path,
    store: MediaStore,
    independent_lufs: Callable[[Path], float],
    independent_true_peak: Callable[[Path], float],
) -> None:
    media = render(uploads, store, settings)

    encoded = store.path_for(media.sha256)
    measured, peak = independent_lufs(encoded), independent_true_peak(encoded)
    assert abs(measured - settings.target_lufs) <= 1.0, (measured, media)
    assert peak <= settings.true_peak_dbtp, (peak, media)
    # What we store was measured on the encoded file: it agrees with the independent meters.
    assert abs(media.lufs - measured) <= 0.5
    assert abs(media.true_peak_dbtp - peak) <= 0.2


def test_inputs_really_are_as_quiet_and_as_clipped_as_claimed(
    uploads: Path, independent_lufs: Callable[[Path], float]
) -> None:
    assert independent_lufs(uploads / "quiet.wav") == pytest.approx(-45.0, abs=1.0)
    with wave.open(str(uploads / "clipped.wav"), "rb") as wav:
        samples = array("h", wav.readframes(wav.getnframes()))
    clipped = sum(1 for s in samples if s in (32767, -32768))
    assert clipped > len(samples) // 50  # over 2 % of samples flat at full scale
    assert independent_lufs(uploads / "clipped.wav") > -9.0
