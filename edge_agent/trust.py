"""What the box accepts from the controller: pure checks, no I/O (invariant 1: nothing plays unapproved).

Every document must be signed by the pinned controller key and addressed to this box (or, for a
command, to one of its zones); a timeline must also be strictly newer than the last one accepted and
not expired; a command not expired and never executed before (no replay). A refusal carries a stable
``code``, reported by the agent as ``security:<code>``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from playlists.signing import WireError, key_id, verify
from playlists.wire import Ack, Command, Timeline, WireDocument

D = TypeVar("D", bound=WireDocument)

# WireError messages of playlists.signing → stable codes.
_WIRE_CODES = (
    ("bad signature", "bad_signature"),
    ("unknown signing key", "unknown_key"),
    ("unknown document version", "unknown_version"),
)


class Rejected(Exception):
    """A document the box must not act on; ``code`` is stable, ``detail`` is for the log."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


class Trust:
    """The pinned controller key, this box's id and zones; checks incoming documents."""

    def __init__(
        self, *, device_id: str, controller_key: Ed25519PublicKey, zones: Iterable[str] = ()
    ) -> None:
        self.device_id = device_id
        self.controller_kid = key_id(controller_key)
        self._keys = {self.controller_kid: controller_key}
        self._targets = {device_id} | {f"zone:{zone}" for zone in zones}

    def timeline(self, raw: bytes, *, last_version: int, now_ms: int) -> Timeline:
        """A timeline the box may adopt now; raises Rejected otherwise."""
        timeline = self.timeline_signature(raw)
        if timeline.version <= last_version:
            raise Rejected("rollback", f"version {timeline.version} <= last accepted {last_version}")
        if timeline.valid_until_ms <= now_ms:
            raise Rejected("expired", f"valid until {timeline.valid_until_ms}, now {now_ms}")
        return timeline

    def timeline_signature(self, raw: bytes) -> Timeline:
        """Signature and addressee only: for re-reading the box's own stored timeline."""
        timeline = self._verify(raw, Timeline)
        if timeline.device_id != self.device_id:
            raise Rejected("wrong_device", f"timeline is for {timeline.device_id!r}")
        return timeline

    def command(self, raw: bytes, *, now_ms: int, executed: Callable[[str], bool]) -> Command:
        """A command for this box or its zones, unexpired and not executed before; else Rejected."""
        command = self._verify(raw, Command)
        if command.target not in self._targets:
            raise Rejected("wrong_device", f"command targets {command.target!r}")
        if command.expires_at_ms <= now_ms:
            raise Rejected("expired", f"command {command.id!r} expired at {command.expires_at_ms}")
        if executed(command.id):
            raise Rejected("replay", f"command {command.id!r} was executed already")
        return command

    def ack(self, raw: bytes) -> Ack:
        """The controller's ack for this box's receipts; raises Rejected otherwise."""
        ack = self._verify(raw, Ack)
        if ack.device_id != self.device_id:
            raise Rejected("wrong_device", f"ack is for {ack.device_id!r}")
        return ack

    def _verify(self, raw: bytes, doc_type: type[D]) -> D:
        try:
            document, _kid = verify(raw, doc_type, self._keys)
        except WireError as exc:
            message = str(exc)
            code = next((code for text, code in _WIRE_CODES if message.startswith(text)), "malformed")
            raise Rejected(code, message) from None
        except Exception as exc:  # a malformed document must never take the agent down
            raise Rejected("malformed", f"{type(exc).__name__}: {exc}") from None
        return document
