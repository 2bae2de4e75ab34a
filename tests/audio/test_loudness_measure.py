from __future__ import annotations

from pathlib import Path

import pytest

from audio import make_tone, measure_loudness

pytestmark = pytest.mark.integration


def test_a_minus_20_dbfs_sine_measures_minus_23_lufs(tmp_path: Path) -> None:
    # EBU Tech 3341: a 997 Hz sine at 0 dBFS in one channel reads -3.01 LUFS.
    tone = tmp_path / "tone.wav"
    make_tone(tone, seconds=3, dbfs=-20.0)

    loudness = measure_loudness(tone)

    assert loudness.integrated_lufs == pytest.approx(-23.0, abs=0.2)
    assert loudness.true_peak_dbtp == pytest.approx(-20.0, abs=0.2)
