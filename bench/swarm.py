"""Simulated speaker boxes for bench/status_ingest.py: many MQTT connections in one process.

Each box is its own paho client (its own TCP connection, client id and will), so a box whose
connection dies makes the broker publish *its* will. All of a process's clients share one
``selectors`` loop (paho's external-loop API: ``loop_read``/``loop_write``/``loop_misc`` and the
``on_socket_*`` callbacks): no thread per box, no ``loop_start``.

    python bench/swarm.py boxes --port P --first 0 --count 1000 --seed S [--status-every-s 10 ...]
    python bench/swarm.py count --port P     # the baseline: a subscriber that only counts

The parent drives a process with one JSON object per line on stdin and reads one per line on
stdout (logs go to stderr):

* boxes: ``{"cmd": "mark"}`` → cumulative counts and the ack latencies since the last mark;
  ``{"cmd": "offline", "device": ID, "mode": "kill" | "clean"}`` → the instant the box went away
  (kill: its socket is closed without a DISCONNECT, so the broker publishes its will; clean: it
  publishes its retained offline status and disconnects, as ``loa agent`` does when stopped);
  ``{"cmd": "reset"}``: receipt numbers start again at 1 (for a controller that has seen none);
  ``{"cmd": "stop"}`` or end of input: exit.
* count: ``{"cmd": "mark"}`` → messages received so far.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import heapq
import json
import logging
import os
import random
import selectors
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import paho.mqtt.client as mqtt  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402
from paho.mqtt.packettypes import PacketTypes  # noqa: E402
from paho.mqtt.properties import Properties  # noqa: E402

from playlists.signing import sign  # noqa: E402
from playlists.wire import Receipt, Status, Topics, to_json  # noqa: E402

log = logging.getLogger("swarm")
TOPICS = Topics()
KEEPALIVE_S = 30  # as edge_agent/link.py
SESSION_EXPIRY_S = 7 * 24 * 3600  # as edge_agent/link.py: the broker keeps a box's session
MEDIA = hashlib.sha256(b"bench bulletin").hexdigest()


def device_ids(count: int) -> list[str]:
    return [f"bench-{n:05d}" for n in range(count)]


def device_key(device_id: str, seed: int) -> Ed25519PrivateKey:
    """Each box's key, derived from its id: the parent registers the public half, a child signs."""
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(f"{seed}:{device_id}".encode()).digest())


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


@dataclass
class Box:
    device_id: str
    key: Ed25519PrivateKey
    client: mqtt.Client
    state: str = "connecting"  # connecting, online, gone (taken offline), lost (dropped by the broker)
    seq: int = 0
    unacked: dict[int, float] = field(default_factory=dict)  # receipt seq -> wall time sent


