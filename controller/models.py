"""Database tables (SQLModel). Every datetime is aware and stored in UTC (SQLModel's UTCDateTime)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from annotated_types import Ge, Le
from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """Now, aware, in UTC."""
    return datetime.now(UTC)


#: A row id as the API takes it: what an INTEGER primary key can hold on every database (32 bits on
#: PostgreSQL). Larger numbers name no row, and SQLite cannot even bind one past 64 bits.
RowId = Annotated[int, Ge(1), Le(2**31 - 1)]


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


class ApiToken(SQLModel, table=True):
    """A user's own access token for automation (``Authorization: Bearer loa_…``); only its sha256
    is kept (controller/api_tokens.py)."""

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    name: str = Field(max_length=100, description="What the token is for, as its owner named it")
    token_hash: str = Field(max_length=64, unique=True)
    hint: str = Field(max_length=16, description="The token's first characters, to recognise it by")
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime | None = Field(default=None, description="None: until revoked")
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class LoginThrottle(SQLModel, table=True):
    """Failed logins of one username or one client address, and the lock they earned
    (controller/login_limits.py)."""

    key: str = Field(primary_key=True, max_length=100, description="user:NAME or addr:ADDRESS")
    failures: int = 0
    first_failed_at: datetime = Field(default_factory=utcnow)
    locked_until: datetime | None = None


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
    language: str = Field(
        default="vi", max_length=16, description="Language spoken (controller/reconcile.py LANGUAGES)"
    )
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


# --- As-run reconciliation and reports (controller/asrun_fold.py, controller/reports.py) ---------------


class Occurrence(SQLModel, table=True):
    """One item a box was given to play (a timeline item, or an emergency it was sent), and how it ended.

    Written only by the as-run fold (controller/asrun_fold.py) from published timelines and receipts.
    """

    __table_args__ = (
        UniqueConstraint("device_id", "item_id", name="uq_occurrence_device_item"),
        Index("ix_occurrence_device_scheduled", "device_id", "scheduled_at"),
        Index("ix_occurrence_broadcast", "broadcast_key", "device_id"),
        Index("ix_occurrence_state_ends", "state", "ends_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    device_id: str = Field(foreign_key="device.id", max_length=63)
    item_id: str = Field(max_length=128)
    broadcast_key: str = Field(
        max_length=64, description="The broadcast it belongs to: s<schedule>-<start ms>, or e<emergency>"
    )
    source: str = Field(max_length=16, description="schedule or emergency")
    source_id: int
    broadcast_at: datetime = Field(description="When the broadcast starts (its first item)")
    scheduled_at: datetime
    ends_at: datetime = Field(description="Scheduled end; 'missing' after it plus the grace period")
    duration_ms: int
    kind: str = Field(max_length=16, description="audio, stream or silence")
    bulletin_id: int | None = None
    category: str = Field(max_length=32, description="The bulletin's, or relay, chime, silence, other")
    language: str = Field(max_length=16)
    zone_id: int = Field(description="The box's zone when the item was given to it")
    commune_id: int = Field(description="The commune of that zone (0: none)")
    state: str = Field(
        default="pending", max_length=16, description="pending, aired, partial, failed, skipped, missing"
    )
    seconds_aired: float = 0.0
    reason: str | None = Field(default=None, max_length=500)
    started_at: datetime | None = None
    ended_at: datetime | None = None
    final_seq: int = Field(default=0, description="The box's seq of the receipt that decided the state")
    receipt_id: int | None = Field(default=None, description="That receipt's row, to verify it")
    clock_offset_ms: float | None = Field(
        default=None, description="The box's last reported clock offset when that receipt was folded"
    )
    updated_at: datetime = Field(default_factory=utcnow)


class BroadcastTally(SQLModel, table=True):
    """Boxes per outcome of one broadcast in one commune (``commune_id`` 0: the whole province): the
    reconciliation, kept by the as-run fold."""

    __table_args__ = (
        Index("ix_broadcasttally_commune_at", "commune_id", "broadcast_at"),
        Index("ix_broadcasttally_commune_listed", "commune_id", "listed_at"),
    )

    broadcast_key: str = Field(primary_key=True, max_length=64)
    commune_id: int = Field(primary_key=True)
    source: str = Field(max_length=16)
    source_id: int
    broadcast_at: datetime
    category: str = Field(max_length=32)
    language: str = Field(max_length=16)
    pending: int = 0
    aired: int = 0
    partial: int = 0
    failed: int = 0
    skipped: int = 0
    missing: int = 0
    # When the export feed lists this summary (again): once it has settled, and after every later
    # change (a late receipt); written by the fold (controller/asrun_work.py), read by export_api.py.
    listed_at: datetime | None = None


class AirtimeRollup(SQLModel, table=True):
    """Content items by outcome and seconds aired, per box (grains d, w, m: day, ISO week, month), per
    commune (c, k, n) and for the province (p: day); local days (LOA_TIMEZONE). ``broadcasts``: in commune
    rows, the broadcasts that aired on at least one of the commune's boxes. Kept by the as-run fold; the
    reports read these, never the receipts."""

    __table_args__ = (Index("ix_airtimerollup_commune", "grain", "commune_id", "period"),)

    grain: str = Field(primary_key=True, max_length=1)
    period: date = Field(primary_key=True, description="The day, or the first day of the week or month")
    commune_id: int = Field(primary_key=True, description="0 in province rows")
    zone_id: int = Field(primary_key=True, description="0 in commune and province rows")
    device_id: str = Field(primary_key=True, max_length=63, description="'' in commune and province rows")
    category: str = Field(primary_key=True, max_length=32)
    language: str = Field(primary_key=True, max_length=16)
    aired: int = 0
    partial: int = 0
    failed: int = 0
    skipped: int = 0
    missing: int = 0
    seconds: float = 0.0
    broadcasts: int = 0


class ReasonRollup(SQLModel, table=True):
    """Why content items did not fully air, per commune and day (c) or month (n)."""

    grain: str = Field(primary_key=True, max_length=1)
    period: date = Field(primary_key=True)
    commune_id: int = Field(primary_key=True)
    state: str = Field(primary_key=True, max_length=16)
    reason: str = Field(primary_key=True, max_length=64, description="Reason code (before ':'), no_receipt")
    count: int = 0


class UptimeRollup(SQLModel, table=True):
    """Seconds a box was online, per day ('d') and month ('m'), from its status history."""

    grain: str = Field(primary_key=True, max_length=1)
    period: date = Field(primary_key=True)
    commune_id: int = Field(primary_key=True)
    zone_id: int = Field(primary_key=True)
    device_id: str = Field(primary_key=True, max_length=63)
    online_s: float = 0.0


class ClockRollup(SQLModel, table=True):
    """How far a box's clock was off, per day ('d') and month ('m'): the clock audit."""

    __table_args__ = (Index("ix_clockrollup_period", "grain", "period"),)

    grain: str = Field(primary_key=True, max_length=1)
    device_id: str = Field(primary_key=True, max_length=63)
    period: date = Field(primary_key=True)
    commune_id: int = Field(description="The box's commune when the first figure of the row came in")
    receipts: int = 0
    max_receipt_offset_ms: float = Field(
        default=0.0, description="Largest |clock offset| the box had reported when its receipts came in"
    )
    max_status_offset_ms: float = Field(default=0.0, description="Largest |clock offset| in its statuses")
    max_ahead_ms: float = Field(
        default=0.0, description="Largest lead of a receipt's recorded time over its arrival: clock ahead"
    )


