"""Audio benchmark: a 1,000-word Vietnamese bulletin from text to a broadcast-ready Ogg Opus file.

Each stage of ``audio.render_text`` is run and timed on its own, in the order render_text runs
them (normalise → TTS → analyse + loudnorm's measuring pass → loudnorm's linear pass + encode +
measuring the encoded file, and encoding again turned down where it peaks too high), and
reported as a real-time factor (seconds of sound per second of wall time). The baseline is bare
ffmpeg doing the same two-pass loudnorm and the same encode on the same TTS WAV, in the same run:

    ffmpeg -i speech.wav -af loudnorm=I=-16:TP=-1.5:LRA=11:print_format=json -f null -
    ffmpeg -i speech.wav -af loudnorm=…measured…:linear=true,aresample=48000 -c:a libopus … out.ogg

(the encoder options are audio.ffmpeg.ENCODERS["opus"], the ones the pipeline uses).

    .venv/bin/python bench/audio_pipeline.py [--repeat 3] [--text bench/data/bulletin_1000w.txt]

Prints a table and writes bench/results/audio_pipeline.json. Exit status 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from audio import EspeakNgEngine, MediaStore, ProcessingSettings, measure_loudness  # noqa: E402
from audio.ffmpeg import ENCODERS  # noqa: E402
from audio.normalize import prepare_for_speech  # noqa: E402
from audio.processing import process  # noqa: E402

TARGETS = {"rtf_total_min": 20.0, "ratio_vs_ffmpeg_max": 1.5}
# The encoder settings audio.ffmpeg uses for Opus, so that the baseline encodes the same way.
OPUS = ["-c:a", *ENCODERS["opus"]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text", type=Path, default=HERE / "data" / "bulletin_1000w.txt")
    parser.add_argument("--repeat", type=int, default=3, help="runs; the median of each figure is kept")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "audio_pipeline.json")
    args = parser.parse_args(argv)

    text = args.text.read_text(encoding="utf-8")
    settings = ProcessingSettings()
    runs = [_run_once(text, settings) for _ in range(args.repeat)]
    result = _summarise(runs, text, settings)
    _print_table(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\nwrote {args.out.relative_to(Path.cwd()) if args.out.is_relative_to(Path.cwd()) else args.out}")
    missed = result["rtf_total"] < TARGETS["rtf_total_min"] or (
        result["ratio_vs_ffmpeg"] > TARGETS["ratio_vs_ffmpeg_max"]
    )
    return 1 if missed else 0


def _run_once(text: str, settings: ProcessingSettings) -> dict[str, Any]:
    wall: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="loa-bench-") as folder:
        scratch = Path(folder)
        started = time.perf_counter()
        speech = prepare_for_speech(text)
        wall["normalise"] = time.perf_counter() - started

        engine = EspeakNgEngine()
        started = time.perf_counter()
        wav = engine.synthesize(speech)
        wall["tts"] = time.perf_counter() - started
        started = time.perf_counter()
        EspeakNgEngine(workers=1).synthesize(speech)
        tts_one_worker = time.perf_counter() - started

        spoken = scratch / "speech.wav"
        spoken.write_bytes(wav)
        encoded = scratch / "broadcast.ogg"
        cpu_before = _children_cpu()
        done = process(spoken, encoded, settings=settings, scratch=scratch)
        ours_cpu = _children_cpu() - cpu_before
        wall["processing"] = done.timings["analyse"] + done.timings["loudnorm_measure"]
        wall["encode"] = done.timings["encode"]
        started = time.perf_counter()
        MediaStore(scratch / "media").put_file(encoded)
        wall["store"] = time.perf_counter() - started

        cpu_before = _children_cpu()
        bare, bare_loudness = _bare_ffmpeg(spoken, scratch / "bare.ogg", settings)
        bare["cpu_s"] = _children_cpu() - cpu_before
    speech_s = len(wav) / (2 * 22050)  # espeak-ng: 16-bit mono at 22.05 kHz (header bytes negligible)
    return {
        "wall": wall,
        "tts_one_worker": tts_one_worker,
        "timings": done.timings,
        "audio_s": done.duration_ms / 1000,
        "speech_s": speech_s,
        "lufs": done.loudness.integrated_lufs,
        "true_peak_dbtp": done.loudness.true_peak_dbtp,
        "linear": done.linear,
        "corrections": done.corrections,
        "ours_cpu": ours_cpu,
        "bare": bare,
        "bare_lufs": bare_loudness.integrated_lufs,
        "bare_true_peak_dbtp": bare_loudness.true_peak_dbtp,
    }


def _bare_ffmpeg(src: Path, dst: Path, settings: ProcessingSettings) -> tuple[dict[str, Any], Any]:
    target = f"I={settings.target_lufs:g}:TP={settings.true_peak_dbtp:g}:LRA=11"
    quiet = ["ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-y", "-i", str(src)]
    started = time.perf_counter()
    first = subprocess.run(
        [*quiet, "-af", f"loudnorm={target}:print_format=json", "-f", "null", "-"],
        capture_output=True,
        check=True,
        text=True,
    )
    measure_s = time.perf_counter() - started
    found = json.loads(first.stderr[first.stderr.rindex("{") : first.stderr.rindex("}") + 1])
    measured = (
        f"measured_I={found['input_i']}:measured_TP={found['input_tp']}:measured_LRA={found['input_lra']}"
        f":measured_thresh={found['input_thresh']}:offset={found['target_offset']}"
    )
    started = time.perf_counter()
    second = subprocess.run(
        [
            *quiet,
            "-af",
            f"loudnorm={target}:{measured}:linear=true:print_format=json,aresample={settings.sample_rate}",
            *["-ac", "1", *OPUS, "-b:a", f"{settings.bitrate}k", str(dst)],
        ],
        capture_output=True,
        check=True,
        text=True,
    )
    encode_s = time.perf_counter() - started
    mode = json.loads(second.stderr[second.stderr.rindex("{") : second.stderr.rindex("}") + 1])
    return (
        {
            "measure_s": measure_s,
            "encode_s": encode_s,
            "wall_s": measure_s + encode_s,
            "mode": mode["normalization_type"],
        },
        measure_loudness(dst),
    )


def _children_cpu() -> float:
    """CPU seconds used by finished child processes (ffmpeg, espeak-ng): insensitive to a busy machine."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _summarise(runs: list[dict[str, Any]], text: str, settings: ProcessingSettings) -> dict[str, Any]:
    def median(pick: Any) -> float:
        return float(statistics.median(pick(run) for run in runs))

    audio_s = median(lambda r: r["audio_s"])
    stages = {}
    for name in ("normalise", "tts", "processing", "encode", "store"):
        wall = median(lambda r, n=name: r["wall"][n])
        stages[name] = {"wall_s": round(wall, 3), "rtf": round(audio_s / wall, 1) if wall else None}
    total = median(lambda r: sum(r["wall"].values()))
    ours = median(lambda r: r["wall"]["processing"] + r["wall"]["encode"])
    bare = median(lambda r: r["bare"]["wall_s"])
    return {
        "bulletin": {
            "words": len(text.split()),
            "characters": len(text),
            "speech_s": round(median(lambda r: r["speech_s"]), 2),
        },
        "audio_s": round(audio_s, 2),
        "settings": {
            "codec": settings.codec,
            "bitrate_kbps": settings.bitrate,
            "target_lufs": settings.target_lufs,
            "chimes": settings.chimes,
        },
        "stages": stages,
        "tts_one_worker_s": round(median(lambda r: r["tts_one_worker"]), 3),
        "wall_total_s": round(total, 3),
        "rtf_total": round(audio_s / total, 1),
        "ours_processing_encode_s": round(ours, 3),
        "ours_processing_encode_cpu_s": round(median(lambda r: r["ours_cpu"]), 3),
        "ffmpeg_bare": {
            "measure_s": round(median(lambda r: r["bare"]["measure_s"]), 3),
            "encode_s": round(median(lambda r: r["bare"]["encode_s"]), 3),
            "wall_s": round(bare, 3),
            "cpu_s": round(median(lambda r: r["bare"]["cpu_s"]), 3),
            "loudnorm_mode": runs[0]["bare"]["mode"],
            "lufs": runs[0]["bare_lufs"],
            "true_peak_dbtp": runs[0]["bare_true_peak_dbtp"],
        },
        "ratio_vs_ffmpeg": round(ours / bare, 2),
        "ours": {
            "lufs": runs[0]["lufs"],
            "true_peak_dbtp": runs[0]["true_peak_dbtp"],
            "linear": runs[0]["linear"],
            "corrections": [run["corrections"] for run in runs],
        },
        "targets": TARGETS,
        "runs": len(runs),
        "machine": _machine(),
    }


