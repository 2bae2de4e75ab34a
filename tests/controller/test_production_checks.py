"""Production refuses MQTT without TLS where passwords would cross the network."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.app import UnsafeSettings, check_production
from controller.settings import Settings


def production(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": tmp_path,
        "environment": "production",
        "mqtt_username": "loa_controller",
        "mqtt_password": "a-long-random-secret",
        "secure_cookies": True,
        "mqtt_public_tls": True,
    }
    return Settings(**{**values, **overrides})  # type: ignore[arg-type]


def test_broker_on_the_loopback_may_be_plain_and_boxes_use_tls(tmp_path: Path) -> None:
    check_production(production(tmp_path))


def test_boxes_told_to_connect_without_tls_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UnsafeSettings, match="LOA_MQTT_PUBLIC_TLS"):
        check_production(production(tmp_path, mqtt_public_tls=False))


def test_a_remote_broker_without_tls_is_refused_and_with_tls_accepted(tmp_path: Path) -> None:
    with pytest.raises(UnsafeSettings, match="LOA_MQTT_TLS"):
        check_production(production(tmp_path, mqtt_host="mqtt.loa.example.vn"))
    check_production(production(tmp_path, mqtt_host="mqtt.loa.example.vn", mqtt_tls=True))