class AsRunCursor(SQLModel, table=True):
    """How far the as-run fold has read: receipts by chain seq, health history by time."""

    name: str = Field(primary_key=True, max_length=32)
    position: int = 0
    at: datetime | None = None


class AsRunDevice(SQLModel, table=True):
    """Per box, for the as-run fold: the timeline version already turned into occurrences, and its
    presence (for uptime) and clock offset as last seen."""

    device_id: str = Field(foreign_key="device.id", primary_key=True, max_length=63)
    timeline_version: int = 0
    last_online_at: datetime | None = None
    credited_until: datetime | None = None
    clock_offset_ms: float | None = None


class AirtimeTarget(SQLModel, table=True):
    """A goal a province sets per commune, e.g. at least 60 minutes of legal dissemination a week."""

    id: int | None = Field(default=None, primary_key=True)
    zone_id: int = Field(foreign_key="zone.id", description="The province (every commune) or one commune")
    metric: str = Field(max_length=16, description="minutes (aired) or broadcasts (aired somewhere)")
    category: str | None = Field(default=None, max_length=32, description="None: any content")
    per: str = Field(default="week", max_length=8, description="week or month")
    amount: int
    is_active: bool = True
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)


# --- Bulletin versions and the public pages (controller/bulletin_versions.py, controller/public.py) ---


