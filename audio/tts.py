"""Text-to-speech engines behind one small interface, the registry that names them, and chunking.

Engines are found as entry points in the group ``loa.tts_engines``; the built-in ones (espeak-ng,
Piper) are entry points too, declared here, so they load exactly the way a plug-in does. A plug-in
package declares, in its pyproject.toml::

    [project.entry-points."loa.tts_engines"]
    my-engine = "my_package.tts:MyEngine"

Long texts are cut at sentence ends into chunks that engines may speak in parallel
(``speak_in_chunks``); a chunk that fails is reported by its position in the text.
"""

from __future__ import annotations

import io
import logging
import os
import re
import wave
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Protocol

from audio.errors import TtsChunkError, TtsError

logger = logging.getLogger(__name__)

ACCENTS = ("north", "central", "south")
ENTRY_POINT_GROUP = "loa.tts_engines"
BUILT_IN_ENGINES = (
    EntryPoint(name="espeak-ng", value="audio.espeak:EspeakNgEngine", group=ENTRY_POINT_GROUP),
    EntryPoint(name="piper", value="audio.piper:PiperEngine", group=ENTRY_POINT_GROUP),
)
# Enough text per chunk that starting a process is cheap beside speaking it, small enough that a
# bulletin of a few hundred words gives every core several chunks.
CHUNK_CHARS = 400

_SENTENCE = re.compile(r"\S.*?(?:[.!?…]+[\"'”’»)\]]*(?=\s|$)|$)", re.S)


class TtsEngine(Protocol):
    """Turns prepared Vietnamese text into speech.

    An engine may also have an ``identity`` string (name, voice, version) for the render cache;
    without it the cache keys on ``name`` alone.
    """

    name: str

    def synthesize(self, text: str, *, accent: str = "central", speed: int = 150) -> bytes:
        """Return the bytes of a WAV file speaking ``text``."""
        ...


@dataclass(frozen=True)
class Chunk:
    """A run of whole sentences; positions are 1-based, as an editor counts."""

    text: str
    first_sentence: int
    last_sentence: int


def engine_names() -> list[str]:
    """Names of the engines that can be built, built-in and plug-in."""
    return sorted(_entry_points())


def get_engine(name: str, **options: Any) -> TtsEngine:
    """Build the engine registered as ``name`` with ``options`` (e.g. ``model_path`` for piper)."""
    found = _entry_points().get(name)
    if found is None:
        raise TtsError(f"unknown TTS engine {name!r}; known engines: {', '.join(engine_names())}")
    try:
        factory = found.load()
    except (ImportError, AttributeError) as exc:
        raise TtsError(f"TTS engine {name!r} cannot be loaded: {exc}") from None
    try:
        engine: TtsEngine = factory(**options)
    except TypeError as exc:
        raise TtsError(f"TTS engine {name!r} cannot be built with {sorted(options)}: {exc}") from None
    return engine


def engine_identity(engine: TtsEngine) -> str:
    """What distinguishes this engine's output: its ``identity`` if it has one, else its name."""
    identity = getattr(engine, "identity", None)
    return str(identity) if identity else engine.name


def split_into_chunks(text: str, *, max_chars: int = CHUNK_CHARS) -> list[Chunk]:
    """Cut ``text`` at sentence ends into chunks of about ``max_chars`` (a long sentence stays whole)."""
    sentences = [m.group().strip() for m in _SENTENCE.finditer(text)]
    chunks: list[Chunk] = []
    current: list[str] = []
    first = 1
    for number, sentence in enumerate(sentences, start=1):
        if current and len(" ".join([*current, sentence])) > max_chars:
            chunks.append(Chunk(" ".join(current), first, number - 1))
            current, first = [], number
        current.append(sentence)
    if current:
        chunks.append(Chunk(" ".join(current), first, len(sentences)))
    return chunks


def speak_in_chunks(
    text: str,
    speak: Callable[[str], bytes],
    *,
    engine_name: str,
    workers: int | None = None,
    max_chars: int = CHUNK_CHARS,
) -> bytes:
    """Speak ``text`` chunk by chunk with ``speak`` on a pool of threads, and join the WAV files."""
    chunks = split_into_chunks(text, max_chars=max_chars)
    if not chunks:
        raise TtsError("nothing to say: the text is empty")
    workers = max(1, min(workers or os.cpu_count() or 1, len(chunks)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tts") as pool:
        futures = [pool.submit(speak, chunk.text) for chunk in chunks]
        spoken: list[bytes] = []
        for number, (chunk, future) in enumerate(zip(chunks, futures, strict=True), start=1):
            try:
                spoken.append(future.result())
            except TtsError as exc:
                for later in futures:
                    later.cancel()
                raise _chunk_error(exc, chunk, number, chunks, engine_name) from exc
    return join_wavs(spoken)


def join_wavs(parts: Sequence[bytes]) -> bytes:
    """One WAV file playing ``parts`` one after another; they must share one format."""
    frames: list[bytes] = []
    params: tuple[int, int, int] | None = None
    for part in parts:
        try:
            with wave.open(io.BytesIO(part), "rb") as wav:
                found = (wav.getnchannels(), wav.getsampwidth(), wav.getframerate())
                frames.append(wav.readframes(wav.getnframes()))
        except (wave.Error, EOFError) as exc:
            raise TtsError(f"the engine returned a WAV file that cannot be read: {exc}") from None
        if params is not None and found != params:
            raise TtsError(f"the engine returned WAV parts in different formats: {params} and {found}")
        params = found
    if params is None:
        raise TtsError("nothing to say: the text is empty")
    out = io.BytesIO()
    with wave.open(out, "wb") as joined:
        joined.setnchannels(params[0])
        joined.setsampwidth(params[1])
        joined.setframerate(params[2])
        for chunk in frames:
            joined.writeframes(chunk)
    return out.getvalue()


def _chunk_error(exc: TtsError, chunk: Chunk, number: int, chunks: list[Chunk], engine: str) -> TtsChunkError:
    sentences = (
        f"sentence {chunk.first_sentence}"
        if chunk.first_sentence == chunk.last_sentence
        else f"sentences {chunk.first_sentence}–{chunk.last_sentence}"
    )
    excerpt = chunk.text if len(chunk.text) <= 60 else chunk.text[:57].rstrip() + "…"
    return TtsChunkError(
        f"{engine} failed on chunk {number} of {len(chunks)} ({sentences}: “{excerpt}”): {exc}",
        chunk=number,
        chunks=len(chunks),
        excerpt=excerpt,
    )


def _entry_points() -> dict[str, EntryPoint]:
    found = {ep.name: ep for ep in BUILT_IN_ENGINES}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in found and found[ep.name].value != ep.value:
            logger.warning("TTS engine %r from %s is ignored: the name is built in", ep.name, ep.value)
            continue
        found[ep.name] = ep
    return found
