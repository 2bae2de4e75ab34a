"""Fixtures for the box agent: a signing controller, a real HTTP media server, a real Mosquitto broker,
and an MQTT probe that plays the controller's side of the wire."""

from __future__ import annotations

import hashlib
import queue
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.subscribeoptions import SubscribeOptions

# Like tests/audio/conftest.py: make the repository importable even when the project is not installed.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from edge_agent.outbox import Outbox  # noqa: E402
from edge_agent.testing import FakeClock  # noqa: E402
from edge_agent.trust import Trust  # noqa: E402
from loa.mosquitto import Mosquitto  # noqa: E402
from playlists.signing import key_id, sign  # noqa: E402
from playlists.wire import Ack, Command, MediaRef, Timeline, TimelineItem  # noqa: E402

DEVICE_ID = "box-1"
MEDIA_TOKEN = "media-token-for-tests"


@dataclass
class Controller:
    """The controller's signing side, as far as a box sees it."""

    key: Ed25519PrivateKey
    device_id: str = DEVICE_ID

    @property
    def kid(self) -> str:
        return key_id(self.key.public_key())

    def item(
        self,
        item_id: str,
        start_ms: int,
        media: MediaRef | None = None,
        *,
        kind: str = "audio",
        duration_ms: int | None = None,
    ) -> TimelineItem:
        duration = duration_ms if duration_ms is not None else (media.duration_ms if media else 300)
        return TimelineItem(id=item_id, start_ms=start_ms, duration_ms=duration, kind=kind, media=media)

    def timeline(
        self,
        version: int,
        items: tuple[TimelineItem, ...] | list[TimelineItem] = (),
        *,
        now_ms: int,
        valid_for_ms: int = 3_600_000,
        device_id: str | None = None,
    ) -> Timeline:
        return Timeline(
            device_id=device_id or self.device_id,
            version=version,
            issued_at_ms=now_ms,
            valid_from_ms=now_ms - 60_000,
            valid_until_ms=now_ms + valid_for_ms,
            items=tuple(items),
        )

    def sign(self, document: Timeline | Command | Ack, *, key: Ed25519PrivateKey | None = None) -> bytes:
        signer = key or self.key
        return sign(document, signer, key_id(signer.public_key()))

    def ack(self, seq: int, *, device_id: str | None = None) -> bytes:
        return self.sign(Ack(device_id=device_id or self.device_id, seq=seq))

    def command(self, *, now_ms: int, target: str | None = None, expires_in_ms: int = 60_000) -> Command:
        return Command(
            id=f"cmd-{uuid.uuid4().hex[:8]}",
            target=target or self.device_id,
            issued_at_ms=now_ms,
            expires_at_ms=now_ms + expires_in_ms,
            name="test_tone",
        )


@pytest.fixture
def controller() -> Controller:
    return Controller(key=Ed25519PrivateKey.generate())


@pytest.fixture
def trust(controller: Controller) -> Trust:
    return Trust(device_id=DEVICE_ID, controller_key=controller.key.public_key())


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def device_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def outbox(tmp_path: Path, device_key: Ed25519PrivateKey, clock: FakeClock) -> Iterator[Outbox]:
    box = Outbox(tmp_path / "outbox.db", device_id=DEVICE_ID, private_key=device_key, clock=clock)
    yield box
    box.close()


# --- media over real HTTP -------------------------------------------------------------------------


@dataclass
class MediaServer:
    """A real HTTP server for ``/media/<sha256>``: bearer token, Range requests, and ways to misbehave."""

    token: str = MEDIA_TOKEN
    files: dict[str, bytes] = field(default_factory=dict)
    honour_range: bool = True
    cut_after: int | None = None  # send only this many body bytes, then drop the connection
    requests: list[dict[str, str]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    url: str = ""

    def add(self, data: bytes, *, duration_ms: int = 300, served: bytes | None = None) -> MediaRef:
        """Publish ``data`` under its sha256; with ``served`` the server answers other bytes."""
        sha = hashlib.sha256(data).hexdigest()
        self.files[f"/media/{sha}"] = served if served is not None else data
        return MediaRef(sha256=sha, url=f"/media/{sha}", bytes=len(data), duration_ms=duration_ms)


def _handler_for(media: MediaServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            media.requests.append({key: value for key, value in self.headers.items()})
            if self.headers.get("Authorization") != f"Bearer {media.token}":
                return self._status(401)
            body = media.files.get(self.path)
            if body is None:
                return self._status(404)
            start = 0
            match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
            if match and media.honour_range:
                start = int(match.group(1))
                if start >= len(body):
                    return self._status(416)
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                media.statuses.append(206)
            else:
                self.send_response(200)
                media.statuses.append(200)
            chunk = body[start:]
            self.send_header("Content-Length", str(len(chunk)))
            self.end_headers()
            if media.cut_after is not None:
                self.wfile.write(chunk[: media.cut_after])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(chunk)

        def _status(self, code: int) -> None:
            media.statuses.append(code)
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def media_server() -> Iterator[MediaServer]:
    media = MediaServer()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(media))
    server.daemon_threads = True
    media.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="media-server", daemon=True)
    thread.start()
    yield media
    server.shutdown()
    server.server_close()
    thread.join(5)


# --- a real broker and the controller's end of MQTT -----------------------------------------------


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    with Mosquitto(tmp_path / "broker") as running:
        yield running


class Probe:
    """A paho client on the controller's side: records what it receives, publishes what tests say."""

    def __init__(self, port: int, topics: list[str]) -> None:
        self.received: queue.Queue[tuple[str, bytes, bool]] = queue.Queue()
        self.seen: list[tuple[str, bytes, bool]] = []
        self._subscribed = threading.Event()
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"probe-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
        )
        self._client.on_connect = lambda client, *_: client.subscribe(
            [(topic, SubscribeOptions(qos=1)) for topic in topics]
        )
        self._client.on_subscribe = lambda *_: self._subscribed.set()
        self._client.on_message = lambda _c, _u, msg: self.received.put(
            (msg.topic, bytes(msg.payload), bool(msg.retain))
        )
        self._client.connect("127.0.0.1", port)
        self._client.loop_start()
        assert self._subscribed.wait(5), "probe could not subscribe"

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        self._client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def wait_for(self, predicate: Callable[[str, bytes], bool], timeout_s: float = 10.0) -> tuple[str, bytes]:
        """The first message (seen before or arriving before the deadline) that satisfies ``predicate``."""
        for topic, payload, _retain in self.seen:
            if predicate(topic, payload):
                return topic, payload
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                message = self.received.get(timeout=left)
            except queue.Empty:
                break
            self.seen.append(message)
            if predicate(message[0], message[1]):
                return message[0], message[1]
        raise AssertionError(f"no matching message within {timeout_s}s; seen {[t for t, _, _ in self.seen]}")

    def drain(self) -> list[tuple[str, bytes]]:
        while True:
            try:
                self.seen.append(self.received.get_nowait())
            except queue.Empty:
                return [(topic, payload) for topic, payload, _ in self.seen]

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


@pytest.fixture
def probe_factory(broker: Mosquitto) -> Iterator[Callable[..., Probe]]:
    probes: list[Probe] = []

    def make(topics: list[str], port: int | None = None) -> Probe:
        probe = Probe(port or broker.port, topics)
        probes.append(probe)
        return probe

    yield make
    for probe in probes:
        probe.close()
