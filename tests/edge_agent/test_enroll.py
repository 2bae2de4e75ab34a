"""Enrolment against a tiny local controller that speaks the contract of ``edge_agent.enroll``."""

from __future__ import annotations

import base64
import json
import re
import socket
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge_agent.config import load_config, write_config
from edge_agent.enroll import EnrollError, enroll
from loa.mosquitto import free_port
from playlists.signing import load_or_create_private_key, public_key_b64

CONTROLLER_KEY = public_key_b64(Ed25519PrivateKey.generate().public_key())
CODE = "ABCD-EFGH-JK"


def answer(**changes: Any) -> dict[str, Any]:
    good: dict[str, Any] = {
        "device_id": "loa-nd-01",
        "mqtt_host": "mqtt.loa.example",
        "mqtt_port": 8883,
        "mqtt_username": "loa-nd-01",
        "mqtt_password": "broker-secret",
        "media_token": "media-secret",
        "controller_public_key": CONTROLLER_KEY,
        "zones": ["p40", "w17329", "v-17329-3"],
        "mqtt_tls": True,
        "media_base_url": "https://loa.example",
        "something_new": "ignored",
    }
    good.update(changes)
    return {name: value for name, value in good.items() if value is not None}


@dataclass
class FakeController:
    """Answers every POST with ``status`` and ``body``; keeps what it was sent."""

    url: str
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    requests: list[tuple[str, dict[str, str], Any]] = field(default_factory=list)

    def answers(self, status: int, body: object, content_type: str = "application/json") -> None:
        self.status, self.content_type = status, content_type
        self.body = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()


