"""Remote commands to one box from the panel or the API: signed, published, and followed to their outcome.

A command is stored as a ``DeviceCommand`` in state ``sent``, signed and published on the box's command
topic. The box answers with a ``command_done`` receipt (or ``failed`` with a reason) carrying the
command id; ``record_outcomes`` marks the command. A box ignores a command after its ``expires_at``,
so one still ``sent`` after that instant is shown as expired: the box never confirmed it.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from controller import audit_log
from controller.auth import require
from controller.errors import Conflict, InvalidInput, NotFound
from controller.i18n import N_, gettext
from controller.keys import Signer
from controller.models import Device, DeviceCommand, User, utcnow
from controller.zones import visible_zone_ids
from playlists.wire import (
    Command,
    SetVolumeArgs,
    TestToneArgs,
    Topics,
    UpdateArgs,
    WireError,
    decode,
    to_dict,
)

Publish = Callable[[str, bytes, bool], None]

NAMES = {
    "set_volume": N_("Set volume"),
    "stop": N_("Stop playing"),
    "test_tone": N_("Play test tone"),
    "resync": N_("Resync"),
    "restart": N_("Restart the box software"),
}
# Sent only by the controller's own services (controller/agent_releases.py), never as typed by a user:
# an update names a URL the box fetches with its token.
SYSTEM_NAMES = {"update": N_("Update the box software")}
STATE_LABELS = {
    "sent": N_("Sent, awaiting the box's confirmation"),
    "done": N_("Done by the box"),
    "failed": N_("The box reported an error"),
    "expired": N_("Expired – the box did not confirm"),
}
_ARGS: dict[str, type[SetVolumeArgs] | type[TestToneArgs]] = {
    "set_volume": SetVolumeArgs,
    "test_tone": TestToneArgs,
}
_ARGS_ERROR = {
    "set_volume": N_("The volume must be a whole number from 0 to 100."),
    "test_tone": N_("A test tone lasts 1–60 seconds, at 100–8000 Hz."),
}


def sign_command(
    signer: Signer,
    *,
    command_id: str,
    target: str,
    name: str,
    args: Mapping[str, Any],
    now: datetime,
    ttl: timedelta,
) -> bytes:
    """The signed envelope of a ``Command`` valid from ``now`` for ``ttl`` (boxes and zones alike)."""
    command = Command(
        id=command_id,
        target=target,
        issued_at_ms=int(now.timestamp() * 1000),
        expires_at_ms=int((now + ttl).timestamp() * 1000),
        name=name,  # type: ignore[arg-type]
        args=dict(args),
    )
    return signer.sign(command)


def checked_args(name: str, args: Mapping[str, Any] | None) -> dict[str, Any]:
    """The command's arguments as the box will read them, defaults filled in; refuses bad ones."""
    if name not in NAMES:
        raise InvalidInput(N_("Invalid command."), field="name")
    doc_type = _ARGS.get(name)
    if doc_type is None:
        return {}
    try:
        return to_dict(decode(doc_type, dict(args or {})))
    except WireError as exc:
        raise InvalidInput(_ARGS_ERROR[name], field="args") from exc


def state_of(command: DeviceCommand, *, now: datetime) -> str:
    """``sent``, ``done``, ``failed`` or ``expired`` (still sent after it expired)."""
    if command.state == "sent" and now >= command.expires_at:
        return "expired"
    return command.state


def describe(command: DeviceCommand) -> str:
    """The command with its arguments, in the reader's language: "Đặt âm lượng 70 %"."""
    args = json.loads(command.args_json or "{}")
    names = NAMES | SYSTEM_NAMES
    label = gettext(names[command.name]) if command.name in names else command.name
    if command.name == "update":
        return f"{label} {args.get('version')}"
    if command.name == "set_volume":
        return f"{label} {args.get('volume')} %"
    if command.name == "test_tone":
        return gettext(
            "%(command)s %(seconds)s seconds, %(hz)s Hz",
            command=label,
            seconds=args.get("seconds"),
            hz=args.get("frequency_hz"),
        )
    return label


