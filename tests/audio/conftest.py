from __future__ import annotations

import io
import subprocess
import sys
import wave
from array import array
from collections.abc import Callable
from pathlib import Path

import pytest

# The project is not installed in the venv and pyproject sets no pytest `pythonpath`, so make the
# repository root importable for `.venv/bin/pytest`; harmless once either of those is in place.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from audio import EspeakNgEngine, MediaStore  # noqa: E402

SENTENCE = "Kính thưa bà con nhân dân, xã thông báo lịch tiêm phòng."


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: many renders or a neural voice (deselect with -m 'not slow')")


@pytest.fixture
def store(tmp_path: Path) -> MediaStore:
    return MediaStore(tmp_path / "media")


@pytest.fixture
def espeak() -> EspeakNgEngine:
    return EspeakNgEngine()


@pytest.fixture(scope="session")
def speech_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 25 s of espeak-ng speech as it comes from the engine (-19.5 LUFS, peaks near 0 dBFS)."""
    text = " ".join([SENTENCE, "Bà con mang theo sổ tiêm chủng và thẻ bảo hiểm y tế của trẻ."] * 3)
    path = tmp_path_factory.mktemp("speech") / "speech.wav"
    path.write_bytes(EspeakNgEngine().synthesize(text))
    return path


def _independent_lufs(path: Path) -> float:
    """Integrated loudness measured without our code: ffmpeg decodes, pyloudnorm (BS.1770-4) measures."""
    pyloudnorm = pytest.importorskip("pyloudnorm", reason="pyloudnorm (dev extra) is not installed")
    np = pytest.importorskip("numpy")
    pcm = subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-i", str(path), "-f", "wav", "-c:a", "pcm_s16le", "-"],
        capture_output=True,
        check=True,
        timeout=120,
    ).stdout
    with wave.open(io.BytesIO(_fix_pipe_wav(pcm)), "rb") as wav:
        rate, channels = wav.getframerate(), wav.getnchannels()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype("float64") / 32768.0
    return float(pyloudnorm.Meter(rate).integrated_loudness(samples.reshape(-1, channels)))


def _independent_true_peak(path: Path) -> float:
    """True peak in dBTP measured without our code: ffmpeg decodes, scipy oversamples 4× (BS.1770-4)."""
    np = pytest.importorskip("numpy")
    signal = pytest.importorskip("scipy.signal", reason="scipy (with pyloudnorm) is not installed")
    pcm = subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-i", str(path), "-ac", "1", "-f", "f32le", "-"],
        capture_output=True,
        check=True,
        timeout=120,
    ).stdout
    samples = np.frombuffer(pcm, dtype="<f4").astype("float64")
    return float(20 * np.log10(np.abs(signal.resample_poly(samples, 4, 1)).max()))


def _scaled_wav(src: Path, dst: Path, gain: float) -> Path:
    """``src`` (16-bit WAV) multiplied by ``gain`` and clipped to full scale, as a clipped upload is."""
    with wave.open(str(src), "rb") as wav:
        params = wav.getparams()
        samples = array("h", wav.readframes(wav.getnframes()))
    scaled = array("h", (max(-32768, min(32767, round(s * gain))) for s in samples))
    with wave.open(str(dst), "wb") as out:
        out.setparams(params)
        out.writeframes(scaled.tobytes())
    return dst


def _ffmpeg_make(dst: Path, *args: str) -> Path:
    """Make a fixture file with ffmpeg (tests may call it directly; the package only via audio.ffmpeg)."""
    subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-y", *args, str(dst)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return dst


def _fix_pipe_wav(data: bytes) -> bytes:
    """ffmpeg writing WAV to a pipe cannot seek back to fill in the sizes; fill them in."""
    fixed = bytearray(data)
    fixed[4:8] = (len(fixed) - 8).to_bytes(4, "little")
    pos = 12
    while pos + 8 <= len(fixed):
        size = int.from_bytes(fixed[pos + 4 : pos + 8], "little")
        if fixed[pos : pos + 4] == b"data":
            fixed[pos + 4 : pos + 8] = (len(fixed) - pos - 8).to_bytes(4, "little")
            break
        pos += 8 + size + (size & 1)
    return bytes(fixed)


@pytest.fixture(scope="session")
def independent_lufs() -> Callable[[Path], float]:
    """Integrated loudness of a file, measured by ffmpeg's decoder and pyloudnorm, not by our code."""
    return _independent_lufs


@pytest.fixture(scope="session")
def independent_true_peak() -> Callable[[Path], float]:
    """True peak of a file in dBTP, measured by ffmpeg's decoder and scipy, not by our code."""
    return _independent_true_peak


@pytest.fixture(scope="session")
def scaled_wav() -> Callable[[Path, Path, float], Path]:
    """Write a 16-bit WAV multiplied by a gain and clipped at full scale."""
    return _scaled_wav


@pytest.fixture(scope="session")
def ffmpeg_make() -> Callable[..., Path]:
    """Make a fixture file with the ffmpeg command line."""
    return _ffmpeg_make
