"""The signed documents that travel over MQTT (see docs/protocol.md).

Every document carries ``"v": 1``. Unknown fields are ignored so that newer controllers can add
fields; an unknown version is rejected. Instants are integers: milliseconds since the Unix epoch, UTC.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

WIRE_VERSION = 1

DeviceId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
EpochMs = Annotated[int, Field(ge=0, description="Milliseconds since the Unix epoch, UTC")]
DurationMs = Annotated[int, Field(ge=0)]
Priority = Literal["normal", "priority", "emergency"]
PRIORITY_RANK: dict[str, int] = {"normal": 0, "priority": 1, "emergency": 2}


class WireModel(BaseModel):
    """Base for wire documents: frozen, unknown fields ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class MediaRef(WireModel):
    """Content-addressed audio the box fetches over HTTP and verifies before playing."""

    sha256: Sha256 = Field(description="Hex sha256 of the file's bytes")
    url: str = Field(description="Where to GET it, with the box's bearer token")
    bytes: int = Field(ge=0, description="Size of the file in bytes")
    duration_ms: DurationMs = Field(description="Playing time of the file")
    mime: str = Field(default="audio/mpeg", description="Media type of the file")


class TimelineItem(WireModel):
    """One thing to play on a box at an absolute instant."""

    id: str = Field(min_length=1, max_length=128, description="Unique id of this occurrence on this box")
    start_ms: EpochMs = Field(description="Instant the item must start")
    duration_ms: DurationMs = Field(description="Planned playing time")
    kind: Literal["audio", "stream", "silence"] = "audio"
    priority: Priority = "normal"
    volume: int = Field(default=100, ge=0, le=100, description="Percent of the box's volume")
    media: MediaRef | None = None
    stream_url: str | None = None
    broadcast_id: int | None = None
    schedule_id: int | None = None
    bulletin_id: int | None = None


class Timeline(WireModel):
    """Everything a box plays in its horizon; a newer version replaces the older entirely."""

    v: Literal[1] = 1
    type: Literal["timeline"] = "timeline"
    device_id: DeviceId
    version: int = Field(ge=1, description="Strictly increasing per device; older ones are rejected")
    issued_at_ms: EpochMs
    valid_from_ms: EpochMs
    valid_until_ms: EpochMs = Field(description="After this instant the box plays nothing of it")
    items: tuple[TimelineItem, ...] = ()


CommandName = Literal["play_now", "stop", "set_volume", "test_tone", "resync", "restart"]


class PlayNowArgs(WireModel):
    """``play_now``: play ``item`` at once (or at ``item.start_ms`` if later), interrupting anything of
    lower or equal priority; repeat it ``repeat`` times; then ``resume`` or ``skip`` what it interrupted."""

    item: TimelineItem
    repeat: int = Field(default=1, ge=1, le=20)
    after: Literal["resume", "skip"] = "skip"


class SetVolumeArgs(WireModel):
    """``set_volume``: the box's own volume, percent (items still scale it by their own volume)."""

    volume: int = Field(ge=0, le=100)


class TestToneArgs(WireModel):
    """``test_tone``: a sine tone for a few seconds, to check the speaker from the panel."""

    seconds: int = Field(default=5, ge=1, le=60)
    frequency_hz: int = Field(default=1000, ge=100, le=8000)


class Command(WireModel):
    """An order to a box or a zone, valid only between issued_at and expires_at.

    ``args`` by ``name``: ``play_now`` → PlayNowArgs; ``set_volume`` → SetVolumeArgs; ``test_tone`` →
    TestToneArgs; ``stop`` (silence everything now, cancel play_now commands), ``resync`` (republish
    status, refetch missing media) and ``restart`` (exit so the service manager restarts the agent)
    take none. A box answers every command it executed with a ``command_done`` receipt (or ``failed``)
    carrying ``command_id``.
    """

    v: Literal[1] = 1
    type: Literal["command"] = "command"
    id: str = Field(min_length=1, max_length=128)
    target: str = Field(description="device id, or zone:<zone code> for a zone command")
    issued_at_ms: EpochMs
    expires_at_ms: EpochMs
    name: CommandName
    args: dict[str, Any] = Field(default_factory=dict)


ReceiptEvent = Literal["started", "completed", "interrupted", "failed", "skipped", "command_done"]


class Receipt(WireModel):
    """What a box did, signed by the box's own key; seq is contiguous per device from 1."""

    v: Literal[1] = 1
    type: Literal["receipt"] = "receipt"
    device_id: DeviceId
    seq: int = Field(ge=1)
    event: ReceiptEvent
    item_id: str | None = None
    timeline_version: int | None = None
    scheduled_at_ms: EpochMs | None = None
    started_at_ms: EpochMs | None = None
    ended_at_ms: EpochMs | None = None
    media_sha256: Sha256 | None = None
    reason: str | None = Field(default=None, max_length=500)
    command_id: str | None = Field(
        default=None, max_length=128, description="For command_done/failed of a command"
    )
    seconds_aired: float | None = Field(
        default=None, ge=0, description="For interrupted: how much went on air"
    )
    recorded_at_ms: EpochMs


class Ack(WireModel):
    """The highest contiguous receipt seq the controller has committed for a box."""

    v: Literal[1] = 1
    type: Literal["ack"] = "ack"
    device_id: DeviceId
    seq: int = Field(ge=0)


class Status(WireModel):
    """A box's presence and health; retained, and also its MQTT will (state offline)."""

    v: Literal[1] = 1
    type: Literal["status"] = "status"
    device_id: DeviceId
    state: Literal["online", "offline"]
    at_ms: EpochMs | None = None
    agent_version: str | None = None
    timeline_version: int | None = None
    playing_item_id: str | None = None
    missing_media: tuple[str, ...] = ()
    outbox_pending: int | None = None
    rejected_documents: int | None = Field(
        default=None, description="Documents refused since the agent started (bad signature, rollback, …)"
    )


class Topics:
    """The MQTT topic contract under a configurable root (default ``loa/v1``)."""

    def __init__(self, root: str = "loa/v1") -> None:
        self.root = root.rstrip("/")

    def timeline(self, device_id: str) -> str:
        return f"{self.root}/devices/{device_id}/timeline"

    def command(self, device_id: str) -> str:
        return f"{self.root}/devices/{device_id}/command"

    def zone_command(self, zone_id: str) -> str:
        return f"{self.root}/zones/{zone_id}/command"

    def status(self, device_id: str) -> str:
        return f"{self.root}/devices/{device_id}/status"

    def report(self, device_id: str) -> str:
        return f"{self.root}/devices/{device_id}/report"

    def ack(self, device_id: str) -> str:
        return f"{self.root}/devices/{device_id}/ack"

    def all_reports(self) -> str:
        return f"{self.root}/devices/+/report"

    def all_statuses(self) -> str:
        return f"{self.root}/devices/+/status"

    def device_of(self, topic: str) -> str | None:
        """The device id in ``<root>/devices/<id>/<leaf>``, or None for any other topic."""
        prefix = f"{self.root}/devices/"
        if not topic.startswith(prefix):
            return None
        parts = topic[len(prefix) :].split("/")
        return parts[0] if len(parts) == 2 and parts[0] else None
