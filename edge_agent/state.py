"""The accepted timeline, kept on disk so that a box plays alone after a restart (invariant 3).

``timeline.json`` holds the signed envelope exactly as received; it is re-verified when read back, so a
corrupt or tampered file only means "no timeline". ``state.json`` holds the last accepted version on
its own, so that losing the timeline file never opens the door to a rollback.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

from edge_agent.trust import Rejected, Trust
from playlists.files import atomic_write_bytes
from playlists.wire import Timeline

log = logging.getLogger(__name__)

TIMELINE_FILE = "timeline.json"
STATE_FILE = "state.json"


class TimelineStore:
    """The current accepted timeline (document and signed bytes) and the last accepted version."""

    def __init__(self, data_dir: Path, trust: Trust) -> None:
        self._timeline_path = data_dir / TIMELINE_FILE
        self._state_path = data_dir / STATE_FILE
        self._trust = trust
        self._lock = threading.Lock()
        self._raw: bytes | None = None
        self._timeline: Timeline | None = None
        self._last_version = 0

    @property
    def timeline(self) -> Timeline | None:
        return self._timeline

    @property
    def last_version(self) -> int:
        return self._last_version

    def is_current(self, raw: bytes) -> bool:
        """True if ``raw`` is byte for byte the envelope already adopted (a retained re-delivery)."""
        return self._raw is not None and raw == self._raw

    def load(self) -> Timeline | None:
        """Read both files back; anything unreadable or unverifiable is ignored with a warning."""
        with self._lock:
            self._last_version = self._read_last_version()
            self._raw, self._timeline = None, None
            try:
                raw = self._timeline_path.read_bytes()
            except FileNotFoundError:
                return None
            except OSError as exc:
                log.warning("cannot read %s: %s; starting without a timeline", self._timeline_path, exc)
                return None
            try:
                timeline = self._trust.timeline_signature(raw)
            except Rejected as exc:
                log.warning("stored timeline ignored (%s); starting without a timeline", exc)
                return None
            self._raw, self._timeline = raw, timeline
            self._last_version = max(self._last_version, timeline.version)
            log.info("stored timeline version %d loaded (%d items)", timeline.version, len(timeline.items))
            return timeline

    def save(self, raw: bytes, timeline: Timeline) -> None:
        """Adopt a verified timeline: its envelope first, then the version (both whole or absent)."""
        with self._lock:
            atomic_write_bytes(self._timeline_path, raw, mode=0o600)
            last = max(self._last_version, timeline.version)
            atomic_write_bytes(self._state_path, json.dumps({"last_version": last}).encode(), mode=0o600)
            self._raw, self._timeline, self._last_version = raw, timeline, last

    def _read_last_version(self) -> int:
        try:
            data = json.loads(self._state_path.read_bytes())
        except FileNotFoundError:
            return 0
        except (OSError, ValueError) as exc:
            log.warning(
                "cannot read %s (%s); relying on the stored timeline's version", self._state_path, exc
            )
            return 0
        version = data.get("last_version") if isinstance(data, dict) else None
        if isinstance(version, int) and not isinstance(version, bool) and version >= 0:
            return version
        log.warning(
            "%s holds no valid last_version; relying on the stored timeline's version", self._state_path
        )
        return 0
