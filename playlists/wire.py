"""The signed documents that travel over MQTT (see docs/protocol.md).

Every document carries ``"v": 1``. Unknown fields are ignored so that newer controllers can add
fields; an unknown version is rejected. Instants are integers: milliseconds since the Unix epoch, UTC.

Documents are frozen ``msgspec`` structs: light enough for the box (no pydantic there). Building one
checks nothing; whatever crosses a process boundary goes through :func:`decode` (in) or
:func:`to_dict` / :func:`to_json` (out), which check every constraint and raise :class:`WireError`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

import msgspec
from msgspec import Meta

WIRE_VERSION = 1

# \Z, not $: msgspec matches with Python's re, where $ also matches before a final newline.
DeviceId = Annotated[str, Meta(pattern=r"^[a-z0-9][a-z0-9-]{0,62}\Z")]
Sha256 = Annotated[str, Meta(pattern=r"^[0-9a-f]{64}\Z")]
EpochMs = Annotated[int, Meta(ge=0, description="Milliseconds since the Unix epoch, UTC")]
DurationMs = Annotated[int, Meta(ge=0)]
Percent = Annotated[int, Meta(ge=0, le=100)]
Priority = Literal["normal", "priority", "emergency"]
PRIORITY_RANK: dict[str, int] = {"normal": 0, "priority": 1, "emergency": 2}

D = TypeVar("D", bound="WireDocument")


class WireError(ValueError):
    """A document that must not be trusted: malformed, unsigned, forged or of an unknown version."""


class WireDocument(msgspec.Struct, frozen=True, kw_only=True):
    """Base for wire documents: frozen, keyword-only, unknown fields ignored."""


class MediaRef(WireDocument, frozen=True, kw_only=True):
    """Content-addressed audio the box fetches over HTTP and verifies before playing."""

    sha256: Annotated[Sha256, Meta(description="Hex sha256 of the file's bytes")]
    url: Annotated[str, Meta(description="Where to GET it, with the box's bearer token")]
    bytes: Annotated[int, Meta(ge=0, description="Size of the file in bytes")]
    duration_ms: Annotated[DurationMs, Meta(description="Playing time of the file")]
    mime: Annotated[str, Meta(description="Media type of the file")] = "audio/mpeg"


class TimelineItem(WireDocument, frozen=True, kw_only=True):
    """One thing to play on a box at an absolute instant."""

    id: Annotated[
        str, Meta(min_length=1, max_length=128, description="Unique id of this occurrence on this box")
    ]
    start_ms: Annotated[EpochMs, Meta(description="Instant the item must start")]
    duration_ms: Annotated[DurationMs, Meta(description="Planned playing time")]
    kind: Literal["audio", "stream", "silence"] = "audio"
    priority: Priority = "normal"
    volume: Annotated[Percent, Meta(description="Percent of the box's volume")] = 100
    media: MediaRef | None = None
    stream_url: str | None = None
    broadcast_id: int | None = None
    schedule_id: int | None = None
    bulletin_id: int | None = None


class Timeline(WireDocument, frozen=True, kw_only=True):
    """Everything a box plays in its horizon; a newer version replaces the older entirely."""

    v: Literal[1] = 1
    type: Literal["timeline"] = "timeline"
    device_id: DeviceId
    version: Annotated[int, Meta(ge=1, description="Strictly increasing per device; older ones are rejected")]
    issued_at_ms: EpochMs
    valid_from_ms: EpochMs
    valid_until_ms: Annotated[EpochMs, Meta(description="After this instant the box plays nothing of it")]
    items: tuple[TimelineItem, ...] = ()


CommandName = Literal["play_now", "stop", "set_volume", "test_tone", "resync", "restart", "update"]


class PlayNowArgs(WireDocument, frozen=True, kw_only=True):
    """``play_now``: play ``item`` at once (or at ``item.start_ms`` if later), interrupting anything of
    lower or equal priority; repeat it ``repeat`` times; then ``resume`` or ``skip`` what it interrupted."""

    item: TimelineItem
    repeat: Annotated[int, Meta(ge=1, le=20)] = 1
    after: Literal["resume", "skip"] = "skip"


class SetVolumeArgs(WireDocument, frozen=True, kw_only=True):
    """``set_volume``: the box's own volume, percent (items still scale it by their own volume)."""

    volume: Percent


class TestToneArgs(WireDocument, frozen=True, kw_only=True):
    """``test_tone``: a sine tone for a few seconds, to check the speaker from the panel."""

    seconds: Annotated[int, Meta(ge=1, le=60)] = 5
    frequency_hz: Annotated[int, Meta(ge=100, le=8000)] = 1000


class UpdateArgs(WireDocument, frozen=True, kw_only=True):
    """``update``: run another release of the agent (a wheel of the ``loa`` project), kept only if it
    works (docs/agent.md, "Updates")."""

    version: Annotated[str, Meta(pattern=r"^[0-9A-Za-z][0-9A-Za-z.+!_-]{0,63}$")]
    url: Annotated[str, Meta(description="Where to GET the wheel, with the box's bearer token")]
    sha256: Sha256
    bytes: Annotated[int, Meta(ge=1, le=50 * 1024 * 1024)]


