"""Fixtures for the box agent: a signing controller, real audio clips made by ffmpeg, a real HTTP
media server, a real Mosquitto broker, an MQTT probe that plays the controller's side of the wire,
and agents run for real (in a thread through ``run()``, or as a process)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import re
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import paho.mqtt.client as mqtt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.subscribeoptions import SubscribeOptions

# Like tests/audio/conftest.py: make the repository importable even when the project is not installed.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from edge_agent.config import AgentConfig, write_config  # noqa: E402
from edge_agent.identity import load_or_create_device_key  # noqa: E402
from edge_agent.main import run  # noqa: E402
from edge_agent.outbox import Outbox  # noqa: E402
from edge_agent.testing import FakeClock  # noqa: E402
from edge_agent.trust import Trust  # noqa: E402
from loa.mosquitto import Mosquitto  # noqa: E402
from playlists.signing import key_id, public_key_b64, sign, verify  # noqa: E402
from playlists.wire import (  # noqa: E402
    Ack,
    Command,
    MediaRef,
    Receipt,
    Status,
    Timeline,
    TimelineItem,
    Topics,
    decode_json,
)

DEVICE_ID = "box-1"
MEDIA_TOKEN = "media-token-for-tests"
TOPICS = Topics()
ROOT = Path(_ROOT)
T = TypeVar("T")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def eventually(probe: Callable[[], T | None], timeout_s: float = 10.0, what: str = "condition") -> T:
    """Poll ``probe`` until it returns something truthy, or fail at the deadline."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what} not met within {timeout_s}s")


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
        priority: str = "normal",
        volume: int = 100,
        stream_url: str | None = None,
    ) -> TimelineItem:
        duration = duration_ms if duration_ms is not None else (media.duration_ms if media else 300)
        return TimelineItem(
            id=item_id,
            start_ms=start_ms,
            duration_ms=duration,
            kind=kind,
            media=media,
            priority=priority,
            volume=volume,
            stream_url=stream_url,
        )

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

    def command(
        self,
        *,
        now_ms: int,
        name: str = "test_tone",
        args: dict[str, Any] | None = None,
        target: str | None = None,
        expires_in_ms: int = 60_000,
    ) -> Command:
        return Command(
            id=f"cmd-{uuid.uuid4().hex[:8]}",
            target=target or self.device_id,
            issued_at_ms=now_ms,
            expires_at_ms=now_ms + expires_in_ms,
            name=name,
            args=args or {},
        )


@pytest.fixture
def controller() -> Controller:
    return Controller(key=Ed25519PrivateKey.generate())


@pytest.fixture
def trust(controller: Controller) -> Trust:
    return Trust(device_id=DEVICE_ID, controller_key=controller.key.public_key(), zones=("v-demo-1",))


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


# --- real audio -------------------------------------------------------------------------------------


