"""An encoded file that peaks above the ceiling is encoded again, turned down where it peaked."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from audio import EspeakNgEngine, MediaStore, ProcessingSettings, render_text
from audio.ffmpeg import PeakFrame, measure_loudness
from audio.peaks import DIP_EXTRA_DB, MAX_DIP_FRAMES, Correction, corrected
from audio.processing import encode_under_ceiling

BULLETINS = Path(__file__).parent / "data" / "bulletins"


def test_nothing_to_correct_adds_no_filter() -> None:
    assert Correction().filter() == ""
    assert corrected(Correction(), [PeakFrame(3.1, -2.0)], aim_dbtp=-1.6) == Correction()


def test_a_hot_frame_is_dipped_by_its_excess_and_a_margin_more_each_time() -> None:
    once = corrected(Correction(), [PeakFrame(end_s=3.1, true_peak_dbtp=0.4)], aim_dbtp=-1.6)
    twice = corrected(once, [PeakFrame(end_s=3.1, true_peak_dbtp=-1.1)], aim_dbtp=-1.6)

    assert once == Correction(dips=((30, 2.0 + DIP_EXTRA_DB),))
    assert twice == Correction(dips=((30, 2.0 + 0.5 + 2 * DIP_EXTRA_DB),))


def test_neighbouring_hot_frames_make_one_dip_ramped_around_them() -> None:
    frames = [PeakFrame(3.1, -1.0), PeakFrame(3.2, 0.0), PeakFrame(9.0, -1.0)]

    chain = corrected(Correction(), frames, aim_dbtp=-1.6).filter()

    assert chain.startswith(",asetnsamples=n=240:p=0,volume=volume='1.000000*(1-")
    assert "min(t-2.950,3.250-t)" in chain  # frames 30 and 31 (3.0-3.2 s), ramps of 50 ms
    assert "min(t-8.850,9.050-t)" in chain
    assert chain.count("clip(") == 2


def test_too_many_hot_frames_turn_the_whole_down_and_keep_dips_for_the_worst() -> None:
    frames = [PeakFrame(0.1 * (n + 1), -1.0) for n in range(MAX_DIP_FRAMES + 10)]
    frames.append(PeakFrame(50.0, 2.0))

    correction = corrected(Correction(), frames, aim_dbtp=-1.6)

    assert correction.gain_db == pytest.approx(-(0.6 + DIP_EXTRA_DB))
    assert correction.dips == ((499, 3.0),)


@pytest.mark.integration
def test_a_burst_above_the_ceiling_is_turned_down_where_it_is(
    tmp_path: Path,
    ffmpeg_make: Callable[..., Path],
    independent_true_peak: Callable[[Path], float],
) -> None:
    # A tone that swells to full scale for 100 ms at 3 s: that cannot be encoded under -1.5 dBTP.
    swell = "aevalsrc='if(between(t,3,3.1),1,0.3)*sin(2*PI*440*t)':d=6"
    src = ffmpeg_make(tmp_path / "burst.wav", "-f", "lavfi", "-i", swell)
    settings = ProcessingSettings(chimes=False)
    dst = tmp_path / "out.ogg"

    encoded, corrections = encode_under_ceiling(
        [src], "[0:a:0]aresample=48000", dst, settings=settings, name=src.name
    )

    assert corrections >= 1
    assert independent_true_peak(dst) <= settings.true_peak_dbtp
    assert encoded.loudness == measure_loudness(dst)
    assert abs(encoded.loudness.integrated_lufs - measure_loudness(src).integrated_lufs) <= 0.5


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize("accent", ["north", "central", "south"])
@pytest.mark.parametrize("bulletin", sorted(p.name for p in BULLETINS.glob("*.txt")))
def test_real_bulletins_peak_under_the_ceiling_once_encoded(
    bulletin: str,
    accent: str,
    store: MediaStore,
    independent_lufs: Callable[[Path], float],
    independent_true_peak: Callable[[Path], float],
) -> None:
    # 02-bao-hiem-y-te in the Central accent once came out of Opus at +3.8 dBTP.
    text = (BULLETINS / bulletin).read_text(encoding="utf-8")

    media = render_text(text, engine=EspeakNgEngine(), store=store, accent=accent)

    encoded = store.path_for(media.sha256)
    assert independent_true_peak(encoded) <= -1.5
    assert abs(independent_lufs(encoded) - -16.0) <= 1.0
    assert media.true_peak_dbtp <= -1.5
