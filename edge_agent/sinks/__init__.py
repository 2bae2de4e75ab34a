"""Where sound goes. The player knows only the ``Sink`` interface below; ffmpeg is called from
``edge_agent/sinks/_ffmpeg.py`` and nowhere else.

``FileSink`` writes the PCM it would play, with timestamps, into a folder (demo, tests, a box
without a sound card); ``AlsaSink`` plays through ffmpeg to an ALSA device.
"""

from edge_agent.sinks.alsa import AlsaSink
from edge_agent.sinks.base import (
    Playback,
    PlayResult,
    Prepared,
    Sink,
    SinkError,
    Source,
    effective_volume,
)
from edge_agent.sinks.file import PLAYED_LOG, FileSink

__all__ = [
    "PLAYED_LOG",
    "AlsaSink",
    "FileSink",
    "PlayResult",
    "Playback",
    "Prepared",
    "Sink",
    "SinkError",
    "Source",
    "effective_volume",
]