class BulletinVersion(SQLModel, table=True):
    """A bulletin's content as saved: one row when it is written and one at each later edit (text,
    how it is read, its recording), numbered 1, 2, 3, … per bulletin; its status changes are in the
    audit log."""

    __table_args__ = (UniqueConstraint("bulletin_id", "number", name="uq_bulletinversion_number"),)

    id: int | None = Field(default=None, primary_key=True)
    bulletin_id: int = Field(foreign_key="bulletin.id", index=True)
    number: int = Field(description="1 for the bulletin as first written, then one more per edit")
    title: str = Field(max_length=300)
    body: str = Field(sa_column=Column(Text, nullable=False))
    category: str = Field(max_length=32)
    language: str = Field(default="vi", max_length=16)
    source_ref: str | None = Field(default=None, max_length=300)
    engine: str = Field(max_length=32)
    voice: str | None = Field(default=None, max_length=100)
    accent: str = Field(max_length=16)
    speed: int
    recording_sha256: str | None = Field(default=None, max_length=64)
    text_sha256: str = Field(
        max_length=64,
        description="bulletins.text_sha256 of this content (the approved one has the bulletin's)",
    )
    author_id: int = Field(foreign_key="user.id", description="Who saved this version")
    created_at: datetime = Field(default_factory=utcnow)


# The public pages list a commune's aired bulletins from this index alone (controller/public.py:
# 65 ms a page, 16 ms the commune list, over a province's year of 2 million occurrences); a bulletin's
# history finds its audit events by the second.
_occurrence = Occurrence.__table__.c
Index(
    "ix_occurrence_public",
    _occurrence.commune_id,
    _occurrence.started_at,
    _occurrence.bulletin_id,
    _occurrence.state,
    _occurrence.source,
)
Index("ix_auditevent_object", AuditEvent.__table__.c.object_type, AuditEvent.__table__.c.object_id)


class ExportCursor(SQLModel, table=True):
    """How far the export push (controller/export_push.py) has delivered each feed: the cursor of the
    last page the receiver accepted."""

    kind: str = Field(primary_key=True, max_length=16)
    cursor: str = Field(sa_column=Column(Text, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow)


class ExportDelivery(SQLModel, table=True):
    """One page the export push tried to deliver: its feed, cursors, attempts and outcome."""

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: str = Field(
        max_length=64, index=True, description="Same for every retry of the same page (the receiver dedupes)"
    )
    kind: str = Field(max_length=16)
    cursor_from: str | None = Field(default=None, sa_column=Column(Text))
    cursor_to: str | None = Field(default=None, sa_column=Column(Text))
    records: int = 0
    attempts: int = 0
    status: str = Field(max_length=16, description="delivered or failed")
    http_status: int | None = None
    error: str | None = Field(default=None, max_length=500)
    started_at: datetime = Field(default_factory=utcnow, index=True)
    finished_at: datetime | None = None


class ZoneChime(SQLModel, table=True):
    """A sound file that opens or closes the bulletins of a commune (or of the whole province) instead
    of the configured chime; a commune without its own uses the province's (controller/chimes.py)."""

    zone_id: int = Field(foreign_key="zone.id", primary_key=True)
    which: str = Field(primary_key=True, max_length=8, description="opening or closing")
    sha256: str = Field(max_length=64, description="Of the file as uploaded, kept in the media store")
    name: str = Field(max_length=200, description="The uploaded file's name, for people")
    duration_ms: int
    uploaded_by: int = Field(foreign_key="user.id")
    uploaded_at: datetime = Field(default_factory=utcnow)


class MediaGrant(SQLModel, table=True):
    """A commune whose people may hear a stored audio file: its bulletins' speech and recordings
    (controller/media_grants.py). Media are shared by hash across communes; a commune's user gets
    only those granted to one of theirs, the province's every one."""

    sha256: str = Field(primary_key=True, max_length=64)
    commune_id: int = Field(foreign_key="zone.id", primary_key=True, index=True)
    granted_at: datetime = Field(default_factory=utcnow)
