"""Broadcast processing: trim, fade, tame the peaks, add chimes, two-pass loudnorm, encode, measure.

The filter graphs are built here as plain strings (pure, testable); ``audio.ffmpeg`` runs them.
Three decoding passes:

1. ``analyse``: where the sound starts and ends, how loud it is (cheap: no true-peak oversampling);
2. loudnorm's measuring pass over the whole programme (chimes, processed speech): the slowest;
3. loudnorm in linear mode with those measurements, encoded, while another ffmpeg decodes the
   encoded stream and measures what the boxes will play (and again if it peaks too high, below).

Speech from espeak-ng peaks ~20 dB above its loudness; at -16 LUFS that would put peaks above
0 dBTP, and loudnorm would then give up linear mode for its own dynamic limiter. So the speech is
first levelled a little above the target and peak-limited, and only then normalised.

The encoder rebuilds part of what the limiter shaved, and Opus now and then makes a 5 ms burst
several dB above anything in its input where it switches coding mode. The limiter leaves room for
the first; for the second, the frames of the encoded file that peak above the ceiling are turned
down (a short, smooth dip in gain at each) and the programme is encoded again, until the file a
box will play is under the ceiling. The loudness of the whole barely moves.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from audio.chimes import Chime, prepare_chimes
from audio.ffmpeg import (
    SAMPLE_RATE,
    Analysis,
    Encoded,
    Loudness,
    LoudnormStats,
    analyse,
    encode_and_measure,
    loudnorm_first_pass,
    probe_duration_ms,
)
from audio.peaks import Correction, corrected
from audio.settings import ProcessingSettings

logger = logging.getLogger(__name__)

LOUDNESS_RANGE_LU = 11.0
# The speech is levelled this far above the target and driven into a fast peak limiter. Limiting
# takes back about as much loudness as the drive adds (espeak-ng: -19.5 LUFS with peaks 19.7 dB
# above it comes out at ~-16.7 LUFS with peaks 11.8 dB above), so loudnorm's final gain is small.
DRIVE_LU = 6.0
# Sample peaks are limited this far below the true-peak ceiling. The ceiling holds for what goes
# into the encoder; a lossy codec rebuilds part of what the limiter shaved (on espeak-ng speech,
# Opus at 32 kb/s lifts peaks by 2.5-3.5 dB, MP3 by ~2), so the encoded file usually stays under
# the ceiling too. Where it does not, it is corrected (below).
LIMITER_MARGIN_DB = 4.5
# Fast enough to shave the glottal spikes of synthetic speech without pumping between them.
LIMITER_ATTACK_MS = 1.0
LIMITER_RELEASE_MS = 5.0
# Horn loudspeakers reproduce nothing above ~7 kHz; cutting there also removes the limiter's
# distortion products, which the encoder would otherwise spend bits on and turn into new peaks.
BANDWIDTH_HZ = 7000
# The encoded file is made to measure this far under the ceiling: ffmpeg reports true peaks to
# 0.1 dB, and another meter must find the file under the ceiling too.
PEAK_SAFETY_DB = 0.1
# Encodings after the first (audio.peaks); one is almost always enough.
MAX_CORRECTIONS = 3


@dataclass(frozen=True)
class Processed:
    """The finished file's measured figures, and how long each pass took (for logs and benchmarks)."""

    loudness: Loudness
    duration_ms: int
    linear: bool
    corrections: int = 0
    """How many times the file was encoded again to bring its true peak under the ceiling."""
    timings: dict[str, float] = field(default_factory=dict, compare=False)


