"""The box's side of provisioning: trade a one-time enrolment code for the box's configuration.

The box makes its own Ed25519 key (it never leaves the box), sends the public half with the code
the technician typed, and writes what the controller answers as the agent's TOML config, mode
0600, whole or absent. urllib only: the agent stays light.

Contract (``POST {controller_url}/api/v1/enroll``, JSON both ways):

- request: ``{"code": "ABCD-EFGH-JK", "public_key": "<base64 of the raw 32-byte Ed25519 key>"}``;
  the code as typed (the controller ignores case, spaces and dashes);
- 200 or 201: ``{"device_id", "mqtt_host", "mqtt_port", "mqtt_username", "mqtt_password",
  "media_token", "controller_public_key", "zones": [...], "mqtt_tls": bool, "media_base_url"}``;
  ``device_id``, ``mqtt_*`` credentials, ``media_token`` and ``controller_public_key`` (base64
  raw Ed25519) are required strings, ``mqtt_port`` an integer, ``zones`` a list of zone codes;
  ``mqtt_tls`` (default false), ``media_base_url`` (the controller's public URL, which media URLs
  are resolved against; default: the URL enrolled with) and ``topic_root`` (default ``loa/v1``)
  may be left out. Unknown members are ignored;
- refusals are problem documents (``application/problem+json``, ``detail`` in Vietnamese): 404
  unknown code, 409 code already used, 410 code expired, 422 malformed request, 429 too many
  attempts. The box shows the controller's ``detail`` after its own English sentence.

The code is the only secret the box has before enrolment, and the answer carries its credentials
and the key it will trust: enrol over HTTPS outside a lab.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from edge_agent.config import AgentConfig, ConfigError, load_config, write_config
from edge_agent.identity import DEVICE_KEY_FILE
from playlists.files import fsync_dir
from playlists.signing import load_or_create_private_key, public_key_b64

__all__ = ["ENROLL_PATH", "EnrollError", "enroll"]

log = logging.getLogger(__name__)

ENROLL_PATH = "api/v1/enroll"
MAX_ANSWER_BYTES = 64 * 1024
_REFUSALS = {
    404: "the controller does not know this enrolment code",
    409: "this enrolment code has already been used",
    410: "this enrolment code has expired; ask for a new one",
    422: "the controller refused the request as malformed",
    429: "too many enrolment attempts; wait a few minutes and try again",
}
_REQUIRED_TEXT = (
    "device_id",
    "mqtt_host",
    "mqtt_username",
    "mqtt_password",
    "media_token",
    "controller_public_key",
)
# Settings of this box's hardware and disk, kept from an existing config when a box is re-enrolled.
_LOCAL = (
    "mqtt_ca_file",
    "reconnect_jitter_s",
    "media_quota_mb",
    "sink",
    "sink_dir",
    "alsa_device",
    "alsa_mixer_control",
    "volume",
    "ntp_server",
)


class EnrollError(RuntimeError):
    """Enrolment failed; the message is one English sentence a technician can act on."""


def enroll(
    controller_url: str,
    code: str,
    config_path: Path,
    key_path: Path,
    *,
    sink: str = "alsa",
    timeout_s: float = 20.0,
) -> AgentConfig:
    """Enrol this box with the controller and write its config; returns the config as loaded back.

    ``key_path`` must be ``<data_dir>/device_key.pem``, where the agent looks for its key; it is
    made if missing and kept otherwise. ``sink`` is used for a new config; re-enrolling keeps the
    local settings (sink, ALSA device, volume, quota …) of a config that already loads.
    """
    if not controller_url.startswith(("http://", "https://")):
        raise EnrollError(f"controller URL {controller_url!r} must start with http:// or https://")
    if not code.strip():
        raise EnrollError("the enrolment code is empty")
    if key_path.name != DEVICE_KEY_FILE:
        raise EnrollError(f"the device key must be named {DEVICE_KEY_FILE} (the agent reads it from there)")
    if controller_url.startswith("http://"):
        log.warning("enrolling over plain HTTP: credentials travel unencrypted")
    data_dir = key_path.parent.resolve()
    try:
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = load_or_create_private_key(key_path)
    except (OSError, ValueError) as exc:
        raise EnrollError(f"cannot use the device key {key_path}: {exc}") from None
    answer = _post(
        controller_url, {"code": code.strip(), "public_key": public_key_b64(key.public_key())}, timeout_s
    )
    config = _config_from(answer, controller_url, data_dir, _local_settings(config_path, sink))
    written = _write_checked(config_path, config)
    log.info("enrolled as %s; config written to %s", written.device_id, config_path)
    return written


def _post(controller_url: str, body: dict[str, str], timeout_s: float) -> dict[str, Any]:
    url = urllib.parse.urljoin(controller_url.rstrip("/") + "/", ENROLL_PATH)
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            raw = response.read(MAX_ANSWER_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise EnrollError(_refusal(exc)) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        raise EnrollError(f"cannot reach the controller at {url}: {reason}") from None
    if len(raw) > MAX_ANSWER_BYTES:
        raise _malformed("larger than 64 KiB")
    try:
        answer = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _malformed("not JSON") from None
    if not isinstance(answer, dict):
        raise _malformed("not a JSON object")
    return answer


def _refusal(exc: urllib.error.HTTPError) -> str:
    with exc:
        detail = _problem_detail(exc.read(MAX_ANSWER_BYTES))
    if exc.code in _REFUSALS:
        sentence = _REFUSALS[exc.code]
    elif exc.code >= 500:
        sentence = f"the controller failed (HTTP {exc.code}); try again later"
    else:
        sentence = f"the controller refused the enrolment (HTTP {exc.code})"
    return f"{sentence}: {detail}" if detail else sentence


def _problem_detail(raw: bytes) -> str | None:
    try:
        problem = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(problem, dict):
        return None
    for member in ("detail", "title"):
        text = problem.get(member)
        if isinstance(text, str) and text.strip():
            return " ".join(text.split())  # one line, whatever the controller sent
    return None


def _config_from(
    answer: dict[str, Any], controller_url: str, data_dir: Path, local: dict[str, Any]
) -> AgentConfig:
    for name in _REQUIRED_TEXT:
        if not isinstance(answer.get(name), str) or not answer[name]:
            raise _malformed(f"{name!r} is missing or not a non-empty string")
    port = answer.get("mqtt_port")
    if not isinstance(port, int) or isinstance(port, bool):
        raise _malformed("'mqtt_port' is missing or not an integer")
    zones = answer.get("zones")
    if not isinstance(zones, list) or not all(isinstance(zone, str) for zone in zones):
        raise _malformed("'zones' is missing or not a list of strings")
    tls = answer.get("mqtt_tls", False)
    if not isinstance(tls, bool):
        raise _malformed("'mqtt_tls' is not true or false")
    optional_text = {name: answer.get(name) for name in ("media_base_url", "topic_root")}
    for name, value in optional_text.items():
        if value is not None and (not isinstance(value, str) or not value):
            raise _malformed(f"{name!r} is not a non-empty string")
    if not tls:
        local.pop("mqtt_ca_file", None)
    return AgentConfig(
        device_id=answer["device_id"],
        controller_url=optional_text["media_base_url"] or controller_url,
        media_token=answer["media_token"],
        controller_public_key=answer["controller_public_key"],
        mqtt_host=answer["mqtt_host"],
        mqtt_port=port,
        mqtt_username=answer["mqtt_username"],
        mqtt_password=answer["mqtt_password"],
        mqtt_tls=tls,
        topic_root=optional_text["topic_root"] or "loa/v1",
        zones=tuple(zones),
        data_dir=data_dir,
        **local,
    )


def _local_settings(config_path: Path, sink: str) -> dict[str, Any]:
    if not config_path.exists():
        return {"sink": sink}
    try:
        existing = load_config(config_path)
    except ConfigError as exc:
        log.warning("existing config not kept (%s); writing a new one", exc)
        return {"sink": sink}
    return {name: getattr(existing, name) for name in _LOCAL}


def _write_checked(config_path: Path, config: AgentConfig) -> AgentConfig:
    """Write beside the target, load it back with the agent's own checks, then rename into place:
    a bad answer never replaces a working config."""
    staged = config_path.with_name(f".{config_path.name}.enrolling")
    try:
        write_config(staged, config)
        loaded = load_config(staged)
        os.replace(staged, config_path)
        fsync_dir(config_path.parent)
    except ConfigError as exc:
        raise _malformed(str(exc).removeprefix(f"{staged}: ")) from None
    except OSError as exc:
        raise EnrollError(f"cannot write the config {config_path}: {exc.strerror or exc}") from None
    finally:
        staged.unlink(missing_ok=True)
    return loaded


def _malformed(why: str) -> EnrollError:
    return EnrollError(f"the controller's answer is malformed: {why}")
