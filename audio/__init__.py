"""Audio for Loa: speech, broadcast processing, loudness, encoding and the content-addressed media store."""

from audio.cache import RenderCache, render_key
from audio.errors import AudioError, TtsChunkError, TtsError, UploadRejected
from audio.espeak import ESPEAK_VOICES, EspeakNgEngine
from audio.ffmpeg import (
    AudioProbe,
    Loudness,
    MediaInfo,
    make_tone,
    measure_loudness,
    measure_lufs,
    probe,
    probe_duration_ms,
    sniff,
)
from audio.normalize import Lexicon, LexiconError, Normalized, normalize, prepare_for_speech
from audio.piper import PiperEngine
from audio.render import RenderedMedia, cached_render, render_text, render_upload
from audio.settings import ProcessingSettings
from audio.store import MediaStore, StoredMedia
from audio.tts import ACCENTS, TtsEngine, engine_names, get_engine

__all__ = [
    "ACCENTS",
    "ESPEAK_VOICES",
    "AudioError",
    "AudioProbe",
    "EspeakNgEngine",
    "Lexicon",
    "LexiconError",
    "Loudness",
    "MediaInfo",
    "MediaStore",
    "Normalized",
    "PiperEngine",
    "ProcessingSettings",
    "RenderCache",
    "RenderedMedia",
    "StoredMedia",
    "TtsChunkError",
    "TtsEngine",
    "TtsError",
    "UploadRejected",
    "cached_render",
    "engine_names",
    "get_engine",
    "make_tone",
    "measure_loudness",
    "measure_lufs",
    "normalize",
    "prepare_for_speech",
    "probe",
    "probe_duration_ms",
    "render_key",
    "render_text",
    "render_upload",
    "sniff",
]
