"""Database tables (SQLModel). Every datetime is aware and stored in UTC (SQLModel's UTCDateTime)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """Now, aware, in UTC."""
    return datetime.now(UTC)


class Zone(SQLModel, table=True):
    """An administrative unit: the province, a commune or ward, or a village (thôn, xóm, bản, khối)."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(index=True, unique=True, max_length=64)
    name: str = Field(max_length=200)
    kind: str = Field(max_length=16, description="province, commune or village")
    parent_id: int | None = Field(default=None, foreign_key="zone.id", index=True)
    policy_json: str | None = Field(
        default=None,
        sa_column=Column(Text),
        description="playlists.policy.ZonePolicy, for this zone and below",
    )
    speech_engine: str | None = Field(
        default=None,
        max_length=32,
        description="TTS engine of new bulletins here and below (with speech_voice); None: as the parent",
    )
    speech_voice: str | None = Field(
        default=None, max_length=100, description="Voice of speech_engine (a Piper voice's name), or None"
    )
    speech_accent: str | None = Field(
        default=None, max_length=16, description="Accent of new bulletins here and below; None: as the parent"
    )
    speech_speed: int | None = Field(
        default=None, description="Words per minute of new bulletins here and below; None: as the parent"
    )


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(index=True, unique=True, max_length=64)
    full_name: str = Field(max_length=200)
    password_hash: str = Field(max_length=200)
    role: str = Field(max_length=16, description="admin, editor, approver, auditor or technician")
    is_active: bool = True
    created_at: datetime = Field(default_factory=utcnow)


class UserZone(SQLModel, table=True):
    """A commune a user belongs to (editors and approvers see only theirs)."""

    user_id: int = Field(foreign_key="user.id", primary_key=True)
    zone_id: int = Field(foreign_key="zone.id", primary_key=True)


class AuthSession(SQLModel, table=True):
    """A server-side login: a panel cookie or an API bearer token (stored as its sha256)."""

    token_hash: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="user.id", index=True)
    kind: str = Field(max_length=8, description="web or api")
    csrf_token: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)


class Device(SQLModel, table=True):
    """A speaker box on a pole."""

    id: str = Field(primary_key=True, max_length=63)
    name: str = Field(max_length=200)
    zone_id: int = Field(foreign_key="zone.id", index=True)
    public_key: str | None = Field(
        default=None,
        max_length=64,
        description="The box's Ed25519 key (base64), made on it; None until enrolled",
    )
    media_token_hash: str | None = Field(default=None, max_length=64, index=True)
    mqtt_password_hash: str | None = Field(
        default=None, max_length=200, description="Mosquitto's own hash of the box's broker password"
    )
    is_active: bool = True
    created_at: datetime = Field(default_factory=utcnow)
    enrolled_at: datetime | None = None
    revoked_at: datetime | None = Field(
        default=None, description="Cut off: no broker access, receipts refused"
    )
    lat: float | None = Field(default=None, description="WGS84 latitude")
    lon: float | None = Field(default=None, description="WGS84 longitude")
    address: str | None = Field(default=None, max_length=300)
    last_seen_at: datetime | None = None
    state: str = Field(default="unknown", max_length=16)
    status_json: str | None = Field(default=None, sa_column=Column(Text))
    acked_seq: int = Field(default=0, description="Highest contiguous receipt seq committed")


class Media(SQLModel, table=True):
    """Rendered or uploaded audio in the content-addressed store."""

    sha256: str = Field(primary_key=True, max_length=64)
    bytes: int
    duration_ms: int
    mime: str = Field(default="audio/mpeg", max_length=64)
    codec: str | None = Field(default=None, max_length=16)
    lufs: float | None = Field(default=None, description="Integrated loudness measured on the stored file")
    true_peak_dbtp: float | None = None
    created_at: datetime = Field(default_factory=utcnow)