class Swarm:
    """Every box of this process on one selector."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rng = random.Random(args.seed * 1000 + args.first)
        self.sel = selectors.DefaultSelector()
        self.writing: dict[int, bool] = {}
        self.started = time.monotonic()
        self.counts = {"statuses": 0, "receipts": 0, "acks": 0, "lost": 0, "publish_errors": 0}
        self.ack_latency_ms: list[float] = []
        ids = device_ids(args.first + args.count)[args.first :]
        self.boxes = {d: self._box(d) for d in ids}
        self.online: list[Box] = []
        self.due: list[tuple[float, str]] = []  # (monotonic instant, box) of each box's next status

    def _box(self, device_id: str) -> Box:
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id=device_id, protocol=mqtt.MQTTv5
        )
        offline = to_json(Status(device_id=device_id, state="offline"))
        client.will_set(TOPICS.status(device_id), offline, qos=1, retain=True)
        key = device_key(device_id, self.args.seed)
        box = Box(device_id, key, client)
        client.user_data_set(box)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_socket_open = lambda c, _u, sock: self._register(c, sock)
        client.on_socket_close = lambda _c, _u, sock: self._unregister(sock)
        client.on_socket_register_write = lambda _c, _u, sock: self._want_write(sock, True)
        client.on_socket_unregister_write = lambda _c, _u, sock: self._want_write(sock, False)
        return box

    # --- the selector ---------------------------------------------------------------------------

    def _register(self, client: mqtt.Client, sock: Any) -> None:
        self.sel.register(sock, selectors.EVENT_READ, client)
        self.writing[sock.fileno()] = False

    def _unregister(self, sock: Any) -> None:
        # The socket may be closed already (fileno -1) or never registered: nothing to undo then.
        with contextlib.suppress(KeyError, ValueError):
            self.writing.pop(sock.fileno(), None)
            self.sel.unregister(sock)

    def _want_write(self, sock: Any, want: bool) -> None:
        fd = sock.fileno()
        if fd < 0 or self.writing.get(fd) is None or self.writing[fd] == want:
            return
        self.writing[fd] = want
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if want else 0)
        self.sel.modify(sock, events, self.sel.get_key(sock).data)

    # --- paho callbacks -------------------------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, box: Box, _flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            log.error("broker refused %s: %s", box.device_id, reason)
            return
        box.state = "online"
        self.online.append(box)
        client.subscribe(TOPICS.ack(box.device_id), qos=1)
        self.publish_status(box)  # the agent reports at once, then every interval
        first = time.monotonic() + self.rng.uniform(0, self.args.status_every_s)
        heapq.heappush(self.due, (first, box.device_id))

    def _on_disconnect(self, _c: mqtt.Client, box: Box, _flags: Any, reason: Any, _props: Any) -> None:
        if box.state != "gone":
            log.warning("broker dropped %s: %s", box.device_id, reason)
            self._leave(box, "lost")
            self.counts["lost"] += 1

    def _on_message(self, _client: mqtt.Client, box: Box, message: mqtt.MQTTMessage) -> None:
        seq = json.loads(message.payload)["payload"]["seq"]
        now = time.time()
        for s in [s for s in box.unacked if s <= seq]:
            self.ack_latency_ms.append(round((now - box.unacked.pop(s)) * 1000, 1))
        self.counts["acks"] += 1

    # --- what boxes send ------------------------------------------------------------------------

    def publish_status(self, box: Box) -> None:
        now_ms = time.time_ns() // 1_000_000
        status = Status(
            device_id=box.device_id,
            state="online",
            at_ms=now_ms,
            agent_version="0.1.0",
            timeline_version=1,
            outbox_pending=len(box.unacked),
            rejected_documents=0,
            uptime_s=int(time.monotonic() - self.started) + 3600,
            disk_free_mb=5200,
            cache_mb=412.5,
            media_quota_mb=2048,
            cpu_temp_c=round(self.rng.uniform(45, 60), 1),
            clock_offset_ms=round(self.rng.uniform(-30, 30), 1),
            clock_sane=True,
            link_quality=self.rng.randint(40, 90),
            volume=80,
        )
        self._publish(box, TOPICS.status(box.device_id), to_json(status), retain=True)
        self.counts["statuses"] += 1

    def publish_receipt(self, box: Box) -> None:
        box.seq += 1
        now_ms = time.time_ns() // 1_000_000
        start = now_ms - 300_000
        receipt = Receipt(
            device_id=box.device_id,
            seq=box.seq,
            event="completed",
            item_id=f"s{1 + box.seq % 7}-{start}",
            timeline_version=1,
            scheduled_at_ms=start,
            started_at_ms=start + 4,
            ended_at_ms=now_ms,
            media_sha256=MEDIA,
            recorded_at_ms=now_ms,
        )
        box.unacked[box.seq] = time.time()
        envelope = sign(receipt, box.key, box.device_id)  # a box's kid is its id (edge_agent/outbox.py)
        self._publish(box, TOPICS.report(box.device_id), envelope, retain=False)
        self.counts["receipts"] += 1

    def _publish(self, box: Box, topic: str, payload: bytes, *, retain: bool) -> None:
        if box.client.publish(topic, payload, qos=1, retain=retain).rc != mqtt.MQTT_ERR_SUCCESS:
            self.counts["publish_errors"] += 1

    def take_offline(self, device_id: str, mode: str) -> float:
        box = self.boxes[device_id]
        self._leave(box, "gone")
        at = time.time()
        if mode == "clean":
            offline = to_json(Status(device_id=device_id, state="offline"))
            box.client.publish(TOPICS.status(device_id), offline, qos=1, retain=True)
            box.client.disconnect()
        else:  # as if the box lost power to its agent: the kernel closes the socket, no DISCONNECT
            sock = box.client.socket()
            if sock is not None:
                self._unregister(sock)
                sock.close()
        return at

    def _leave(self, box: Box, state: str) -> None:
        if box.state == "online":
            self.online.remove(box)
        box.state = state

    # --- the loop -------------------------------------------------------------------------------

    def run(self) -> int:
        stdin = sys.stdin.buffer.fileno()
        os.set_blocking(stdin, False)
        self.sel.register(stdin, selectors.EVENT_READ, None)
        pending = list(self.boxes.values())
        pending.reverse()
        buffer = b""
        next_connect = next_misc = time.monotonic()
        next_receipt = next_misc + self.rng.uniform(0, 1 / self.args.receipts_per_s)
        ready = False
        while True:
            now = time.monotonic()
            timeout = min(0.05, max(0.0, (self.due[0][0] - now) if self.due else 0.05))
            for key, mask in self.sel.select(timeout):
                if key.data is None:
                    chunk = os.read(stdin, 65536)
                    if not chunk:
                        return 0
                    buffer += chunk
                    *lines, buffer = buffer.split(b"\n")
                    for line in lines:
                        if line.strip() and self.command(json.loads(line)):
                            return 0
                    continue
                client: mqtt.Client = key.data
                if mask & selectors.EVENT_READ:
                    client.loop_read()
                if mask & selectors.EVENT_WRITE and client.socket() is not None:
                    client.loop_write()
            now = time.monotonic()
            while pending and now >= next_connect:  # connect at --connect-rate per second
                box = pending.pop()
                box.client.connect("127.0.0.1", self.args.port, keepalive=KEEPALIVE_S, **connect_options())
                next_connect += 1 / self.args.connect_rate
            if not ready and len(self.online) == len(self.boxes):
                ready = True
                emit({"event": "ready", "connected": len(self.online), "seconds": now - self.started})
            while self.due and self.due[0][0] <= now:
                at, device_id = heapq.heappop(self.due)
                box = self.boxes[device_id]
                if box.state == "online":
                    self.publish_status(box)
                    heapq.heappush(self.due, (at + self.args.status_every_s, device_id))
            while ready and next_receipt <= now:
                box = self.rng.choice(self.online)
                if box.state == "online":
                    self.publish_receipt(box)
                next_receipt += 1 / self.args.receipts_per_s
            if now >= next_misc:  # keepalive pings and retries, every few seconds per client
                for box in self.online:
                    if box.state == "online":
                        box.client.loop_misc()
                next_misc = now + 5

    def command(self, cmd: dict[str, Any]) -> bool:
        if cmd["cmd"] == "stop":
            return True
        if cmd["cmd"] == "mark":
            latencies, self.ack_latency_ms = self.ack_latency_ms, []
            online = sum(1 for b in self.boxes.values() if b.state == "online")
            emit({"event": "mark", "t": time.time(), "online": online, **self.counts, "ack_ms": latencies})
        elif cmd["cmd"] == "reset":  # a new controller: receipts sent to nobody so far are forgotten
            for box in self.boxes.values():
                box.seq, box.unacked = 0, {}
        elif cmd["cmd"] == "offline":
            at = self.take_offline(cmd["device"], cmd["mode"])
            emit({"event": "offline", "device": cmd["device"], "mode": cmd["mode"], "at": at})
        return False


def connect_options() -> dict[str, Any]:
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = SESSION_EXPIRY_S
    return {"clean_start": False, "properties": properties}


def run_counter(args: argparse.Namespace) -> int:
    """The baseline: subscribe to what the controller subscribes to (QoS 1), count, nothing else."""
    counts = {"statuses": 0, "reports": 0}
    subscribed = threading.Event()

    def on_message(_c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        counts["statuses" if message.topic.endswith("/status") else "reports"] += 1

    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2, client_id="bench-counter", protocol=mqtt.MQTTv5
    )
    client.on_connect = lambda c, *_: c.subscribe([(TOPICS.all_statuses(), 1), (TOPICS.all_reports(), 1)])
    client.on_subscribe = lambda *_: subscribed.set()
    client.on_message = on_message
    client.connect("127.0.0.1", args.port, keepalive=KEEPALIVE_S)
    client.loop_start()
    if not subscribed.wait(30):
        return 1
    emit({"event": "ready"})
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["cmd"] == "stop":
            break
        emit({"event": "mark", "t": time.time(), "messages": sum(counts.values()), **counts})
    client.disconnect()
    client.loop_stop()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", choices=["boxes", "count"])
    parser.add_argument("--port", type=int, required=True, help="the broker's port on 127.0.0.1")
    parser.add_argument("--first", type=int, default=0, help="index of this process's first box")
    parser.add_argument("--count", type=int, default=0, help="boxes in this process")
    parser.add_argument("--seed", type=int, default=6, help="derives the boxes' keys")
    parser.add_argument("--status-every-s", type=float, default=10.0)
    parser.add_argument("--receipts-per-s", type=float, default=10.0, help="this process's share")
    parser.add_argument("--connect-rate", type=float, default=500.0, help="new connections per second")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="swarm %(levelname)s %(message)s")
    return run_counter(args) if args.role == "count" else Swarm(args).run()


if __name__ == "__main__":
    raise SystemExit(main())
