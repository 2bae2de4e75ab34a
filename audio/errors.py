"""Errors raised by the audio package; their messages are meant to be shown to a person."""

from __future__ import annotations


class AudioError(Exception):
    """Audio could not be made, read or encoded; the message says why in one line."""


class TtsError(AudioError):
    """Text could not be turned into speech."""
