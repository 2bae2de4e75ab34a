"""``loa render``: make one broadcast-ready file from a text (spoken) or a recording (processed)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from audio.cache import RenderCache
from audio.errors import AudioError
from audio.espeak import ESPEAK_VOICES
from audio.render import RenderedMedia, render_text, render_upload
from audio.settings import ProcessingSettings
from audio.store import MediaStore
from audio.tts import ACCENTS, TtsEngine, get_engine

_ACCENT_OF_VOICE = {voice: accent for accent, voice in ESPEAK_VOICES.items()}


def build_render_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """The arguments of ``loa render`` (pass a subparser to fill it in)."""
    parser = parser or argparse.ArgumentParser(prog="loa render", description=__doc__)
    parser.add_argument("input", type=Path, help="a .txt file to speak, or a recording to process")
    parser.add_argument("--out", type=Path, required=True, help="where to write the broadcast-ready file")
    parser.add_argument(
        "--voice",
        help="espeak-ng voice (vi, vi-vn-x-central, vi-vn-x-south), a Piper voice (.onnx file) "
        "or a registered engine name; default espeak-ng",
    )
    parser.add_argument("--accent", choices=ACCENTS, help="accent of the espeak-ng voice (default central)")
    parser.add_argument("--speed", type=int, default=150, help="words per minute (default 150)")
    parser.add_argument("--codec", choices=("opus", "mp3"), default="opus", help="default opus")
    parser.add_argument("--bitrate", type=int, help="kb/s (default 32 for opus, 64 for mp3)")
    parser.add_argument("--target-lufs", type=float, default=-16.0, help="loudness target (default -16)")
    parser.add_argument("--no-chimes", action="store_true", help="no opening and closing chime")
    parser.add_argument("--store", type=Path, help="keep a media store and render cache in this folder")
    return parser


def render_main(argv: list[str] | None = None) -> int:
    """Run ``loa render``; print one JSON line on success, one error line on stderr and exit 1 on failure."""
    args = build_render_parser().parse_args(argv)
    try:
        media = _render(args)
    except (AudioError, ValueError, OSError) as exc:
        print(f"loa render: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    print(json.dumps({**asdict(media), "output": str(args.out)}, ensure_ascii=False, sort_keys=True))
    return 0


def _render(args: argparse.Namespace) -> RenderedMedia:
    settings = ProcessingSettings(
        codec=args.codec,
        bitrate_kbps=args.bitrate,
        target_lufs=args.target_lufs,
        chimes=not args.no_chimes,
    )
    if not args.input.is_file():
        raise AudioError(f"{args.input} does not exist")
    with tempfile.TemporaryDirectory(prefix="loa-render-cli-") as scratch:
        store = MediaStore(args.store if args.store is not None else Path(scratch) / "media")
        if args.input.suffix.lower() == ".txt":
            engine, accent = _engine(args.voice, args.accent)
            cache = RenderCache.beside(store) if args.store is not None else None
            text = args.input.read_text(encoding="utf-8")
            media = render_text(
                text,
                engine=engine,
                store=store,
                accent=accent,
                speed=args.speed,
                settings=settings,
                cache=cache,
            )
        else:
            if args.voice or args.accent:
                raise AudioError("--voice and --accent apply to a .txt input only")
            media = render_upload(args.input, store=store, settings=settings)
        _copy_whole(store.path_for(media.sha256), args.out)
    return media


def _engine(voice: str | None, accent: str | None) -> tuple[TtsEngine, str]:
    if voice is None or voice in _ACCENT_OF_VOICE:
        implied = _ACCENT_OF_VOICE.get(voice or "")
        if implied is not None and accent is not None and accent != implied:
            raise AudioError(f"voice {voice} speaks the {implied} accent, not {accent}")
        return get_engine("espeak-ng"), accent or implied or "central"
    if voice.endswith(".onnx"):
        return get_engine("piper", model_path=Path(voice)), accent or "central"
    return get_engine(voice), accent or "central"


def _copy_whole(src: Path, dst: Path) -> None:
    """Copy ``src`` to ``dst`` through a temporary sibling: ``dst`` is whole or absent."""
    dst = dst.absolute()
    fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".tmp", dir=dst.parent)
    try:
        with os.fdopen(fd, "wb") as out, src.open("rb") as source:
            shutil.copyfileobj(source, out)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, dst)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _one_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(render_main())
