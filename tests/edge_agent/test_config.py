"""The agent's TOML config: round trip, clear errors naming the key, and a private device key."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge_agent.config import AgentConfig, ConfigError, load_config, write_config
from edge_agent.identity import load_or_create_device_key
from playlists.signing import public_key_b64

CONTROLLER_KEY = public_key_b64(Ed25519PrivateKey.generate().public_key())


def minimal(tmp_path: Path, **overrides: object) -> AgentConfig:
    values: dict[str, object] = {
        "device_id": "box-1",
        "controller_url": "http://controller.local:8000",
        "media_token": "tok",
        "controller_public_key": CONTROLLER_KEY,
        "data_dir": tmp_path / "data",
    }
    return AgentConfig(**(values | overrides))  # type: ignore[arg-type]


def test_written_config_loads_back_equal_and_is_private(tmp_path):
    config = minimal(
        tmp_path,
        mqtt_username="box-1",
        mqtt_password='p"a\\ss\tword',
        mqtt_tls=True,
        mqtt_port=8883,
        sink="alsa",
        sink_dir=tmp_path / "sink",
        volume=70,
        zones=("p40", "w17329", "v-demo-1"),
        mqtt_ca_file=tmp_path / "ca.pem",
        reconnect_jitter_s=0,
        media_quota_mb=512,
        alsa_device="hw:0,0",
        alsa_mixer_control="PCM",
        ntp_server="pool.ntp.org",
    )
    path = tmp_path / "agent.toml"

    write_config(path, config)

    assert load_config(path) == config
    assert path.stat().st_mode & 0o777 == 0o600


def test_none_values_are_omitted_and_defaults_apply(tmp_path):
    path = tmp_path / "agent.toml"
    write_config(path, minimal(tmp_path))

    text = path.read_text()
    config = load_config(path)

    assert "mqtt_username" not in text and "sink_dir" not in text
    assert (config.mqtt_host, config.mqtt_port, config.topic_root, config.sink) == (
        "127.0.0.1",
        1883,
        "loa/v1",
        "file",
    )
    assert config.file_sink_dir == tmp_path / "data" / "sink"
    assert (config.zones, config.media_quota_mb, config.reconnect_jitter_s, config.ntp_server) == (
        (),
        2048,
        10,
        None,
    )


def test_relative_data_dir_is_resolved_against_the_config_folder(tmp_path):
    folder = tmp_path / "etc"
    folder.mkdir()
    path = folder / "agent.toml"
    write_config(path, minimal(tmp_path, data_dir=Path("state")))

    assert load_config(path).data_dir == folder / "state"


@pytest.mark.parametrize(
    "key", ["device_id", "controller_url", "media_token", "controller_public_key", "data_dir"]
)
def test_missing_required_key_is_named_in_the_error(tmp_path, key):
    path = tmp_path / "agent.toml"
    write_config(path, minimal(tmp_path))
    path.write_text("\n".join(line for line in path.read_text().splitlines() if not line.startswith(key)))

    with pytest.raises(ConfigError, match=f"missing key '{key}'"):
        load_config(path)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("mqtt_port = '1883'", "'mqtt_port' must be an integer"),
        ("mqtt_port = 70000", "'mqtt_port' must be between"),
        ("mqtt_tls = 1", "'mqtt_tls' must be true or false"),
        ("volume = true", "'volume' must be an integer"),
        ("volume = 101", "'volume' must be between"),
        ("sink = 'speaker'", "'sink' must be one of"),
        ("zones = 'p40'", "'zones' must be a list of strings"),
        ("zones = ['p40/#']", "'zones': 'p40/#' is not a zone code"),
        ("media_quota_mb = 0", "'media_quota_mb' must be at least 1"),
        ("resend_interval_s = 0", "'resend_interval_s' must be at least 1"),
        ("receipt_window = 0", "'receipt_window' must be at least 1"),
        ("reconnect_jitter_s = -1", "'reconnect_jitter_s' must be between"),
        ("mqtt_ca_file = 'ca.pem'", "'mqtt_ca_file' needs mqtt_tls = true"),
        ("colour = 'red'", "unknown key 'colour'"),
    ],
)
def test_bad_value_is_named_in_the_error(tmp_path, line, message):
    path = tmp_path / "agent.toml"
    write_config(path, minimal(tmp_path))
    key = line.split(" =")[0]
    kept = [text for text in path.read_text().splitlines() if not text.startswith(f"{key} =")]
    path.write_text("\n".join([*kept, line]) + "\n")

    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_bad_controller_key_device_id_or_url_is_named(tmp_path):
    for field, value, message in [
        ("controller_public_key", "not-a-key", "'controller_public_key'"),
        ("device_id", "Box 1", "'device_id'"),
        ("controller_url", "ftp://x", "'controller_url'"),
    ]:
        path = tmp_path / "agent.toml"
        write_config(path, minimal(tmp_path, **{field: value}))
        with pytest.raises(ConfigError, match=message):
            load_config(path)


def test_missing_or_unparsable_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.toml")
    (tmp_path / "bad.toml").write_text("device_id = ")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(tmp_path / "bad.toml")


def test_device_key_is_made_once_private_and_reused(tmp_path):
    first = load_or_create_device_key(tmp_path / "data")
    second = load_or_create_device_key(tmp_path / "data")

    assert public_key_b64(first.public_key()) == public_key_b64(second.public_key())
    assert (tmp_path / "data" / "device_key.pem").stat().st_mode & 0o777 == 0o600