class AudioMaker:
    """Short tones encoded by ffmpeg (MP3 or Opus in Ogg); each frequency gives other bytes."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._made: dict[tuple[int, str, int], bytes] = {}

    def __call__(self, duration_ms: int = 300, *, fmt: str = "mp3", frequency: int = 440) -> bytes:
        key = (duration_ms, fmt, frequency)
        if key not in self._made:
            out = self.folder / f"tone-{duration_ms}-{frequency}.{'ogg' if fmt == 'opus' else 'mp3'}"
            codec = (
                ["-c:a", "libopus", "-b:a", "32k"] if fmt == "opus" else ["-c:a", "libmp3lame", "-b:a", "64k"]
            )
            source = f"sine=frequency={frequency}:sample_rate=48000:duration={duration_ms / 1000}"
            subprocess.run(
                [
                    "ffmpeg",
                    "-nostdin",
                    "-loglevel",
                    "error",
                    "-y",
                    "-f",
                    "lavfi",
                    "-i",
                    source,
                    "-ac",
                    "1",
                    *codec,
                    str(out),
                ],
                check=True,
            )
            self._made[key] = out.read_bytes()
        return self._made[key]


@pytest.fixture(scope="session")
def audio(tmp_path_factory: pytest.TempPathFactory) -> AudioMaker:
    return AudioMaker(tmp_path_factory.mktemp("audio"))


# --- media over real HTTP ---------------------------------------------------------------------------


@dataclass
class MediaServer:
    """A real HTTP server for ``/media/<sha256>`` (bearer token, Range requests, ways to misbehave)
    and for ``/stream/<name>`` (no token: an outside radio stream)."""

    token: str = MEDIA_TOKEN
    files: dict[str, bytes] = field(default_factory=dict)
    streams: dict[str, bytes] = field(default_factory=dict)
    honour_range: bool = True
    cut_after: int | None = None  # send only this many body bytes, then drop the connection
    stream_cut_after: int | None = None  # the same for the first request of a stream
    trickle_bytes_per_s: int | None = None  # send slowly (to kill a box mid-download)
    requests: list[dict[str, str]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    url: str = ""

    def add(
        self, data: bytes, *, duration_ms: int = 300, served: bytes | None = None, mime: str = "audio/mpeg"
    ) -> MediaRef:
        """Publish ``data`` under its sha256; with ``served`` the server answers other bytes."""
        sha = hashlib.sha256(data).hexdigest()
        self.files[f"/media/{sha}"] = served if served is not None else data
        return MediaRef(sha256=sha, url=f"/media/{sha}", bytes=len(data), duration_ms=duration_ms, mime=mime)

    def add_stream(self, name: str, data: bytes) -> str:
        self.streams[f"/stream/{name}"] = data
        return f"{self.url}/stream/{name}"


def _handler_for(media: MediaServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            media.requests.append({"path": self.path, **dict(self.headers.items())})
            if self.path in media.streams:
                return self._stream(media.streams[self.path])
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
            self._send(chunk, media.cut_after)

        def _stream(self, data: bytes) -> None:
            cut, media.stream_cut_after = media.stream_cut_after, None
            self.send_response(200)
            self.send_header("Content-Type", "audio/mpeg")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self._send(data, cut)

        def _send(self, chunk: bytes, cut: int | None) -> None:
            self.close_connection = True
            if cut is not None:
                chunk = chunk[:cut]
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the agent was killed mid-fetch
                if media.trickle_bytes_per_s:
                    step = max(1, media.trickle_bytes_per_s // 20)
                    for offset in range(0, len(chunk), step):
                        self.wfile.write(chunk[offset : offset + step])
                        self.wfile.flush()
                        time.sleep(0.05)
                else:
                    self.wfile.write(chunk)
                    self.wfile.flush()

        def _status(self, code: int) -> None:
            media.statuses.append(code)
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Keep the test output free of access logs."""

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


# --- a real broker and the controller's end of MQTT -------------------------------------------------


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    with Mosquitto(tmp_path / "broker") as running:
        yield running


class Probe:
    """A paho client on the controller's side: records what it receives, publishes what tests say."""

    def __init__(self, port: int, topics: list[str]) -> None:
        self.received: queue.Queue[tuple[str, bytes, bool, int]] = queue.Queue()
        self.seen: list[tuple[str, bytes, bool, int]] = []
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
            (msg.topic, bytes(msg.payload), bool(msg.retain), now_ms())
        )
        self._client.connect("127.0.0.1", port)
        self._client.loop_start()
        assert self._subscribed.wait(5), "probe could not subscribe"

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> int:
        """Publish and wait for the broker's ack; returns the instant (ms) the publish began."""
        began = now_ms()
        self._client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)
        return began

    def wait_for(self, predicate: Callable[[str, bytes], bool], timeout_s: float = 10.0) -> tuple[str, bytes]:
        """The first message (seen before or arriving before the deadline) that satisfies ``predicate``."""
        for topic, payload, _retain, _at in self.seen:
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
        raise AssertionError(f"no matching message within {timeout_s}s; seen {[m[0] for m in self.seen]}")

    def drain(self) -> list[tuple[str, bytes]]:
        while True:
            try:
                self.seen.append(self.received.get_nowait())
            except queue.Empty:
                return [(topic, payload) for topic, payload, _, _ in self.seen]

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


# --- agents run for real ----------------------------------------------------------------------------


