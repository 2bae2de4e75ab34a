from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from audio import AudioError, MediaStore, ProcessingSettings, make_tone, measure_loudness, render_upload
from audio.chimes import prepare_chimes

pytestmark = pytest.mark.integration


def test_generated_chimes_ring_and_the_closing_one_falls(tmp_path: Path) -> None:
    opening, closing = prepare_chimes(ProcessingSettings(), scratch=tmp_path)

    assert opening is not None and closing is not None
    assert opening.path.read_bytes() != closing.path.read_bytes()
    for chime in (opening, closing):
        assert 1.5 < chime.analysis.duration_s < 2.5
        assert -40 < chime.analysis.integrated_lufs < -10
        assert measure_loudness(chime.path).true_peak_dbtp < -3
    assert prepare_chimes(ProcessingSettings(chimes=False), scratch=tmp_path) == (None, None)


def test_an_uploaded_chime_file_opens_the_bulletin(
    tmp_path: Path, store: MediaStore, independent_lufs: Callable[[Path], float]
) -> None:
    chime, speech = tmp_path / "chime.wav", tmp_path / "speech.wav"
    make_tone(chime, seconds=3, dbfs=-12.0, frequency=660)
    make_tone(speech, seconds=4, dbfs=-20.0)
    settings = ProcessingSettings(opening_chime=chime, closing_chime=chime, chime_gap_ms=500)

    media = render_upload(speech, store=store, settings=settings)

    assert abs(media.duration_ms - (3000 + 500 + 4000 + 500 + 3000)) < 150
    assert abs(independent_lufs(store.path_for(media.sha256)) - -16.0) <= 1.0


@pytest.mark.parametrize(
    ("content", "complaint"),
    [(None, "does not exist"), (b"", "cannot be used"), (b"RIFF not really", "cannot be used")],
)
def test_an_unusable_chime_file_is_a_clear_error(
    tmp_path: Path, content: bytes | None, complaint: str
) -> None:
    chime = tmp_path / "chime.wav"
    if content is not None:
        chime.write_bytes(content)

    with pytest.raises(AudioError, match=f"the opening chime.*{complaint}"):
        prepare_chimes(ProcessingSettings(opening_chime=chime), scratch=tmp_path)
