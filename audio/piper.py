"""Piper: neural voices from an ONNX model file on disk (piper-tts, onnxruntime; CPU only).

The voice is the file it is given: nothing is ever downloaded. piper-tts is imported only when a
voice is first used, so ``import audio`` stays light where Piper is not installed (the boxes).
"""

from __future__ import annotations

import hashlib
import io
import logging
import threading
import wave
from pathlib import Path
from typing import Any

from audio.errors import TtsError
from audio.tts import ACCENTS

logger = logging.getLogger(__name__)

# Piper voices speak at their own pace; this many words per minute counts as their natural speed.
NATURAL_SPEED_WPM = 150
MIN_SPEED = 80
MAX_SPEED = 300


class PiperEngine:
    """One Piper voice (``model_path`` is the .onnx file; its .onnx.json config lies beside it)."""

    name: str = "piper"

    def __init__(self, model_path: Path | str, *, config_path: Path | str | None = None) -> None:
        self.model_path = Path(model_path)
        self.config_path = Path(config_path) if config_path is not None else Path(f"{self.model_path}.json")
        self._voice: Any = None
        self._identity: str | None = None
        self._lock = threading.Lock()

    @property
    def identity(self) -> str:
        """The voice by content: another model file under the same name is another voice."""
        if self._identity is None:
            digest = hashlib.sha256()
            for path in self._files():
                try:
                    with path.open("rb") as handle:
                        while block := handle.read(1 << 20):
                            digest.update(block)
                except OSError as exc:
                    raise TtsError(f"cannot read the Piper voice {path.name}: {exc.strerror}") from None
            self._identity = f"{self.name} ({self.model_path.name}, sha256 {digest.hexdigest()[:16]})"
        return self._identity

    def synthesize(self, text: str, *, accent: str = "central", speed: int = 150) -> bytes:
        """Return a WAV file speaking ``text``; a Piper voice has one accent: ``accent`` is only checked."""
        if accent not in ACCENTS:
            raise TtsError(f"unknown accent {accent!r}; expected one of {', '.join(ACCENTS)}")
        if not MIN_SPEED <= speed <= MAX_SPEED:
            raise TtsError(f"speech speed {speed} is out of range {MIN_SPEED}–{MAX_SPEED} words per minute")
        if not text.strip():
            raise TtsError("nothing to say: the text is empty")
        voice = self._load()
        from piper import SynthesisConfig

        scale = float(voice.config.length_scale) * NATURAL_SPEED_WPM / speed
        out = io.BytesIO()
        try:
            with wave.open(out, "wb") as wav:
                voice.synthesize_wav(text, wav, syn_config=SynthesisConfig(length_scale=scale))
        except Exception as exc:  # onnxruntime and the phonemiser raise many kinds
            raise TtsError(f"Piper failed with voice {self.model_path.name}: {exc}") from exc
        logger.debug("piper spoke %d characters with %s at %d wpm", len(text), self.model_path.name, speed)
        return out.getvalue()

    def _files(self) -> tuple[Path, Path]:
        for path in (self.model_path, self.config_path):
            if not path.is_file():
                raise TtsError(f"the Piper voice file {path.name} does not exist")
        return self.model_path, self.config_path

    def _load(self) -> Any:
        with self._lock:
            if self._voice is None:
                try:
                    from piper import PiperVoice
                except ImportError:
                    raise TtsError("Piper is not installed (pip package piper-tts)") from None
                self._files()
                try:
                    self._voice = PiperVoice.load(self.model_path, config_path=self.config_path)
                except Exception as exc:  # a damaged model: onnxruntime's own error types
                    raise TtsError(f"cannot load the Piper voice {self.model_path.name}: {exc}") from exc
            return self._voice
