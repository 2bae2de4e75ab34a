"""Errors raised by the audio package; their messages are meant to be shown to a person."""

from __future__ import annotations

from audio.texts import Text


class AudioError(Exception):
    """Audio could not be made, read or encoded; the message says why in one line."""


class TtsError(AudioError):
    """Text could not be turned into speech."""


class TtsChunkError(TtsError):
    """One chunk of a long text could not be spoken; says which one, so an editor can find it."""

    def __init__(self, message: str, *, chunk: int, chunks: int, excerpt: str) -> None:
        super().__init__(message)
        self.chunk = chunk
        """1-based position of the failing chunk."""
        self.chunks = chunks
        """How many chunks the text was cut into."""
        self.excerpt = excerpt
        """The start of the failing chunk's text."""


class UploadRejected(AudioError):
    """An uploaded recording cannot be broadcast; ``str()`` is English for logs, ``text`` is for people."""

    def __init__(self, message: str, *, code: str, text: Text) -> None:
        super().__init__(message)
        self.code = code
        """Machine-readable reason: empty, too_large, not_audio, no_audio_stream, playlist, too_long,
        decode_error, truncated, silent or missing."""
        self.text = text
        """The sentence for the person who uploaded the file (``audio.texts``), worded by the caller."""