def process(
    src: Path,
    dst: Path,
    *,
    settings: ProcessingSettings,
    scratch: Path,
    analysis: Analysis | None = None,
) -> Processed:
    """Turn the recording or speech at ``src`` into the broadcast file ``dst`` (whole or absent)."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="loa-audio") as pool:
        chimes = pool.submit(prepare_chimes, settings, scratch=scratch)
        analysis = analysis or analyse(src)
        opening, closing = chimes.result()
    timings["analyse"] = time.perf_counter() - started

    inputs, programme = programme_graph(src, analysis, settings, opening=opening, closing=closing)
    started = time.perf_counter()
    stats = loudnorm_first_pass(
        inputs, f"{programme};[prog]anull[out]", measure_filter(settings), what=f"cannot measure {src.name}"
    )
    timings["loudnorm_measure"] = time.perf_counter() - started

    started = time.perf_counter()
    linear = is_linear(stats, settings)
    if not linear:
        logger.warning("loudnorm cannot be linear for %s (%s); it will limit dynamically", src.name, stats)
    encoded, corrections = encode_under_ceiling(
        inputs, f"{programme};[prog]{apply_filter(stats, settings)}", dst, settings=settings, name=src.name
    )
    duration_ms = probe_duration_ms(dst)
    timings["encode"] = time.perf_counter() - started
    return Processed(
        loudness=encoded.loudness,
        duration_ms=duration_ms,
        linear=linear,
        corrections=corrections,
        timings=timings,
    )


def encode_under_ceiling(
    inputs: list[Path], chain: str, dst: Path, *, settings: ProcessingSettings, name: str
) -> tuple[Encoded, int]:
    """Encode ``chain`` (a graph whose last chain is open) to ``dst``, measure it, and encode it again
    turned down where it peaks above the ceiling; returns what was measured and how many retries."""
    aim = settings.true_peak_dbtp - PEAK_SAFETY_DB
    correction = Correction()
    corrections = 0
    while True:
        encoded = encode_and_measure(
            inputs,
            f"{chain}{correction.filter()}[out]",
            dst,
            codec=settings.codec,
            bitrate_kbps=settings.bitrate,
            sample_rate=settings.sample_rate,
            peaks_above_dbtp=aim,
        )
        peak = encoded.loudness.true_peak_dbtp
        if peak <= aim or corrections == MAX_CORRECTIONS:
            break
        correction = corrected(correction, encoded.hot_frames, aim_dbtp=aim)
        corrections += 1
        logger.info(
            "%s peaks at %.1f dBTP once encoded as %s; encoding it again %.1f dB down, with %d dips",
            *(name, peak, settings.codec, abs(correction.gain_db), len(correction.dips)),
        )
    if peak > aim:
        logger.warning("%s still peaks at %.1f dBTP after %d corrections", name, peak, corrections)
    return encoded, corrections


def programme_graph(
    src: Path,
    analysis: Analysis,
    settings: ProcessingSettings,
    *,
    opening: Chime | None = None,
    closing: Chime | None = None,
) -> tuple[list[Path], str]:
    """The ffmpeg inputs and the filter graph (ending in ``[prog]``) of chime, speech, chime."""
    inputs = [src]
    parts = [f"[0:a:0]{speech_chain(analysis, settings)}[speech]"]
    order = ["[speech]"]
    gap_s = settings.chime_gap_ms / 1000
    if opening is not None:
        inputs.append(opening.path)
        chain = chime_chain(opening.analysis, settings)
        parts.append(f"[{len(inputs) - 1}:a:0]{chain},apad=pad_dur={gap_s:g}[opening]")
        order.insert(0, "[opening]")
    if closing is not None:
        inputs.append(closing.path)
        chain = chime_chain(closing.analysis, settings)
        parts.append(f"[{len(inputs) - 1}:a:0]{chain},adelay=delays={settings.chime_gap_ms}[closing]")
        order.append("[closing]")
    if len(order) == 1:
        parts[0] = parts[0].replace("[speech]", "[prog]")
    else:
        parts.append(f"{''.join(order)}concat=n={len(order)}:v=0:a=1[prog]")
    return inputs, ";".join(parts)


def speech_chain(analysis: Analysis, settings: ProcessingSettings) -> str:
    """Mono 48 kHz, silence trimmed, faded, driven a little above the target into a peak limiter."""
    filters = _mono_and_trimmed(analysis, trim=settings.trim_silence, pad_s=settings.fade_ms / 1000)
    length = _kept_length(analysis, trim=settings.trim_silence, pad_s=settings.fade_ms / 1000)
    fade = min(settings.fade_ms / 1000, length / 4)
    if fade > 0:
        filters.append(f"afade=t=in:st=0:d={fade:.3f}")
        filters.append(f"afade=t=out:st={length - fade:.3f}:d={fade:.3f}")
    gain = settings.target_lufs + DRIVE_LU - analysis.integrated_lufs
    limit = min(1.0, max(0.0625, _linear(settings.true_peak_dbtp - LIMITER_MARGIN_DB)))
    filters += [
        f"volume={gain:.2f}dB",
        f"alimiter=limit={limit:.6f}:attack={LIMITER_ATTACK_MS:g}:release={LIMITER_RELEASE_MS:g}:level=false",
        f"lowpass=f={BANDWIDTH_HZ}:p=2",
    ]
    return ",".join(filters)


def chime_chain(analysis: Analysis, settings: ProcessingSettings) -> str:
    """Mono 48 kHz, trimmed, at ``chime_level_lu`` relative to the target loudness."""
    filters = _mono_and_trimmed(analysis, trim=True, pad_s=0.0)
    gain = settings.target_lufs + settings.chime_level_lu - analysis.integrated_lufs
    return ",".join([*filters, f"volume={gain:.2f}dB"])


def measure_filter(settings: ProcessingSettings) -> str:
    """loudnorm's first pass: measure only, print the figures as JSON."""
    return (
        f"loudnorm=I={settings.target_lufs:g}:TP={settings.true_peak_dbtp:g}:LRA={LOUDNESS_RANGE_LU:g}"
        ":print_format=json"
    )