class Bulletin(SQLModel, table=True):
    """A text to be read on air; approval freezes its text and audio by hash."""

    id: int | None = Field(default=None, primary_key=True)
    commune_id: int = Field(foreign_key="zone.id", index=True)
    title: str = Field(max_length=300)
    body: str = Field(sa_column=Column(Text, nullable=False))
    category: str = Field(default="legal", max_length=32)
    source_ref: str | None = Field(default=None, max_length=300)
    engine: str = Field(default="espeak-ng", max_length=32, description="TTS engine (audio.tts registry)")
    voice: str | None = Field(
        default=None, max_length=100, description="The engine's voice (a Piper voice's name); None: its own"
    )
    accent: str = Field(default="central", max_length=16)
    speed: int = Field(default=150, description="Words per minute of the speech engine")
    recording_sha256: str | None = Field(
        default=None,
        foreign_key="media.sha256",
        max_length=64,
        description="An uploaded recording (our transcode) that airs instead of synthetic speech",
    )
    status: str = Field(default="draft", max_length=16, index=True)
    author_id: int = Field(foreign_key="user.id")
    approver_id: int | None = Field(default=None, foreign_key="user.id")
    decision_comment: str | None = Field(default=None, max_length=2000)
    text_sha256: str | None = Field(default=None, max_length=64)
    media_sha256: str | None = Field(default=None, foreign_key="media.sha256", max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    submitted_at: datetime | None = None
    decided_at: datetime | None = None


class Playlist(SQLModel, table=True):
    """An ordered list of bulletins, chimes, silences, stream relays and other playlists."""

    id: int | None = Field(default=None, primary_key=True)
    commune_id: int | None = Field(
        default=None, foreign_key="zone.id", index=True, description="None: province"
    )
    name: str = Field(max_length=200)
    entries_json: str = Field(sa_column=Column(Text, nullable=False), description="[PlaylistEntry, …]")
    created_by: int = Field(foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)


class DeviceGroup(SQLModel, table=True):
    """A saved set of boxes across zones (e.g. boxes near the river)."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    commune_id: int | None = Field(
        default=None, foreign_key="zone.id", index=True, description="None: province"
    )
    created_at: datetime = Field(default_factory=utcnow)


class DeviceGroupMember(SQLModel, table=True):
    group_id: int = Field(foreign_key="devicegroup.id", primary_key=True)
    device_id: str = Field(foreign_key="device.id", primary_key=True, max_length=63)


class Schedule(SQLModel, table=True):
    """When (a rule), where (a target) and what (a bulletin or a playlist) airs, at which priority."""

    id: int | None = Field(default=None, primary_key=True)
    bulletin_id: int | None = Field(default=None, foreign_key="bulletin.id", index=True)
    playlist_id: int | None = Field(default=None, foreign_key="playlist.id", index=True)
    target_kind: str = Field(default="zone", max_length=16, description="zone, device or group")
    target_zone_id: int | None = Field(default=None, foreign_key="zone.id", index=True)
    target_device_id: str | None = Field(default=None, foreign_key="device.id", max_length=63)
    target_group_id: int | None = Field(default=None, foreign_key="devicegroup.id")
    rule_json: str = Field(sa_column=Column(Text, nullable=False), description="playlists.rules.Rule")
    starts_at: datetime = Field(index=True, description="First instant the rule fires (UTC)")
    ends_at: datetime | None = Field(default=None, description="Last possible instant, None if open-ended")
    priority: str = Field(default="normal", max_length=16)
    volume: int = Field(default=100)
    status: str = Field(default="active", max_length=16)
    created_by: int = Field(foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)


class Emergency(SQLModel, table=True):
    """An emergency broadcast: one signed play_now command per target zone, maybe confirmed by two people."""

    id: int | None = Field(default=None, primary_key=True)
    bulletin_id: int = Field(foreign_key="bulletin.id")
    zone_ids_json: str = Field(sa_column=Column(Text, nullable=False))
    repeat: int = 1
    after: str = Field(default="skip", max_length=8)
    status: str = Field(
        default="pending", max_length=16, description="pending, sent, stopped, expired, cancelled"
    )
    created_by: int = Field(foreign_key="user.id")
    confirmed_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None
    stopped_at: datetime | None = None
    source: str | None = Field(default=None, max_length=300, description="e.g. CAP alert identifier")


class DeviceTimeline(SQLModel, table=True):
    """The last timeline signed and published for a box."""

    device_id: str = Field(foreign_key="device.id", primary_key=True, max_length=63)
    version: int
    content_sha256: str = Field(max_length=64, description="Hash of the items, to publish only changes")
    valid_until: datetime
    envelope: str = Field(sa_column=Column(Text, nullable=False))
    published_at: datetime = Field(default_factory=utcnow)


class Receipt(SQLModel, table=True):
    """A playback receipt as signed by the box; stored once per (device, seq)."""

    __table_args__ = (UniqueConstraint("device_id", "seq", name="uq_receipt_device_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    device_id: str = Field(foreign_key="device.id", index=True, max_length=63)
    seq: int
    event: str = Field(max_length=16)
    item_id: str | None = Field(default=None, max_length=128, index=True)
    schedule_id: int | None = Field(default=None, index=True)
    timeline_version: int | None = None
    scheduled_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    media_sha256: str | None = Field(default=None, max_length=64)
    reason: str | None = Field(default=None, max_length=500)
    command_id: str | None = Field(default=None, max_length=128)
    seconds_aired: float | None = None
    recorded_at: datetime
    received_at: datetime = Field(default_factory=utcnow)
    envelope: str = Field(sa_column=Column(Text, nullable=False))
    chain_seq: int | None = Field(
        default=None, nullable=False, unique=True, index=True, description="Place in the receipt hash chain"
    )
    prev_hash: str | None = Field(default=None, nullable=False, max_length=64)
    hash: str | None = Field(
        default=None, nullable=False, max_length=64, description="See controller/audit_chain.py"
    )


class LexiconEntry(SQLModel, table=True):
    """The province's abbreviations and pronunciations, on top of the built-in lexicon."""

    __table_args__ = (UniqueConstraint("kind", "term", name="uq_lexicon_kind_term"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16, description="abbreviation or pronunciation")
    term: str = Field(max_length=100)
    spoken: str = Field(max_length=300)
    updated_by: int = Field(foreign_key="user.id")
    updated_at: datetime = Field(default_factory=utcnow)


class AuditEvent(SQLModel, table=True):
    """Who decided what, when; hash-chained (controller/audit_chain.py), written by audit_log.record."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor_id: int | None = Field(default=None, foreign_key="user.id")
    action: str = Field(max_length=64)
    object_type: str = Field(max_length=32)
    object_id: str = Field(max_length=64)
    detail: str | None = Field(default=None, sa_column=Column(Text))
    seq: int | None = Field(
        default=None, nullable=False, unique=True, index=True, description="1, 2, 3, … without gaps"
    )
    prev_hash: str | None = Field(default=None, nullable=False, max_length=64)
    hash: str | None = Field(
        default=None, nullable=False, max_length=64, description="See controller/audit_chain.py"
    )


class ChainHead(SQLModel, table=True):
    """The last entry of a hash chain ("audit" or "receipt"); appends update it first, which
    serialises them across threads and replicas."""

    name: str = Field(primary_key=True, max_length=16)
    seq: int = 0
    hash: str = Field(max_length=64)


class AuditCheckpoint(SQLModel, table=True):
    """A signed statement of both chains' heads (controller/checkpoints.py), one a day or more."""

    id: int | None = Field(default=None, primary_key=True)
    day: str = Field(index=True, max_length=10, description="The local date it was made (LOA_TIMEZONE)")
    at: datetime = Field(default_factory=utcnow)
    envelope: str = Field(sa_column=Column(Text, nullable=False), description="Signed JSON, as exported")


class EnrolmentCode(SQLModel, table=True):
    """A one-time code an installer types on a new box; only its hash is kept."""

    id: int | None = Field(default=None, primary_key=True)
    device_id: str = Field(foreign_key="device.id", index=True, max_length=63)
    code_hash: str = Field(max_length=64, unique=True)
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_at: datetime | None = None


class DeviceHealth(SQLModel, table=True):
    """A box's health over time: every snapshot for a day, then one per hour (see controller/health.py)."""

    id: int | None = Field(default=None, primary_key=True)
    device_id: str = Field(foreign_key="device.id", index=True, max_length=63)
    at: datetime = Field(index=True)
    online: bool = True
    hourly: bool = Field(default=False, description="True once downsampled to one row per hour")
    disk_free_mb: int | None = None
    cache_mb: float | None = None
    cpu_temp_c: float | None = None
    clock_offset_ms: float | None = None
    outbox_pending: int | None = None
    link_quality: int | None = None
    volume: int | None = None


class DeviceCommand(SQLModel, table=True):
    """A remote command sent to one box from the panel or the API, and what became of it."""

    id: str = Field(primary_key=True, max_length=128)
    device_id: str = Field(foreign_key="device.id", index=True, max_length=63)
    name: str = Field(max_length=32)
    args_json: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    issued_by: int | None = Field(default=None, foreign_key="user.id")
    issued_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    state: str = Field(default="sent", max_length=16, description="sent, done or failed (expired is derived)")
    reason: str | None = Field(default=None, max_length=500)
    done_at: datetime | None = None
