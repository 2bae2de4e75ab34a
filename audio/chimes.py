"""The chimes that open and close a bulletin: generated bell tones, or sound files an operator chose."""

from __future__ import annotations

import functools
import tempfile
from dataclasses import dataclass
from pathlib import Path

from audio.errors import AudioError
from audio.ffmpeg import Analysis, analyse, make_chime
from audio.settings import ProcessingSettings

# A chime is a signal, not a programme: anything longer is a mistake in the settings.
MAX_CHIME_S = 30.0


@dataclass(frozen=True)
class Chime:
    """A chime ready to be mixed into a programme: its file and what one decoding pass found."""

    path: Path
    analysis: Analysis


def prepare_chimes(settings: ProcessingSettings, *, scratch: Path) -> tuple[Chime | None, Chime | None]:
    """The opening and closing chimes ``settings`` ask for (both None when chimes are off)."""
    if not settings.chimes:
        return None, None
    notes = settings.chime_notes_hz
    opening = _chime(settings.opening_chime, scratch / "opening-chime.wav", notes, "opening")
    closing = _chime(settings.closing_chime, scratch / "closing-chime.wav", notes[::-1], "closing")
    return opening, closing


def _chime(chosen: Path | None, generated: Path, notes: tuple[float, ...], which: str) -> Chime:
    if chosen is None:
        wav, found = _generated(notes)
        generated.write_bytes(wav)
        return Chime(path=generated, analysis=found)
    path = Path(chosen)
    try:
        stat = path.stat()
    except OSError:
        raise AudioError(f"the {which} chime file {path.name} does not exist") from None
    try:
        found = _analysed(path, stat.st_size, stat.st_mtime_ns)
    except AudioError as exc:
        raise AudioError(f"the {which} chime cannot be used: {exc}") from None
    if found.errors:
        raise AudioError(f"the {which} chime {path.name} does not decode cleanly: {found.errors[0]}")
    if found.integrated_lufs <= -69.0:
        raise AudioError(f"the {which} chime {path.name} is silent")
    if found.duration_s > MAX_CHIME_S:
        raise AudioError(f"the {which} chime {path.name} plays longer than {MAX_CHIME_S:g} s")
    return Chime(path=path, analysis=found)


# Chimes are the same in every bulletin: made and measured once per process, not per render.
@functools.lru_cache(maxsize=8)
def _generated(notes: tuple[float, ...]) -> tuple[bytes, Analysis]:
    with tempfile.TemporaryDirectory(prefix="loa-chime-") as scratch:
        path = Path(scratch) / "chime.wav"
        make_chime(path, notes_hz=notes)
        return path.read_bytes(), analyse(path)


@functools.lru_cache(maxsize=8)
def _analysed(path: Path, size: int, mtime_ns: int) -> Analysis:
    """One decoding pass over a chime file; size and time make a replaced file a new entry."""
    return analyse(path)