def apply_filter(stats: LoudnormStats, settings: ProcessingSettings) -> str:
    """loudnorm's second pass: one linear gain from the first pass's measurements, then the output rate."""
    # Linear mode needs the measured range within the target range; a wide-range recording keeps
    # its range (no dynamic squeezing), so the target range is widened to fit it.
    lra = min(50.0, max(LOUDNESS_RANGE_LU, stats.input_lra))
    # loudnorm reads a measured range of exactly 0 (a steady tone) as "not measured".
    measured_lra = max(stats.input_lra, 0.01)
    return (
        f"loudnorm=I={settings.target_lufs:g}:TP={settings.true_peak_dbtp:g}:LRA={lra:g}"
        f":measured_I={stats.input_i:g}:measured_TP={stats.input_tp:g}:measured_LRA={measured_lra:g}"
        f":measured_thresh={stats.input_thresh:g}:offset={stats.target_offset:g}:linear=true"
        f",aresample={settings.sample_rate}"
    )


def is_linear(stats: LoudnormStats, settings: ProcessingSettings) -> bool:
    """Whether loudnorm's second pass can apply one gain without pushing peaks over the ceiling."""
    return stats.input_tp + (settings.target_lufs - stats.input_i) <= settings.true_peak_dbtp


def _mono_and_trimmed(analysis: Analysis, *, trim: bool, pad_s: float) -> list[str]:
    filters = [f"aresample={SAMPLE_RATE}", "aformat=sample_fmts=flt:channel_layouts=mono"]
    if trim:
        start = max(0.0, analysis.sound_start_s - pad_s)
        end = min(analysis.duration_s, analysis.sound_end_s + pad_s)
        filters += [f"atrim=start={start:.4f}:end={end:.4f}", "asetpts=PTS-STARTPTS"]
    return filters


def _kept_length(analysis: Analysis, *, trim: bool, pad_s: float) -> float:
    if not trim:
        return analysis.duration_s
    start = max(0.0, analysis.sound_start_s - pad_s)
    return min(analysis.duration_s, analysis.sound_end_s + pad_s) - start


def _linear(db: float) -> float:
    return float(10 ** (db / 20))
