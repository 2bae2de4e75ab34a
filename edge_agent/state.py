"""What the box keeps across restarts besides the outbox: the accepted timeline and the box volume.

``timeline.json`` holds the signed envelope exactly as received; it is re-verified when read back, so a
corrupt or tampered file only means "no timeline". ``state.json`` holds the last accepted version (and
the hash of that envelope) on its own, so that losing the timeline file never opens the door to a
rollback, yet the very same envelope, still retained on the broker, is taken back. ``volume.json``
holds the volume set by the last set_volume command. A file that cannot be read means defaults, a
warning, and an entry in ``problems`` (the agent reports each one); never a crash.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from pathlib import Path
from typing import Any

from edge_agent.trust import Rejected, Trust
from playlists.files import atomic_write_bytes
from playlists.wire import Timeline

log = logging.getLogger(__name__)

TIMELINE_FILE = "timeline.json"
STATE_FILE = "state.json"
VOLUME_FILE = "volume.json"


def _read_json_object(path: Path, problems: list[str]) -> dict[str, Any] | None:
    """The JSON object in ``path``; None if absent; None and a problem if unreadable."""
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("cannot read %s (%s); using defaults", path, exc)
        problems.append(path.name)
        return None
    if not isinstance(data, dict):
        log.warning("%s does not hold a JSON object; using defaults", path)
        problems.append(path.name)
        return None
    return data


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
        self._last_sha256: str | None = None
        self.problems: list[str] = []

    @property
    def timeline(self) -> Timeline | None:
        return self._timeline

    @property
    def last_version(self) -> int:
        return self._last_version

    def is_current(self, raw: bytes) -> bool:
        """True if ``raw`` is byte for byte the envelope already adopted (a retained re-delivery)."""
        return self._raw is not None and raw == self._raw

    def is_lost_current(self, raw: bytes) -> bool:
        """True if ``raw`` is the last accepted envelope but its file was lost: take it back."""
        return self._raw is None and self._last_sha256 == hashlib.sha256(raw).hexdigest()

    def load(self) -> Timeline | None:
        """Read both files back; anything unreadable or unverifiable is ignored with a warning."""
        with self._lock:
            self._read_state()
            self._raw, self._timeline = None, None
            try:
                raw = self._timeline_path.read_bytes()
            except FileNotFoundError:
                return None
            except OSError as exc:
                log.warning("cannot read %s: %s; starting without a timeline", self._timeline_path, exc)
                self.problems.append(TIMELINE_FILE)
                return None
            try:
                timeline = self._trust.timeline_signature(raw)
            except Rejected as exc:
                log.warning("stored timeline ignored (%s); starting without a timeline", exc)
                self.problems.append(TIMELINE_FILE)
                return None
            self._raw, self._timeline = raw, timeline
            if timeline.version >= self._last_version:
                self._last_version = timeline.version
                self._last_sha256 = hashlib.sha256(raw).hexdigest()
            log.info("stored timeline version %d loaded (%d items)", timeline.version, len(timeline.items))
            return timeline

    def save(self, raw: bytes, timeline: Timeline) -> None:
        """Adopt a verified timeline: its envelope first, then the version (both whole or absent)."""
        with self._lock:
            atomic_write_bytes(self._timeline_path, raw, mode=0o600)
            last = max(self._last_version, timeline.version)
            sha = hashlib.sha256(raw).hexdigest()
            state = {"last_version": last, "sha256": sha}
            atomic_write_bytes(self._state_path, json.dumps(state).encode(), mode=0o600)
            self._raw, self._timeline, self._last_version, self._last_sha256 = raw, timeline, last, sha

    def _read_state(self) -> None:
        self._last_version, self._last_sha256 = 0, None
        data = _read_json_object(self._state_path, self.problems)
        if data is None:
            return
        version, sha = data.get("last_version"), data.get("sha256")
        if isinstance(version, int) and not isinstance(version, bool) and version >= 0:
            self._last_version = version
            self._last_sha256 = sha if isinstance(sha, str) else None
            return
        log.warning("%s holds no valid last_version; relying on the stored timeline's", self._state_path)
        self.problems.append(STATE_FILE)


class VolumeStore:
    """The box volume, percent: the config's value until a set_volume command persists another."""

    def __init__(self, data_dir: Path, *, default: int) -> None:
        self._path = data_dir / VOLUME_FILE
        self.problems: list[str] = []
        data = _read_json_object(self._path, self.problems)
        value = data.get("volume") if data is not None else None
        if data is not None and not (
            isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 100
        ):
            log.warning("%s holds no valid volume; using %d", self._path, default)
            self.problems.append(VOLUME_FILE)
            value = None
        self.volume: int = value if isinstance(value, int) else default

    def save(self, volume: int) -> None:
        if not 0 <= volume <= 100:
            raise ValueError(f"volume {volume} is not a percent")
        atomic_write_bytes(self._path, json.dumps({"volume": volume}).encode(), mode=0o600)
        self.volume = volume
