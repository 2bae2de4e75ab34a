"""Bringing an encoded file's true peak under the ceiling by turning it down where it peaks too high.

A lossy encoder does not keep the peaks of what it is given: it rebuilds part of what a limiter
shaved, and Opus now and then makes a 5 ms burst several dB above anything in its input where it
switches coding mode. Neither can be known before encoding, so the encoded file is measured frame
by frame (100 ms, ebur128) and each frame that peaks too high is turned down in a short dip, ramped
in and out, before the programme is encoded again. A dip is too short to move the loudness of the
whole. Only when too many frames peak too high (the encoder lifts peaks all through) is the whole
turned down, by as little as leaves no more frames than dips can handle.

Pure functions: from the frames found too hot to the ffmpeg filter of the next encoding.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from audio.ffmpeg import PeakFrame

FRAME_S = 0.1
# A frame is turned down by its excess and this much more, since the encoder does not answer a
# lower input exactly in proportion.
DIP_EXTRA_DB = 0.5
# A dip ramps in and out over this long either side of its frames, its gain stepping every
# DIP_STEP_SAMPLES (5 ms at 48 kHz): no click.
DIP_RAMP_S = 0.05
DIP_STEP_SAMPLES = 240
MAX_DIP_FRAMES = 64


@dataclass(frozen=True)
class Correction:
    """How the programme is turned down before it is encoded again: overall, and in short dips."""

    gain_db: float = 0.0
    """Gain of the whole programme (0 or negative)."""
    dips: tuple[tuple[int, float], ...] = ()
    """(100 ms frame number, dB down), sorted by frame."""

    def filter(self) -> str:
        """Filters to append to a chain (``,…``), or nothing when nothing is turned down."""
        if not self.dips and self.gain_db == 0:
            return ""
        terms = [f"{_linear(self.gain_db):.6f}"]
        for first, last, db in _runs(self.dips):
            start, end = first * FRAME_S, (last + 1) * FRAME_S
            # 1 inside the run of frames, falling to 0 over DIP_RAMP_S either side of it.
            shape = f"clip(min(t-{start - DIP_RAMP_S:.3f},{end + DIP_RAMP_S:.3f}-t)/{DIP_RAMP_S:g},0,1)"
            terms.append(f"(1-{1 - _linear(-db):.6f}*{shape})")
        return f",asetnsamples=n={DIP_STEP_SAMPLES}:p=0,volume=volume='{'*'.join(terms)}':eval=frame"


def corrected(previous: Correction, frames: Iterable[PeakFrame], *, aim_dbtp: float) -> Correction:
    """``previous`` turned down further where ``frames`` peak above ``aim_dbtp``."""
    dips = dict(previous.dips)
    for frame in frames:
        if frame.true_peak_dbtp <= aim_dbtp:
            continue
        number = max(0, round(frame.end_s / FRAME_S) - 1)
        dips[number] = dips.get(number, 0.0) + frame.true_peak_dbtp - aim_dbtp + DIP_EXTRA_DB
    gain_db = previous.gain_db
    if len(dips) > MAX_DIP_FRAMES:
        cut = sorted(dips.values(), reverse=True)[MAX_DIP_FRAMES]
        gain_db -= cut
        dips = {number: db - cut for number, db in dips.items() if db > cut}
    return Correction(
        gain_db=round(gain_db, 3), dips=tuple(sorted((n, round(db, 3)) for n, db in dips.items()))
    )


def _runs(dips: tuple[tuple[int, float], ...]) -> list[tuple[int, int, float]]:
    """Neighbouring frames as one dip (first frame, last frame, the deepest dB among them)."""
    runs: list[tuple[int, int, float]] = []
    for number, db in dips:
        if runs and number == runs[-1][1] + 1:
            first, _last, deepest = runs[-1]
            runs[-1] = (first, number, max(deepest, db))
        else:
            runs.append((number, number, db))
    return runs


def _linear(db: float) -> float:
    return float(10 ** (db / 20))
