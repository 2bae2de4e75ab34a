"""A real Mosquitto secured with files built by ``device_registry.broker``, and MQTT peers that
record what the broker answers (CONNACK, SUBACK, PUBACK reason codes, messages, disconnects)."""

from __future__ import annotations

import os
import queue
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from device_registry.broker import (
    BoxAccount,
    BrokerAccounts,
    ControllerAccount,
    apply_broker_accounts,
    mosquitto_hash,
    write_broker_files,
)
from loa.mosquitto import Mosquitto

WAIT_S = 2.0
CONTROLLER = "loa_controller"
BOX_ZONES = {"box-a": ("za", "w1"), "box-b": ("zb", "w1"), "box-c": ("zc",)}


@dataclass
class Peer:
    """One MQTT 5 client of the test; every broker answer is waited for on an event, never a sleep."""

    port: int
    username: str | None
    password: str | None
    client_id: str
    will: tuple[str, bytes] | None = None
    messages: queue.Queue[mqtt.MQTTMessage] = field(default_factory=queue.Queue)
    disconnected: threading.Event = field(default_factory=threading.Event)
    _connack: queue.Queue[ReasonCode] = field(default_factory=queue.Queue)
    _acks: dict[int, Any] = field(default_factory=dict)
    _acked: threading.Condition = field(default_factory=threading.Condition)

    def __post_init__(self) -> None:
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv5
        )
        if self.username is not None:
            client.username_pw_set(self.username, self.password)
        if self.will is not None:
            client.will_set(self.will[0], self.will[1], qos=1, retain=True)
        client.reconnect_delay_set(60, 60)  # a refused or cut peer must not come back on its own
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = lambda _c, _u, message: self.messages.put(message)
        client.on_subscribe = lambda _c, _u, mid, codes, _p: self._ack(mid, codes)
        client.on_publish = lambda _c, _u, mid, code, _p: self._ack(mid, code)
        self.client = client

    def connect(self) -> ReasonCode:
        self.client.connect("127.0.0.1", self.port, keepalive=30)
        self.client.loop_start()
        return self._connack.get(timeout=WAIT_S)

    def subscribe(self, *topics: str) -> list[ReasonCode]:
        _result, mid = self.client.subscribe([(t, SubscribeOptions(qos=1)) for t in topics])
        codes: list[ReasonCode] = self._wait_ack(mid)
        return codes

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> ReasonCode:
        """Publish at QoS 1 and return the PUBACK's reason code."""
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        code: ReasonCode = self._wait_ack(info.mid)
        return code

    def next_message(self, timeout: float = WAIT_S) -> mqtt.MQTTMessage:
        return self.messages.get(timeout=timeout)

    def cut_off(self) -> bool:
        """Whether the broker closes this connection within the wait."""
        return self.disconnected.wait(WAIT_S)

    def vanish(self) -> None:
        """Drop the TCP connection without DISCONNECT, as a box losing power does."""
        sock = self.client.socket()
        assert sock is not None
        sock.shutdown(socket.SHUT_RDWR)  # a close() alone waits for paho's select() to let go

    def close(self) -> None:
        self.client.disconnect()
        if not self.disconnected.is_set():
            self.client.loop_stop()
        # else paho's thread is in a reconnect wait that sleeps in 1 s steps; it sees the
        # disconnect() above and ends on its own (a daemon thread), no need to wait for it.

    def _on_connect(self, client: mqtt.Client, _u: object, _f: object, code: ReasonCode, _p: object) -> None:
        self._connack.put(code)
        if code.is_failure:
            client.disconnect()

    def _on_disconnect(self, *_args: object) -> None:
        self.disconnected.set()

    def _ack(self, mid: int, value: object) -> None:
        with self._acked:
            self._acks[mid] = value
            self._acked.notify_all()

    def _wait_ack(self, mid: int) -> Any:
        with self._acked:
            if not self._acked.wait_for(lambda: mid in self._acks, timeout=WAIT_S):
                raise AssertionError(f"no answer from the broker to packet {mid} within {WAIT_S}s")
            return self._acks.pop(mid)


@dataclass
class SecuredBroker:
    """A running Mosquitto, the registry it was configured from and the plaintext passwords."""

    broker: Mosquitto
    accounts: BrokerAccounts
    passwords: dict[str, str]
    password_file: Path
    acl_file: Path
    controller: str = CONTROLLER
    peers: list[Peer] = field(default_factory=list)

    def peer(
        self,
        username: str | None,
        *,
        password: str | None = None,
        client_id: str | None = None,
        will: tuple[str, bytes] | None = None,
    ) -> Peer:
        secret = password if password is not None else self.passwords.get(username or "")
        made = Peer(self.broker.port, username, secret, client_id or username or "anonymous", will)
        self.peers.append(made)
        return made

    def connected(self, username: str, **kwargs: Any) -> Peer:
        made = self.peer(username, **kwargs)
        code = made.connect()
        assert not code.is_failure, f"{username} refused: {code}"
        return made

    def change_box(self, device_id: str, reload: int | Path | Callable[[], None], **changes: Any) -> None:
        """Change one box in the registry, rewrite the files and reload the broker."""
        boxes = tuple(replace(b, **changes) if b.device_id == device_id else b for b in self.accounts.boxes)
        self.accounts = replace(self.accounts, boxes=boxes)
        apply_broker_accounts(
            self.accounts, password_file=self.password_file, acl_file=self.acl_file, reload=reload
        )


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[SecuredBroker]:
    passwords = {name: f"secret-of-{name}" for name in (CONTROLLER, *BOX_ZONES)}
    accounts = BrokerAccounts(
        controller=ControllerAccount(
            username=CONTROLLER, password_hash=mosquitto_hash(passwords[CONTROLLER])
        ),
        boxes=tuple(
            BoxAccount(device_id=box, password_hash=mosquitto_hash(passwords[box]), zones=zones)
            for box, zones in BOX_ZONES.items()
        ),
    )
    files = tmp_path / "registry"
    write_broker_files(accounts, password_file=files / "passwd", acl_file=files / "acl")
    broker = Mosquitto(
        tmp_path / "broker",
        password_file=files / "passwd",
        acl_file=files / "acl",
        extra_config="use_username_as_clientid true\n",
        # Root would make Mosquitto switch to its own user, who cannot read the 0600 files on reload.
        user="root" if os.geteuid() == 0 else None,
    )
    with broker:
        world = SecuredBroker(broker, accounts, passwords, files / "passwd", files / "acl")
        yield world
        for peer in world.peers:
            peer.close()