class CommandService:
    """Sends commands to single boxes."""

    def __init__(self, *, signer: Signer, topics: Topics, publish: Publish, ttl: timedelta) -> None:
        self.signer, self.topics, self.publish, self.ttl = signer, topics, publish, ttl

    def send(
        self,
        session: Session,
        *,
        user: User,
        device_id: str,
        name: str,
        args: Mapping[str, Any] | None = None,
        now: datetime | None = None,
        system: bool = False,
        ttl: timedelta | None = None,
    ) -> DeviceCommand:
        """Check the user's rights and the arguments, store, sign and publish the command.

        ``system``: sent by one of the controller's services, which may also send SYSTEM_NAMES.
        """
        require(user, "device.command")
        device = visible_device(session, user=user, device_id=device_id)
        if device.revoked_at is not None or not device.is_active or not device.public_key:
            raise Conflict(
                N_("The speaker box is not installed yet or has been revoked; no command can be sent.")
            )
        if system and name in SYSTEM_NAMES:
            clean = to_dict(decode(UpdateArgs, dict(args or {})))
        else:
            clean = checked_args(name, args)
        now, ttl = now or utcnow(), ttl or self.ttl
        command = DeviceCommand(
            id=f"c{int(now.timestamp() * 1000)}-{secrets.token_hex(4)}",
            device_id=device.id,
            name=name,
            args_json=json.dumps(clean, sort_keys=True),
            issued_by=user.id,
            issued_at=now,
            expires_at=now + ttl,
        )
        session.add(command)
        audit_log.record(
            session,
            actor=user,
            action="device.command",
            object_type="device",
            object_id=device.id,
            command_id=command.id,
            name=name,
            args=clean,
        )
        session.commit()
        envelope = sign_command(
            self.signer,
            command_id=command.id,
            target=device.id,
            name=name,
            args=clean,
            now=now,
            ttl=ttl,
        )
        self.publish(self.topics.command(device.id), envelope, False)
        session.refresh(command)
        return command


def visible_device(session: Session, *, user: User, device_id: str) -> Device:
    """The box, if the user may see it; otherwise "not found" (whether it exists is not told)."""
    require(user, "device.view")
    device = session.get(Device, device_id)
    zones = visible_zone_ids(session, user=user)
    if device is None or (zones is not None and device.zone_id not in zones):
        raise NotFound(N_("Speaker box not found."))
    return device


def recent_commands(session: Session, *, device_id: str, limit: int = 20) -> Sequence[DeviceCommand]:
    return session.exec(
        select(DeviceCommand)
        .where(DeviceCommand.device_id == device_id)
        .order_by(col(DeviceCommand.issued_at).desc())
        .limit(limit)
    ).all()


@dataclass(frozen=True)
class Outcome:
    """What a box's receipt says of a command: done or failed (``event``), why, and when."""

    device_id: str
    command_id: str
    event: str
    reason: str | None
    at: datetime


def record_outcomes(session: Session, outcomes: Sequence[Outcome]) -> int:
    """Mark the boxes' commands done or failed from a batch of receipts; returns how many changed.

    Most receipts that name a command are not about one of ours (an emergency's zone command, whose
    started and completed receipts name it too): one query finds ours among the batch, and only
    those are updated. A command already marked stays as it is. Committed by the caller."""
    final = [o for o in outcomes if o.event in ("command_done", "failed")]
    if not final:
        return 0
    ids = {o.command_id for o in final}
    ours = {
        (device_id, command_id)
        for command_id, device_id in session.exec(
            select(DeviceCommand.id, DeviceCommand.device_id).where(
                col(DeviceCommand.id).in_(ids), col(DeviceCommand.state) == "sent"
            )
        )
    }
    changed = 0
    for outcome in final:
        if (outcome.device_id, outcome.command_id) not in ours:
            continue
        ours.discard((outcome.device_id, outcome.command_id))  # the first receipt decides
        session.exec(
            update(DeviceCommand)
            .where(col(DeviceCommand.id) == outcome.command_id, col(DeviceCommand.state) == "sent")
            .values(
                state="done" if outcome.event == "command_done" else "failed",
                reason=outcome.reason,
                done_at=outcome.at,
            )
        )
        changed += 1
    return changed