@pytest.fixture
def controller() -> Iterator[FakeController]:
    fake = FakeController(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            fake.requests.append((self.path, dict(self.headers), json.loads(raw)))
            self.send_response(fake.status)
            self.send_header("Content-Type", fake.content_type)
            self.send_header("Content-Length", str(len(fake.body)))
            self.end_headers()
            self.wfile.write(fake.body)

        def log_message(self, format: str, *args: object) -> None:
            del format, args

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    fake.answers(200, answer())
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture
def paths(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "etc" / "agent.toml", tmp_path / "var" / "device_key.pem"


def test_enrol_sends_the_code_and_public_key_and_writes_a_config_the_agent_loads(
    controller: FakeController, paths: tuple[Path, Path]
) -> None:
    config_path, key_path = paths
    config = enroll(controller.url, CODE, config_path, key_path)

    [(path, headers, body)] = controller.requests
    assert path == "/api/v1/enroll"
    assert headers["Content-Type"] == "application/json"
    key = load_or_create_private_key(key_path)
    assert body == {"code": CODE, "public_key": public_key_b64(key.public_key())}
    assert len(base64.b64decode(body["public_key"])) == 32
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(config_path.stat().st_mode) == 0o600
    assert load_config(config_path) == config
    assert (config.device_id, config.mqtt_host, config.mqtt_port, config.mqtt_tls) == (
        "loa-nd-01",
        "mqtt.loa.example",
        8883,
        True,
    )
    assert (config.mqtt_username, config.mqtt_password, config.media_token) == (
        "loa-nd-01",
        "broker-secret",
        "media-secret",
    )
    assert config.controller_public_key == CONTROLLER_KEY
    assert config.zones == ("p40", "w17329", "v-17329-3")
    assert config.controller_url == "https://loa.example"
    assert config.data_dir == key_path.parent.resolve()
    assert config.sink == "alsa"
    assert sorted(p.name for p in config_path.parent.iterdir()) == ["agent.toml"]


def test_controller_under_a_path_and_optional_members_left_out(
    controller: FakeController, paths: tuple[Path, Path]
) -> None:
    controller.answers(200, answer(mqtt_tls=None, media_base_url=None, zones=[]))
    config = enroll(controller.url + "/loa/", CODE, *paths, sink="file")

    assert controller.requests[0][0] == "/loa/api/v1/enroll"
    assert (config.mqtt_tls, config.controller_url, config.zones) == (False, controller.url + "/loa/", ())
    assert (config.sink, config.topic_root) == ("file", "loa/v1")


def test_re_enrolment_keeps_the_box_key_and_its_local_settings(
    controller: FakeController, paths: tuple[Path, Path]
) -> None:
    config_path, key_path = paths
    first = enroll(controller.url, CODE, config_path, key_path)
    write_config(config_path, replace(first, alsa_device="hw:1,0", volume=70))
    controller.answers(200, answer(mqtt_password="new-secret", zones=["p40"]))

    second = enroll(controller.url, "WXYZ-2345-67", config_path, key_path, sink="file")

    assert controller.requests[0][2]["public_key"] == controller.requests[1][2]["public_key"]
    assert (second.mqtt_password, second.zones) == ("new-secret", ("p40",))
    assert (second.alsa_device, second.volume, second.sink) == ("hw:1,0", 70, "alsa")


@pytest.mark.parametrize(
    ("status", "detail", "expected"),
    [
        (404, "Mã kích hoạt không tồn tại", "the controller does not know this enrolment code: Mã kích hoạt"),
        (409, "Mã kích hoạt đã được dùng", "this enrolment code has already been used: Mã kích hoạt đã"),
        (
            410,
            "Mã kích hoạt đã hết hạn",
            "this enrolment code has expired; ask for a new one: Mã kích hoạt đã hết",
        ),
        (429, None, "too many enrolment attempts; wait a few minutes and try again"),
        (403, "Không có quyền", "the controller refused the enrolment (HTTP 403): Không có quyền"),
        (503, None, "the controller failed (HTTP 503); try again later"),
    ],
)
def test_refusals_say_why_with_the_controller_message(
    controller: FakeController, paths: tuple[Path, Path], status: int, detail: str | None, expected: str
) -> None:
    problem = {"type": "about:blank", "title": "Lỗi", "status": status, "detail": detail}
    controller.answers(status, problem if detail else b"<html>busy</html>", "application/problem+json")

    with pytest.raises(EnrollError) as refused:
        enroll(controller.url, CODE, *paths)

    assert str(refused.value).startswith(expected)
    assert not paths[0].exists()


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"<html>proxy login</html>", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (answer(device_id=None), "'device_id' is missing"),
        (answer(mqtt_password=""), "'mqtt_password' is missing or not a non-empty string"),
        (answer(mqtt_port="1883"), "'mqtt_port' is missing or not an integer"),
        (answer(zones="w17329"), "'zones' is missing or not a list of strings"),
        (answer(mqtt_tls="yes"), "'mqtt_tls' is not true or false"),
        (answer(device_id="Loa 1"), "key 'device_id' must be lowercase letters, digits and dashes"),
        (answer(controller_public_key="bm90IGEga2V5"), "key 'controller_public_key'"),
        (answer(zones=["w1/#"]), "key 'zones'"),
        (answer(mqtt_port=70000), "key 'mqtt_port' must be between 1 and 65535"),
        (answer(media_base_url="ftp://x"), "key 'controller_url' must start with http:// or https://"),
    ],
)
def test_malformed_answers_are_refused_and_leave_the_old_config(
    controller: FakeController, paths: tuple[Path, Path], body: object, why: str
) -> None:
    config_path, key_path = paths
    enroll(controller.url, CODE, config_path, key_path)
    before = config_path.read_bytes()
    controller.answers(200, body)

    with pytest.raises(EnrollError, match=r"^the controller's answer is malformed: ") as refused:
        enroll(controller.url, CODE, config_path, key_path)

    assert why in str(refused.value)
    assert config_path.read_bytes() == before
    assert sorted(p.name for p in config_path.parent.iterdir()) == ["agent.toml"]


def test_unreachable_controller(paths: tuple[Path, Path]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(
        EnrollError, match="^" + re.escape(f"cannot reach the controller at {url}/api/v1/enroll: ")
    ):
        enroll(url, CODE, *paths)


def test_silent_controller_times_out(paths: tuple[Path, Path]) -> None:
    with socket.socket() as listener:  # accepts the connection, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        with pytest.raises(EnrollError, match=r"^cannot reach the controller .*timed out"):
            enroll(url, CODE, *paths, timeout_s=0.3)


@pytest.mark.parametrize(
    ("url", "code", "key_name", "message"),
    [
        ("loa.example", CODE, "device_key.pem", "must start with http:// or https://"),
        ("http://127.0.0.1:9", "  ", "device_key.pem", "the enrolment code is empty"),
        ("http://127.0.0.1:9", CODE, "box.pem", "the device key must be named device_key.pem"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_sent(
    tmp_path: Path, url: str, code: str, key_name: str, message: str
) -> None:
    with pytest.raises(EnrollError, match=message):
        enroll(url, code, tmp_path / "agent.toml", tmp_path / key_name)
    assert list(tmp_path.iterdir()) == []


def test_corrupt_device_key_is_reported(tmp_path: Path) -> None:
    key_path = tmp_path / "device_key.pem"
    key_path.write_text("not a key")
    with pytest.raises(EnrollError, match=r"^cannot use the device key"):
        enroll("http://127.0.0.1:9", CODE, tmp_path / "agent.toml", key_path)