class Command(WireDocument, frozen=True, kw_only=True):
    """An order to a box or a zone, valid only between issued_at and expires_at.

    ``args`` by ``name``: ``play_now`` → PlayNowArgs; ``set_volume`` → SetVolumeArgs; ``test_tone`` →
    TestToneArgs; ``stop`` (silence everything now, cancel play_now commands), ``resync`` (republish
    status, refetch missing media) and ``restart`` (exit so the service manager restarts the agent)
    take none; ``update`` → UpdateArgs. A box answers every command it executed with a
    ``command_done`` receipt (or ``failed``) carrying ``command_id``.
    """

    v: Literal[1] = 1
    type: Literal["command"] = "command"
    id: Annotated[str, Meta(min_length=1, max_length=128)]
    target: Annotated[str, Meta(description="device id, or zone:<zone code> for a zone command")]
    issued_at_ms: EpochMs
    expires_at_ms: EpochMs
    name: CommandName
    args: dict[str, Any] = msgspec.field(default_factory=dict)


ReceiptEvent = Literal["started", "completed", "interrupted", "failed", "skipped", "command_done"]


class Receipt(WireDocument, frozen=True, kw_only=True):
    """What a box did, signed by the box's own key; seq is contiguous per device from 1."""

    v: Literal[1] = 1
    type: Literal["receipt"] = "receipt"
    device_id: DeviceId
    seq: Annotated[int, Meta(ge=1)]
    event: ReceiptEvent
    item_id: str | None = None
    timeline_version: int | None = None
    scheduled_at_ms: EpochMs | None = None
    started_at_ms: EpochMs | None = None
    ended_at_ms: EpochMs | None = None
    media_sha256: Sha256 | None = None
    reason: Annotated[str, Meta(max_length=500)] | None = None
    command_id: (
        Annotated[str, Meta(max_length=128, description="For command_done/failed of a command")] | None
    ) = None
    seconds_aired: (
        Annotated[float, Meta(ge=0, description="For interrupted: how much went on air")] | None
    ) = None
    recorded_at_ms: EpochMs


class Ack(WireDocument, frozen=True, kw_only=True):
    """The highest contiguous receipt seq the controller has committed for a box."""

    v: Literal[1] = 1
    type: Literal["ack"] = "ack"
    device_id: DeviceId
    seq: Annotated[int, Meta(ge=0)]


class Status(WireDocument, frozen=True, kw_only=True):
    """A box's presence and health; retained, and also its MQTT will (state offline).

    Every field but ``device_id`` and ``state`` is optional: an offline will carries only those, and
    a box that cannot measure something (no thermal zone, no NTP, no wireless uplink) sends null.
    """

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
    outbox_first_seq: Annotated[
        int | None,
        Meta(description="Lowest receipt seq still in the outbox (None: empty); the box holds none below it"),
    ] = None
    rejected_documents: Annotated[
        int | None, Meta(description="Documents refused since the agent started (bad signature, rollback, …)")
    ] = None
    uptime_s: Annotated[int | None, Meta(description="Seconds since the agent started")] = None
    disk_free_mb: Annotated[int | None, Meta(description="Free space where the agent keeps its data")] = None
    cache_mb: Annotated[float | None, Meta(description="Disk used by the media cache")] = None
    media_quota_mb: Annotated[int | None, Meta(description="The media cache's quota")] = None
    cpu_temp_c: Annotated[float | None, Meta(description="CPU temperature, if the board reports one")] = None
    clock_offset_ms: Annotated[
        float | None,
        Meta(description="Box clock minus NTP time (chrony or SNTP); positive: the box is ahead"),
    ] = None
    clock_sane: Annotated[
        bool | None, Meta(description="False while the box plays nothing for its clock")
    ] = None
    clock_jump_ms: Annotated[int | None, Meta(description="The last wall-clock jump seen since start")] = None
    link_quality: (
        Annotated[int, Meta(ge=0, le=100, description="Signal quality 0–100 of a wireless uplink")] | None
    ) = None
    volume: Annotated[Percent, Meta(description="The box volume, percent")] | None = None


def decode(doc_type: type[D], obj: Any) -> D:
    """``obj`` (parsed JSON) as a ``doc_type``, every constraint checked; raises WireError."""
    try:
        return msgspec.convert(obj, doc_type)
    except msgspec.ValidationError as exc:
        raise WireError(f"invalid {doc_type.__name__}: {exc}") from None


def decode_json(doc_type: type[D], raw: bytes | str) -> D:
    """JSON text as a ``doc_type``, every constraint checked; raises WireError."""
    try:
        return msgspec.json.decode(raw, type=doc_type)
    except msgspec.DecodeError as exc:  # also msgspec.ValidationError
        raise WireError(f"invalid {doc_type.__name__}: {exc}") from None


def to_dict(document: WireDocument) -> dict[str, Any]:
    """The document as a JSON object (what gets signed), checked; raises WireError if it is invalid.

    Checking also normalises what the constructor does not (an int given for a float becomes a float),
    so the same document always gives the same bytes.
    """
    checked: dict[str, Any] = msgspec.to_builtins(decode(type(document), msgspec.to_builtins(document)))
    return checked


def to_json(document: WireDocument) -> bytes:
    """The document as compact UTF-8 JSON in field order (unsigned documents: the status), checked."""
    return msgspec.json.encode(decode(type(document), msgspec.to_builtins(document)))


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
