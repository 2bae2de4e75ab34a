"""Controller settings, from ``LOA_*`` environment variables (see docs/configuration.md)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything an operator can set; unknown ``LOA_`` keys are rejected."""

    model_config = SettingsConfigDict(env_prefix="LOA_", extra="forbid", frozen=True)

    environment: Literal["demo", "development", "production"] = Field(
        default="development", description="'production' turns on the strict start-up checks"
    )
    data_dir: Path = Field(
        default=Path.home() / ".local" / "share" / "loa",
        description="Folder for the SQLite database, media store and keys (keep it outside the code)",
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: a SQLite file loa.db in data_dir"
    )
    signing_key_path: Path | None = Field(
        default=None,
        description="Ed25519 key that signs timelines and commands (PEM, 0600); made on first start; "
        "default: data_dir/keys/controller_ed25519.pem",
    )
    public_url: str = Field(
        default="http://127.0.0.1:8000", description="Base URL boxes use to fetch media from this controller"
    )
    host: str = Field(default="127.0.0.1", description="Address `loa serve` binds to")
    port: int = Field(default=8000, description="Port `loa serve` listens on")
    forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        description="Comma-separated addresses of reverse proxies whose X-Forwarded-For/-Proto headers "
        "`loa serve` trusts (the client's address and https); '*' trusts any (only behind a firewall)",
    )
    log_format: Literal["text", "json"] = Field(
        default="text", description="Log lines as text, or one JSON object per line (for log collectors)"
    )
    mqtt_host: str = Field(default="127.0.0.1", description="MQTT broker host")
    mqtt_port: int = Field(default=1883, description="MQTT broker port")
    mqtt_tls: bool = Field(
        default=False, description="Connect to the broker over TLS (the broker's certificate is verified)"
    )
    mqtt_ca_file: Path | None = Field(
        default=None,
        description="PEM file of the CA that signed the broker's certificate (needs mqtt_tls); "
        "default: the system's trust store",
    )
    mqtt_username: str | None = Field(default=None, description="Controller's MQTT username")
    mqtt_password: str | None = Field(default=None, description="Controller's MQTT password")
    broker_password_file: Path | None = Field(
        default=None,
        description="Mosquitto password file the controller writes from the registry (None: not managed)",
    )
    broker_acl_file: Path | None = Field(
        default=None, description="Mosquitto ACL file the controller writes from the registry"
    )
    broker_pid_file: Path | None = Field(
        default=None,
        description="Mosquitto's pid file; the controller sends it SIGHUP after writing the files "
        "(None: a systemd path unit reloads the broker, see systemd/)",
    )
    broker_files_group: str | None = Field(
        default=None,
        description="Group given read access to the broker files (mode 0640), e.g. mosquitto when the "
        "controller runs as another user than the broker; the controller's user must belong to it "
        "(None: mode 0600, readable by the controller's user only)",
    )
    enrolment_code_hours: int = Field(
        default=72, ge=1, le=24 * 30, description="How long a box's one-time enrolment code stays valid"
    )
    mqtt_public_host: str | None = Field(
        default=None, description="Broker host handed to boxes at enrolment (default: mqtt_host)"
    )
    mqtt_public_port: int | None = Field(
        default=None, description="Broker port handed to boxes at enrolment (default: mqtt_port)"
    )
    mqtt_public_tls: bool = Field(default=False, description="Whether boxes must use TLS to the broker")
    mqtt_controller_usernames: str = Field(
        default="",
        description="Comma-separated broker usernames of every controller replica (the same list on each; "
        "each replica's own LOA_MQTT_USERNAME among them); empty: one controller",
    )
    mqtt_client_id: str = Field(default="loa-controller", description="MQTT client id of this controller")
    topic_root: str = Field(default="loa/v1", description="Root of every MQTT topic")
    timeline_horizon_hours: int = Field(
        default=168, ge=1, description="How far ahead each box's timeline reaches (and stays valid)"
    )
    compile_interval_seconds: int = Field(
        default=300,
        ge=1,
        description="How often every timeline is recompiled and refreshed (changes also trigger it)",
    )
    leader_check_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How often a replica checks or tries the leader lock (only the leader runs jobs)",
    )
    tts_engine: str = Field(
        default="espeak-ng",
        description="Text-to-speech engine of bulletins where no commune or province default is set in "
        "the panel (Piper voices are chosen there: the .onnx files in data_dir/voices)",
    )
    tts_accent: Literal["north", "central", "south"] | None = Field(
        default=None,
        description="Accent of bulletins where no commune or province default is set in the panel; "
        "unset: the accent of the province's region (Nghệ An, North Central: central)",
    )
    tts_speed: int = Field(
        default=150,
        ge=80,
        le=300,
        description="Reading speed in words per minute where no commune or province default is set",
    )
    emergency_two_person: bool = Field(
        default=False, description="An emergency broadcast needs a second authorised person to confirm it"
    )
    emergency_confirm_minutes: int = Field(
        default=10, ge=1, description="How long a pending emergency broadcast waits for its second person"
    )
    emergency_command_ttl_seconds: int = Field(
        default=300, ge=10, description="A box that receives an emergency command later than this ignores it"
    )
    audio_codec: Literal["opus", "mp3"] = Field(
        default="opus",
        description="Codec of the files boxes play (Opus speech-tuned, or MP3 for old players)",
    )
    target_lufs: float = Field(
        default=-16.0, ge=-40, le=-5, description="Loudness every bulletin is brought to"
    )
    chimes: bool = Field(default=True, description="Play the opening and closing chimes around bulletins")
    opening_chime: Path | None = Field(
        default=None, description="Sound file played before every bulletin (default: a generated chime)"
    )
    closing_chime: Path | None = Field(
        default=None, description="Sound file played after every bulletin (default: a generated chime)"
    )
    max_upload_mb: int = Field(default=64, ge=1, le=1024, description="Largest recording a user may upload")
    secure_cookies: bool = Field(
        default=False, description="Mark cookies Secure and use the __Host- prefix (when served over TLS)"
    )
    session_idle_minutes: int = Field(
        default=60, ge=1, description="A panel session ends after this idle time"
    )
    session_max_hours: int = Field(
        default=12,
        ge=1,
        description="A login (panel session, or API login token from /api/v1/auth/token) ends this long "
        "after it began, however active; the idle limit applies to both too",
    )
    login_max_failures: int = Field(
        default=5,
        ge=1,
        description="Failed logins for one username within login_lockout_minutes that lock it for "
        "login_lockout_minutes (whether the username exists or not)",
    )
    login_max_failures_per_address: int = Field(
        default=20,
        ge=1,
        description="Failed logins from one client address within login_lockout_minutes that lock that "
        "address out for login_lockout_minutes (higher than per username: a commune office shares one "
        "address)",
    )
    login_lockout_minutes: int = Field(
        default=15, ge=1, description="How long a lock lasts, and the window in which failures count"
    )
    timezone: str = Field(default="Asia/Ho_Chi_Minh", description="Wall-clock zone shown in the panel")
    status_interval_seconds: int = Field(
        default=60,
        ge=5,
        description="How often boxes send their status (the agent's default); a box that says it is online "
        "but has sent nothing for 3 times this counts as offline",
    )
    offline_alert_minutes: int = Field(
        default=30, ge=1, description="A box offline for longer than this gets an alert in the panel"
    )
    health_sample_seconds: int = Field(
        default=50,
        ge=0,
        description="At most one health-history row per box per this many seconds (every change between "
        "online and offline is kept too); 0 keeps every status",
    )
    health_full_hours: int = Field(
        default=24,
        ge=1,
        description="Health history is kept in full this long, then as one row per box per hour",
    )
    health_keep_days: int = Field(default=30, ge=1, description="Health history older than this is deleted")
    asrun_grace_seconds: int = Field(
        default=1800,
        ge=0,
        description="An item with no final receipt this long after its scheduled end is reported missing "
        "(until a late receipt from a box that was offline says what happened)",
    )
    asrun_fold_seconds: int = Field(
        default=60,
        ge=5,
        description="How often the leader folds new timelines, receipts and statuses into the as-run log "
        "and the report rollups",
    )
    clock_audit_threshold_ms: int = Field(
        default=1000,
        ge=1,
        description="The clock audit flags a box whose clock was off by more than this in the period",
    )
    report_issuer: str = Field(
        default="",
        description="The body issuing the monthly PDF report, second line of its header (e.g. 'Sở Văn hóa, "
        "Thể thao và Du lịch'); empty: the provincial Department of Culture, Sports and Tourism",
    )
    report_font_dir: Path | None = Field(
        default=None,
        description="Folder holding the DejaVu TTF fonts of the PDF report; default: the system's font "
        "folders (Debian package fonts-dejavu-core)",
    )
    export_push_url: str = Field(
        default="",
        description="URL the leader POSTs new export records to (the provincial source information system); "
        "empty: no push",
    )
    export_push_seconds: int = Field(
        default=900,
        ge=10,
        description="How often the leader pushes new export records to LOA_EXPORT_PUSH_URL",
    )
    export_push_secret: str = Field(
        default="",
        description="Shared secret of the X-Loa-Signature header (HMAC-SHA256 of the body) on each push; "
        "required with LOA_EXPORT_PUSH_URL",
    )
    export_delivery_keep_days: int = Field(
        default=90, ge=1, description="Records of export deliveries older than this are deleted"
    )
    device_command_ttl_seconds: int = Field(
        default=300,
        ge=10,
        description="A remote command (volume, stop, test tone, resync, restart) the box has not confirmed "
        "within this time is shown as expired; the box ignores it after that",
    )
    map_tile_url: str = Field(
        default="",
        description="Leaflet tile URL template of the panel's map, e.g. https://tile.openstreetmap.org/{z}/{x}/{y}.png"
        " or a tile server of your own; empty: no background map (nothing is fetched from the internet)",
    )
    map_tile_attribution: str = Field(
        default="", description="Attribution shown on the map for those tiles (e.g. © OpenStreetMap)"
    )

    def model_post_init(self, _context: object) -> None:
        unknown = sorted(
            key
            for key in os.environ
            if key.startswith("LOA_") and key[4:].lower() not in type(self).model_fields
        )
        if unknown:
            raise ValueError(f"unknown setting(s) {', '.join(unknown)}; see docs/configuration.md")
        if self.mqtt_ca_file is not None and not self.mqtt_tls:
            raise ValueError("LOA_MQTT_CA_FILE needs LOA_MQTT_TLS=true")
        if self.export_push_url and len(self.export_push_secret) < 16:
            raise ValueError("LOA_EXPORT_PUSH_URL needs LOA_EXPORT_PUSH_SECRET (16 characters or more)")

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'loa.db'}"

    @property
    def resolved_signing_key_path(self) -> Path:
        return self.signing_key_path or self.data_dir / "keys" / "controller_ed25519.pem"

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"
