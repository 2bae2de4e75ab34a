"""The agent's settings: one flat TOML file written at provisioning (see docs/configuration.md)."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playlists.files import atomic_write_bytes
from playlists.signing import WireError, public_key_from_b64

SINKS = ("file", "alsa")
_DEVICE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_ZONE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")  # safe inside an MQTT topic level


class ConfigError(ValueError):
    """The config file is missing, unreadable or holds a bad value; the message names the key."""


@dataclass(frozen=True, kw_only=True)
class AgentConfig:
    """Everything one box needs to run.

    device_id: this box's id (lowercase letters, digits, dashes), also its MQTT client id.
    controller_url: base URL of the controller; relative media URLs are resolved against it.
    media_token: bearer token the box sends when it fetches media.
    controller_public_key: base64 raw Ed25519 public key pinned for timelines, commands and acks.
    mqtt_host, mqtt_port, mqtt_username, mqtt_password: how to reach the broker.
    mqtt_tls: connect with TLS; mqtt_ca_file: CA certificate(s) to verify the broker with (PEM;
        default: the system's trust store).
    reconnect_jitter_s: after losing the broker, wait a random 0…N seconds before the first attempt,
        so that a province of boxes does not reconnect at the same instant (0 turns it off).
    topic_root: root of the MQTT topic contract.
    zones: codes of the zones this box belongs to; it obeys commands published to each zone.
    data_dir: folder for the device key, state, media cache and outbox (relative to the config file).
    media_quota_mb: disk the media cache may use; media no longer in the timeline is evicted first.
    sink: "file" (writes the PCM it would play into sink_dir; demo and tests) or "alsa" (ffmpeg).
    sink_dir: folder of the file sink; default data_dir/sink.
    alsa_device: ALSA output device of the alsa sink.
    alsa_mixer_control: mixer control that carries the box volume when ``amixer`` is installed.
    volume: the box's volume in percent until a set_volume command changes it.
    ntp_server: host asked (SNTP) for the clock offset when chrony is not installed; none: no offset.
    update_confirm_s: a new agent release on trial is kept once connected to the broker this long.
    update_trial_s: a release on trial that has not been kept after this long exits (to be started
        again, and rolled back after three starts; see docs/agent.md, "Updates").
    resend_interval_s: the shortest wait before a receipt the controller has not acknowledged is
        sent again; the wait follows the measured time to the ack and doubles after each timeout,
        up to 30 s (edge_agent/sender.py).
    receipt_window: at most this many receipts are sent and not yet acknowledged at once; a backlog
        starts with 4 in flight, and each ack lets more go, up to this many.
    """

    device_id: str
    controller_url: str
    media_token: str
    controller_public_key: str
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883
    mqtt_username: str | None = None
    mqtt_password: str | None = None
    mqtt_tls: bool = False
    mqtt_ca_file: Path | None = None
    reconnect_jitter_s: int = 10
    topic_root: str = "loa/v1"
    zones: tuple[str, ...] = ()
    data_dir: Path
    media_quota_mb: int = 2048
    sink: str = "file"
    sink_dir: Path | None = None
    alsa_device: str = "default"
    alsa_mixer_control: str = "Master"
    volume: int = 100
    ntp_server: str | None = None
    update_confirm_s: int = 60
    update_trial_s: int = 600
    resend_interval_s: int = 10
    receipt_window: int = 50

    @property
    def file_sink_dir(self) -> Path:
        """Where the file sink writes."""
        return self.sink_dir if self.sink_dir is not None else self.data_dir / "sink"


_FIELDS = {field.name: field for field in dataclasses.fields(AgentConfig)}
_TYPES: dict[str, type] = {
    "device_id": str,
    "controller_url": str,
    "media_token": str,
    "controller_public_key": str,
    "mqtt_host": str,
    "mqtt_port": int,
    "mqtt_username": str,
    "mqtt_password": str,
    "mqtt_tls": bool,
    "mqtt_ca_file": Path,
    "reconnect_jitter_s": int,
    "topic_root": str,
    "zones": tuple,
    "data_dir": Path,
    "media_quota_mb": int,
    "sink": str,
    "sink_dir": Path,
    "alsa_device": str,
    "alsa_mixer_control": str,
    "volume": int,
    "ntp_server": str,
    "update_confirm_s": int,
    "update_trial_s": int,
    "resend_interval_s": int,
    "receipt_window": int,
}
_PATHS = ("data_dir", "sink_dir", "mqtt_ca_file")


def load_config(path: Path) -> AgentConfig:
    """Read and check a config file; raises ConfigError with a message naming the bad key."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror or exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    unknown = sorted(set(raw) - set(_FIELDS))
    if unknown:
        raise ConfigError(f"{path}: unknown key {unknown[0]!r}")
    values: dict[str, Any] = {}
    for name, expected in _TYPES.items():
        if name not in raw:
            if _FIELDS[name].default is dataclasses.MISSING:
                raise ConfigError(f"{path}: missing key {name!r}")
            continue
        values[name] = _coerce(path, name, raw[name], expected)
    for name in _PATHS:
        folder = values.get(name)
        if isinstance(folder, Path) and not folder.is_absolute():
            values[name] = (path.parent / folder).resolve()
    config = AgentConfig(**values)
    _check(path, config)
    return config


def _coerce(path: Path, name: str, value: Any, expected: type) -> Any:
    if expected is Path:
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{path}: key {name!r} must be a non-empty path string")
        return Path(value).expanduser()
    if expected is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{path}: key {name!r} must be a list of strings")
        return tuple(value)
    if expected is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(f"{path}: key {name!r} must be an integer")
    if expected is bool and not isinstance(value, bool):
        raise ConfigError(f"{path}: key {name!r} must be true or false")
    if expected is str and not isinstance(value, str):
        raise ConfigError(f"{path}: key {name!r} must be a string")
    return value


def _check(path: Path, config: AgentConfig) -> None:
    if not _DEVICE_ID.match(config.device_id):
        raise ConfigError(f"{path}: key 'device_id' must be lowercase letters, digits and dashes")
    if not config.controller_url.startswith(("http://", "https://")):
        raise ConfigError(f"{path}: key 'controller_url' must start with http:// or https://")
    try:
        public_key_from_b64(config.controller_public_key)
    except WireError as exc:
        raise ConfigError(f"{path}: key 'controller_public_key': {exc}") from exc
    if not 1 <= config.mqtt_port <= 65535:
        raise ConfigError(f"{path}: key 'mqtt_port' must be between 1 and 65535")
    if config.sink not in SINKS:
        raise ConfigError(f"{path}: key 'sink' must be one of {', '.join(SINKS)}")
    if not 0 <= config.volume <= 100:
        raise ConfigError(f"{path}: key 'volume' must be between 0 and 100")
    if not 0 <= config.reconnect_jitter_s <= 3600:
        raise ConfigError(f"{path}: key 'reconnect_jitter_s' must be between 0 and 3600")
    for name in ("media_quota_mb", "resend_interval_s", "receipt_window"):
        if getattr(config, name) < 1:
            raise ConfigError(f"{path}: key {name!r} must be at least 1")
    for zone in config.zones:
        if not _ZONE.match(zone):
            raise ConfigError(f"{path}: key 'zones': {zone!r} is not a zone code (letters, digits, - and _)")
    if config.mqtt_ca_file is not None and not config.mqtt_tls:
        raise ConfigError(f"{path}: key 'mqtt_ca_file' needs mqtt_tls = true")


def write_config(path: Path, config: AgentConfig) -> None:
    """Write ``config`` as flat TOML (None values omitted), atomically with mode 0600."""
    lines = ["# Loa box agent configuration (see docs/configuration.md)."]
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if value is not None:
            lines.append(f"{field.name} = {_toml_value(value)}")
    atomic_write_bytes(path, ("\n".join(lines) + "\n").encode(), mode=0o600)


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str | Path):
        return _toml_string(str(value))
    if isinstance(value, tuple):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _toml_string(text: str) -> str:
    escaped = []
    for char in text:
        if char in ('"', "\\"):
            escaped.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            escaped.append(f"\\u{ord(char):04x}")
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'
