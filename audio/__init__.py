"""Audio for Loa: text preparation, speech, loudness, encoding and the content-addressed media store."""

from audio.errors import AudioError, TtsError
from audio.ffmpeg import (
    AudioProbe,
    Loudness,
    encode_broadcast,
    make_tone,
    measure_loudness,
    measure_lufs,
    probe,
    probe_duration_ms,
)
from audio.normalize import prepare_for_speech
from audio.render import RenderedMedia, render_text, render_upload
from audio.store import MediaStore, StoredMedia
from audio.tts import ACCENTS, EspeakNgEngine, TtsEngine, engines, get_engine

__all__ = [
    "ACCENTS",
    "AudioError",
    "AudioProbe",
    "EspeakNgEngine",
    "Loudness",
    "MediaStore",
    "RenderedMedia",
    "StoredMedia",
    "TtsEngine",
    "TtsError",
    "encode_broadcast",
    "engines",
    "get_engine",
    "make_tone",
    "measure_loudness",
    "measure_lufs",
    "prepare_for_speech",
    "probe",
    "probe_duration_ms",
    "render_text",
    "render_upload",
]
