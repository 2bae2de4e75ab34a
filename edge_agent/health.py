"""What the box measures about itself for its status (``playlists.wire.Status``, see docs/agent.md).

Each measure is a plain function that answers None when the board cannot tell. The clock offset is
measured on a background thread, so a slow NTP server never holds up the agent.
"""

from __future__ import annotations

import logging
import shutil
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

THERMAL_ROOT = Path("/sys/class/thermal")
WIRELESS = Path("/proc/net/wireless")
WIRELESS_MAX_QUALITY = 70  # the scale of mac80211 drivers and the Pi's brcmfmac (iwconfig: "58/70")
NTP_EPOCH_OFFSET_S = 2_208_988_800  # 1900-01-01 to 1970-01-01
OFFSET_INTERVAL_S = 600.0
VITALS_MAX_AGE_S = 10.0


def cpu_temp_c(root: Path = THERMAL_ROOT) -> float | None:
    """The CPU's temperature from the kernel's thermal zones (the one typed *cpu*, else the first)."""
    zones = sorted(root.glob("thermal_zone*"))
    ordered = sorted(zones, key=lambda zone: "cpu" not in _read(zone / "type").lower())
    for zone in ordered:
        text = _read(zone / "temp").strip()
        if text.lstrip("-").isdigit():
            return round(int(text) / 1000, 1)
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def link_quality(path: Path = WIRELESS) -> int | None:
    """Signal quality 0–100 of the best wireless interface in ``/proc/net/wireless``, or None.

    None when the box has no wireless interface (wired, or a modem the kernel does not report there).
    """
    best: int | None = None
    for line in _read(path).splitlines()[2:]:  # two header lines
        _name, colon, rest = line.partition(":")
        fields = rest.split()
        if not colon or len(fields) < 2:
            continue
        try:
            quality = float(fields[1])  # "70." is a float too
        except ValueError:
            continue
        percent = max(0, min(100, round(quality * 100 / WIRELESS_MAX_QUALITY)))
        best = percent if best is None else max(best, percent)
    return best


def disk_free_mb(path: Path) -> int | None:
    try:
        return shutil.disk_usage(path).free // (1024 * 1024)
    except OSError:
        return None


@dataclass(frozen=True)
class VitalSigns:
    disk_free_mb: int | None
    cache_bytes: int
    cpu_temp_c: float | None
    link_quality: int | None


class Vitals:
    """The box's slow-changing readings, read again at most every ``max_age_s``.

    A status goes out on every change (each item that starts or ends, a refusal), and several a
    second during an emergency: walking the media folder and reading sysfs each time would cost more
    than the rest of the status. ``expire`` forces a fresh reading (the media cache changed).
    """

    def __init__(
        self,
        media_folder: Path,
        cache_bytes: Callable[[], int],
        *,
        max_age_s: float = VITALS_MAX_AGE_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._folder = media_folder
        self._cache_bytes = cache_bytes
        self._max_age_s = max_age_s
        self._monotonic = monotonic
        self._read_at: float | None = None
        self._signs: VitalSigns | None = None
        self._lock = threading.Lock()

    def read(self) -> VitalSigns:
        with self._lock:
            now = self._monotonic()
            if self._signs is None or self._read_at is None or now - self._read_at >= self._max_age_s:
                self._signs = VitalSigns(
                    disk_free_mb=disk_free_mb(self._folder),
                    cache_bytes=self._cache_bytes(),
                    cpu_temp_c=cpu_temp_c(),
                    link_quality=link_quality(),
                )
                self._read_at = now
            return self._signs

    def expire(self) -> None:
        with self._lock:
            self._read_at = None


def chrony_offset_ms(csv_line: str) -> float | None:
    """Box minus NTP time from ``chronyc -c tracking`` (field 5 is the correction: positive = slow)."""
    fields = csv_line.strip().split(",")
    if len(fields) < 14 or fields[13].strip().lower().startswith("not synchronised"):
        return None
    try:
        return round(-float(fields[4]) * 1000, 3)
    except ValueError:
        return None


def sntp_offset_ms(server: str, *, port: int = 123, timeout_s: float = 2.0) -> float:
    """Box minus server time, from one SNTP (RFC 4330) exchange; raises OSError on failure."""
    request = bytearray(48)
    request[0] = 0x23  # LI 0, version 4, mode 3 (client)
    host, _, given_port = server.rpartition(":") if server.count(":") == 1 else (server, "", "")
    address = (host or server, int(given_port) if given_port else port)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout_s)
        t1 = time.time()
        sock.sendto(bytes(request), address)
        reply, _ = sock.recvfrom(512)
        t4 = time.time()
    if len(reply) < 48 or reply[0] & 0x07 not in (4, 5):
        raise OSError("not an SNTP server reply")
    t2 = _ntp_seconds(reply, 32)
    t3 = _ntp_seconds(reply, 40)
    if t3 == -NTP_EPOCH_OFFSET_S:
        raise OSError("server has no time (transmit timestamp zero)")
    server_minus_box = ((t2 - t1) + (t3 - t4)) / 2
    return round(-server_minus_box * 1000, 3)


def _ntp_seconds(packet: bytes, offset: int) -> float:
    seconds, fraction = struct.unpack("!II", packet[offset : offset + 8])
    return int(seconds) - NTP_EPOCH_OFFSET_S + int(fraction) / 2**32


class ClockOffset:
    """The clock offset, refreshed in the background: chrony if installed, else SNTP, else unknown."""

    def __init__(
        self,
        *,
        ntp_server: str | None,
        chronyc: str | None = None,
        interval_s: float = OFFSET_INTERVAL_S,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self._ntp_server = ntp_server
        self._chronyc = chronyc if chronyc is not None else shutil.which("chronyc")
        self._interval_s = interval_s
        self._on_change = on_change
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.value_ms: float | None = None

    @property
    def available(self) -> bool:
        return self._chronyc is not None or bool(self._ntp_server)

    def measure(self) -> float | None:
        if self._chronyc is not None:
            try:
                result = subprocess.run(
                    [self._chronyc, "-c", "tracking"], capture_output=True, text=True, timeout=5, check=False
                )
            except (OSError, subprocess.SubprocessError) as exc:
                log.warning("chronyc failed: %s", exc)
            else:
                if result.returncode == 0:
                    return chrony_offset_ms(result.stdout)
        if self._ntp_server:
            try:
                return sntp_offset_ms(self._ntp_server)
            except (OSError, ValueError) as exc:
                log.warning("SNTP query to %s failed: %s", self._ntp_server, exc)
        return None

    def start(self) -> None:
        if not self.available:
            return
        self._thread = threading.Thread(target=self._run, name="loa-clock-offset", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            value = self.measure()
            if value != self.value_ms:
                self.value_ms = value
                if self._on_change is not None:
                    self._on_change()
            self._stop.wait(self._interval_s)
