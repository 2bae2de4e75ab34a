"""systemd's notify protocol without a dependency: datagrams to the ``NOTIFY_SOCKET`` unix socket.

``READY=1`` once the agent runs, ``WATCHDOG=1`` from the main loop while the player's loop is alive
(every WatchdogSec/2), ``STOPPING=1`` on the way out. Outside systemd every call is a no-op.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)


class Notifier:
    """Sends notifications to the service manager, if there is one."""

    def __init__(self, address: str | None, *, watchdog_usec: int | None = None) -> None:
        self._address: str | bytes | None = None
        if address:
            # "@name" is a socket in the abstract namespace.
            self._address = b"\0" + address[1:].encode() if address.startswith("@") else address
        self.watchdog_interval_s = watchdog_usec / 2_000_000 if watchdog_usec else None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Notifier:
        env = os.environ if environ is None else environ
        usec: int | None = None
        pid = env.get("WATCHDOG_PID")
        if env.get("WATCHDOG_USEC", "").isdigit() and (pid is None or pid == str(os.getpid())):
            usec = int(env["WATCHDOG_USEC"])
        return cls(env.get("NOTIFY_SOCKET"), watchdog_usec=usec)

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def notify(self, *states: str) -> bool:
        """Send ``states`` (e.g. ``"READY=1"``) in one datagram; False if there is nobody to tell."""
        if self._address is None:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto("\n".join(states).encode(), self._address)
        except OSError as exc:
            log.warning("cannot notify the service manager: %s", exc)
            return False
        return True

    def ready(self, status: str = "") -> bool:
        return self.notify("READY=1", *([f"STATUS={status}"] if status else []))

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def stopping(self) -> bool:
        return self.notify("STOPPING=1")