@dataclass
class AgentBox:
    """What a test sees of a box: its config, its sink folder, its outbox, its signed receipts."""

    config: AgentConfig
    config_path: Path

    def played(self) -> list[dict[str, Any]]:
        log = self.config.file_sink_dir / "played.jsonl"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    def outbox_pending(self) -> int:
        db = sqlite3.connect(self.config.data_dir / "outbox.db")
        try:
            (count,) = db.execute("SELECT COUNT(*) FROM receipts").fetchone()
        finally:
            db.close()
        return int(count)

    def receipt(self, raw: bytes) -> Receipt:
        key = load_or_create_device_key(self.config.data_dir).public_key()
        return verify(raw, Receipt, {self.config.device_id: key})[0]

    def receipts(self, probe: Probe) -> list[Receipt]:
        """Every receipt the probe saw for this box, verified, in arrival order."""
        return [self.receipt(p) for t, p in probe.drain() if t == TOPICS.report(self.config.device_id)]


@dataclass
class RunningAgent(AgentBox):
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread = field(default_factory=threading.Thread)
    exit_codes: list[int] = field(default_factory=list)

    def shutdown(self) -> int:
        self.stop.set()
        self.thread.join(15)
        assert not self.thread.is_alive(), "agent did not stop"
        return self.exit_codes[0]


def agent_config(
    tmp_path: Path, *, broker_port: int, media_url: str, controller: Controller, **extra: Any
) -> AgentConfig:
    values: dict[str, Any] = {
        "device_id": DEVICE_ID,
        "controller_url": media_url,
        "media_token": MEDIA_TOKEN,
        "controller_public_key": public_key_b64(controller.key.public_key()),
        "mqtt_port": broker_port,
        "data_dir": tmp_path / "box",
        "sink": "file",
        "reconnect_jitter_s": 0,
    }
    return AgentConfig(**(values | extra))


@pytest.fixture
def start_agent(tmp_path, broker, media_server, controller) -> Iterator[Callable[..., RunningAgent]]:
    """Run ``edge_agent.main.run`` in a thread (the whole agent, in this process)."""
    agents: list[RunningAgent] = []

    def start(*, port: int | None = None, **extra: Any) -> RunningAgent:
        config = agent_config(
            tmp_path,
            broker_port=port or broker.port,
            media_url=media_server.url,
            controller=controller,
            **extra,
        )
        path = tmp_path / "agent.toml"
        write_config(path, config)
        agent = RunningAgent(config=config, config_path=path)
        agent.thread = threading.Thread(
            target=lambda: agent.exit_codes.append(run(path, stop_event=agent.stop)), name="agent-under-test"
        )
        agent.thread.start()
        agents.append(agent)
        return agent

    yield start
    for agent in agents:
        agent.stop.set()
        agent.thread.join(15)


@dataclass
class AgentProcess(AgentBox):
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path is not None and self.log_path.exists() else ""


@pytest.fixture
def spawn_agent(tmp_path, broker, media_server, controller) -> Iterator[Callable[..., AgentProcess]]:
    """Run the agent as its own process (``python -m edge_agent``), to kill it or to signal it."""
    processes: list[AgentProcess] = []

    def spawn(*, env: dict[str, str] | None = None, **extra: Any) -> AgentProcess:
        config = agent_config(
            tmp_path, broker_port=broker.port, media_url=media_server.url, controller=controller, **extra
        )
        path = tmp_path / "agent.toml"
        write_config(path, config)
        log_path = tmp_path / f"agent-{len(processes)}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "edge_agent", "--config", str(path)],
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
            )
        agent = AgentProcess(config=config, config_path=path, process=process, log_path=log_path)
        processes.append(agent)
        return agent

    yield spawn
    for agent in processes:
        if agent.process is not None and agent.process.poll() is None:
            agent.process.kill()
            agent.process.wait(10)


def is_status(state: str, device_id: str = DEVICE_ID, **fields: Any) -> Callable[[str, bytes], bool]:
    def match(topic: str, payload: bytes) -> bool:
        if topic != TOPICS.status(device_id) or not payload:
            return False
        status = decode_json(Status, payload)
        return status.state == state and all(getattr(status, k) == v for k, v in fields.items())

    return match


def is_receipt(
    box: AgentBox, event: str, item_id: str | None = None, **fields: Any
) -> Callable[[str, bytes], bool]:
    def match(topic: str, payload: bytes) -> bool:
        if topic != TOPICS.report(box.config.device_id):
            return False
        receipt = box.receipt(payload)  # raises if the signature does not verify
        return (
            receipt.event == event
            and (item_id is None or receipt.item_id == item_id)
            and all(getattr(receipt, k) == v for k, v in fields.items())
        )

    return match