def _machine() -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError):  # no /proc/cpuinfo: the model stays unknown
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    ffmpeg = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True).stdout.splitlines()[0]
    espeak = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True).stdout.split("Data")[
        0
    ]
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "ffmpeg": ffmpeg,
        "espeak_ng": espeak.strip(),
        "load_average": os.getloadavg(),
    }


def _print_table(result: dict[str, Any]) -> None:
    b = result["bulletin"]
    print(
        f"bulletin: {b['words']} words, {b['characters']} characters → {result['audio_s']:.1f} s of audio "
        f"(speech {b['speech_s']:.1f} s + chimes), median of {result['runs']} runs"
    )
    print(f"{'stage':<34}{'wall s':>9}{'× real time':>13}")
    names = {
        "normalise": "normalise (prepare_for_speech)",
        "tts": "TTS (espeak-ng, chunks in parallel)",
        "processing": "processing (analyse + loudnorm 1)",
        "encode": "encode (loudnorm 2 + Opus + meter)",  # and any corrections
        "store": "store (hash + fsync)",
    }
    for key, label in names.items():
        stage = result["stages"][key]
        print(f"{label:<34}{stage['wall_s']:>9.3f}{stage['rtf'] or float('inf'):>13.1f}")
    print(f"{'total':<34}{result['wall_total_s']:>9.3f}{result['rtf_total']:>13.1f}")
    bare = result["ffmpeg_bare"]
    print(f"\nTTS with one worker: {result['tts_one_worker_s']:.3f} s")
    print(
        f"bare ffmpeg, two-pass loudnorm + same encode: {bare['wall_s']:.3f} s "
        f"(second pass: {bare['loudnorm_mode']}; result {bare['lufs']} LUFS, {bare['true_peak_dbtp']} dBTP)"
    )
    print(
        f"ours, processing + encode: {result['ours_processing_encode_s']:.3f} s "
        f"(result {result['ours']['lufs']} LUFS, {result['ours']['true_peak_dbtp']} dBTP, "
        f"encoded again {result['ours']['corrections'][0]}×)"
    )
    print(
        f"ratio vs bare ffmpeg: {result['ratio_vs_ffmpeg']:.2f} (target ≤ {TARGETS['ratio_vs_ffmpeg_max']})"
    )
    print(
        f"CPU s in ffmpeg: ours {result['ours_processing_encode_cpu_s']:.1f}, bare {bare['cpu_s']:.1f}; "
        f"load average {result['machine']['load_average'][0]:.1f}"
    )
    print(f"real-time factor, total: {result['rtf_total']:.1f}× (target ≥ {TARGETS['rtf_total_min']:g}×)")


if __name__ == "__main__":
    raise SystemExit(main())
