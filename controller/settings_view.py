"""The settings an operator needs to see, grouped and worded for the panel's settings page (pure).

Only the fields listed here are shown, so a new setting (a password, a key) never appears by accident;
the database address is shown without its password and the map tile address without its query
(tile services put API keys there). Settings are read-only in the panel: they are frozen for the life of
a process and read from ``LOA_*`` variables, and replicas of the controller must agree on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy.engine import make_url

from controller.i18n import N_, gettext
from controller.settings import Settings

# (section title, [(field, unit)]); the label of each field is in LABELS.
SECTIONS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        N_("Emergency broadcasts"),
        (
            ("emergency_two_person", "bool"),
            ("emergency_confirm_minutes", "minutes"),
            ("emergency_command_ttl_seconds", "seconds"),
        ),
    ),
    (
        N_("Time and schedules"),
        (
            ("timezone", ""),
            ("timeline_horizon_hours", "hours"),
            ("compile_interval_seconds", "seconds"),
            ("asrun_grace_seconds", "seconds"),
            ("asrun_fold_seconds", "seconds"),
            ("clock_audit_threshold_ms", "ms"),
        ),
    ),
    (
        N_("Speaker boxes"),
        (
            ("status_interval_seconds", "seconds"),
            ("offline_alert_minutes", "minutes"),
            ("device_command_ttl_seconds", "seconds"),
            ("enrolment_code_hours", "hours"),
        ),
    ),
    (
        N_("MQTT broker"),
        (
            ("mqtt_host", ""),
            ("mqtt_port", ""),
            ("mqtt_tls", "bool"),
            ("mqtt_public_host", ""),
            ("mqtt_public_port", ""),
            ("mqtt_public_tls", "bool"),
            ("topic_root", ""),
        ),
    ),
    (
        N_("Retention"),
        (("health_full_hours", "hours"), ("health_keep_days", "days")),
    ),
    (
        N_("Logins"),
        (
            ("session_idle_minutes", "minutes"),
            ("session_max_hours", "hours"),
            ("login_max_failures", ""),
            ("login_max_failures_per_address", ""),
            ("login_lockout_minutes", "minutes"),
            ("secure_cookies", "bool"),
        ),
    ),
    (
        N_("Audio"),
        (
            ("tts_engine", ""),
            ("audio_codec", ""),
            ("target_lufs", "lufs"),
            ("chimes", "bool"),
            ("opening_chime", "chime"),
            ("closing_chime", "chime"),
            ("max_upload_mb", "mb"),
        ),
    ),
    (
        N_("Server"),
        (
            ("environment", ""),
            ("public_url", ""),
            ("database_url", "database"),
            ("data_dir", ""),
            ("map_tile_url", "tiles"),
        ),
    ),
)
LABELS = {
    "emergency_two_person": N_("Two-person confirmation of emergency broadcasts"),
    "emergency_confirm_minutes": N_("Time to confirm an emergency broadcast"),
    "emergency_command_ttl_seconds": N_("A box ignores an emergency order older than"),
    "timezone": N_("Time zone of the panel"),
    "timeline_horizon_hours": N_("Timelines cover the next"),
    "compile_interval_seconds": N_("Timelines are recompiled every"),
    "asrun_grace_seconds": N_("Grace before an airing without a receipt is missing"),
    "asrun_fold_seconds": N_("The as-run log is brought up to date every"),
    "clock_audit_threshold_ms": N_("Clock audit flags a box off by more than"),
    "status_interval_seconds": N_("Boxes send their status every"),
    "offline_alert_minutes": N_("Alert for a box offline longer than"),
    "device_command_ttl_seconds": N_("A remote command expires after"),
    "enrolment_code_hours": N_("An enrolment code is valid for"),
    "mqtt_host": N_("Broker host (controller)"),
    "mqtt_port": N_("Broker port (controller)"),
    "mqtt_tls": N_("Controller uses TLS to the broker"),
    "mqtt_public_host": N_("Broker host for the boxes"),
    "mqtt_public_port": N_("Broker port for the boxes"),
    "mqtt_public_tls": N_("Boxes use TLS to the broker"),
    "topic_root": N_("Root of the MQTT topics"),
    "health_full_hours": N_("Full health history kept for"),
    "health_keep_days": N_("Health history deleted after"),
    "session_idle_minutes": N_("A panel session ends after idle"),
    "session_max_hours": N_("A login ends in any case after"),
    "login_max_failures": N_("Failed logins that lock a username"),
    "login_max_failures_per_address": N_("Failed logins that lock an address"),
    "login_lockout_minutes": N_("A lock lasts"),
    "secure_cookies": N_("Secure cookies (panel served over TLS)"),
    "tts_engine": N_("Speech engine"),
    "audio_codec": N_("Codec of the broadcast files"),
    "target_lufs": N_("Loudness of every bulletin"),
    "chimes": N_("Chimes around bulletins"),
    "opening_chime": N_("Opening chime"),
    "closing_chime": N_("Closing chime"),
    "max_upload_mb": N_("Largest upload"),
    "environment": N_("Environment"),
    "public_url": N_("Address of the controller"),
    "database_url": N_("Database"),
    "data_dir": N_("Data folder"),
    "map_tile_url": N_("Map tiles"),
}
UNITS = {
    "seconds": N_("%(value)s seconds"),
    "minutes": N_("%(value)s minutes"),
    "hours": N_("%(value)s hours"),
    "days": N_("%(value)s days"),
    "ms": N_("%(value)s ms"),
    "mb": N_("%(value)s MB"),
    "lufs": N_("%(value)s LUFS"),
}


@dataclass(frozen=True)
class SettingRow:
    label: str  # in the reader's language
    variable: str  # the LOA_ variable that sets it
    value: str  # in the reader's language, never a secret


def sections(settings: Settings) -> list[tuple[str, list[SettingRow]]]:
    """The settings page's sections, in the reader's language."""
    values = {**settings.model_dump(), "database_url": settings.resolved_database_url}
    return [
        (
            gettext(title),
            [
                SettingRow(
                    gettext(LABELS[name]),
                    f"LOA_{name.upper()}",
                    show(values[name], unit),
                )
                for name, unit in rows
            ],
        )
        for title, rows in SECTIONS
    ]


def show(value: object, unit: str) -> str:
    """A setting's value for a reader: units, yes/no, and nothing secret."""
    if value is None or value == "":
        return gettext(N_("generated") if unit == "chime" else N_("not set"))
    if unit == "bool":
        return gettext(N_("yes") if value else N_("no"))
    if unit == "database":
        return make_url(str(value)).render_as_string(hide_password=True)
    if unit == "tiles":
        parts = urlsplit(str(value))
        return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    if unit == "chime" and isinstance(value, Path):
        return value.name
    if unit in UNITS:
        return gettext(UNITS[unit], value=value)
    return str(value)
