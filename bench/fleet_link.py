"""The agent's MQTT link for simulated boxes: ``MqttLink``'s interface on a paho client that the
process's ``selectors`` loop drives (paho's external-loop API: ``loop_read``/``loop_write``/
``loop_misc`` and the ``on_socket_*`` callbacks), one TCP connection, account and will per box.

Same contract as ``edge_agent.link.MqttLink`` (MQTT 5, persistent session, QoS 1, handlers by topic
filter, on-connect hooks, the same reconnect backoff) minus its network thread.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
from collections.abc import Callable
from typing import Any, Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from edge_agent.link import KEEPALIVE_S, SESSION_EXPIRY_S, Backoff

log = logging.getLogger(__name__)

MessageHandler = Callable[[str, bytes], None]


class LinkOwner(Protocol):
    """What a link needs from the loop that drives it."""

    sel: selectors.BaseSelector

    def connect_later(self, link: LoopLink, delay_s: float) -> None: ...

    def arrived(self, link: LoopLink, topic: str, payload: bytes) -> bool:
        """Note a message as it is read; False keeps it from the agent (bare fan-out)."""
        ...


class LoopLink:
    """One box's broker connection, driven by the owner's loop."""

    def __init__(
        self,
        owner: LinkOwner,
        *,
        client_id: str,
        host: str,
        port: int,
        username: str | None,
        password: str | None,
        will: tuple[str, bytes],
        reconnect_jitter_s: float,
    ) -> None:
        self.owner = owner
        self.client_id = client_id
        self._host, self._port = host, port
        self._handlers: dict[str, MessageHandler] = {}
        self._hooks: list[Callable[[], None]] = []
        self._routes: dict[str, list[MessageHandler]] = {}
        self.inbox: list[tuple[str, bytes]] = []
        self._connected = False
        self._stopping = False
        self.box: Any = None  # the fleet's record of this box
        self.backoff = Backoff(first_jitter_s=reconnect_jitter_s)
        self.drops = 0
        self.held = False  # cut from the broker on purpose (bench/faults_offline.py): no reconnecting
        self.reports_sent = 0  # receipts published, resends included
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
        if username is not None:
            client.username_pw_set(username, password)
        client.will_set(will[0], will[1], qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_socket_open = lambda _c, _u, sock: self._register(sock)
        client.on_socket_close = lambda _c, _u, sock: self._unregister(sock)
        client.on_socket_register_write = lambda _c, _u, sock: self._want_write(sock, True)
        client.on_socket_unregister_write = lambda _c, _u, sock: self._want_write(sock, False)
        self.client = client
        self._writing = False

    # --- MqttLink's interface, as the agent uses it ---------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def alive(self) -> bool:
        return True

    def subscribe(self, topic_filter: str, handler: MessageHandler) -> None:
        self._handlers[topic_filter] = handler
        self._routes.clear()
        if self._connected:
            self.client.subscribe(topic_filter, options=SubscribeOptions(qos=1))

    def resubscribe(self, topic_filter: str) -> bool:
        if not self._connected:
            return False
        result, _mid = self.client.subscribe(topic_filter, options=SubscribeOptions(qos=1))
        return result == MQTTErrorCode.MQTT_ERR_SUCCESS

    def on_connect(self, hook: Callable[[], None]) -> None:
        self._hooks.append(hook)

    def publish(self, topic: str, payload: bytes, *, retain: bool = False, qos: int = 1) -> bool:
        if not self._connected:
            return False
        self.reports_sent += topic.endswith("/report")
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        return info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS

    def start(self) -> None:
        self.owner.connect_later(self, 0.0)

    def stop(self, *, last: tuple[str, bytes] | None = None, timeout_s: float = 3.0) -> None:
        """Leave ``last`` (retained) and disconnect; the loop flushes both on its next turn."""
        self._stopping = True
        if last is not None and self._connected:
            self.client.publish(last[0], last[1], qos=1, retain=True)
        self.client.disconnect()

    def hold(self) -> None:
        """Cut the box from the broker until ``release``: it drops its connection and stays away."""
        self.held = True
        if self._connected:
            self.client.disconnect()

    def release(self) -> None:
        """Let the box reconnect (it does at once, as after a network cut)."""
        self.held = False
        self.owner.connect_later(self, 0.0)

    # --- driven by the loop ---------------------------------------------------------------------

    def connect(self) -> None:
        if self._stopping or self.held:
            return
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = SESSION_EXPIRY_S
        try:
            self.client.connect(
                self._host, self._port, keepalive=KEEPALIVE_S, clean_start=False, properties=properties
            )
        except OSError as exc:
            log.warning("%s cannot reach the broker (%s); retrying", self.client_id, exc)
            self.owner.connect_later(self, self.backoff.next_delay())

    def _register(self, sock: Any) -> None:
        self.owner.sel.register(sock, selectors.EVENT_READ, self)
        self._writing = False

    def _unregister(self, sock: Any) -> None:
        with contextlib.suppress(KeyError, ValueError):  # closed already or never registered
            self.owner.sel.unregister(sock)

    def _want_write(self, sock: Any, want: bool) -> None:
        if sock.fileno() < 0 or self._writing == want:
            return
        self._writing = want
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if want else 0)
        with contextlib.suppress(KeyError, ValueError):
            self.owner.sel.modify(sock, events, self)

    def _on_connect(self, client: mqtt.Client, _u: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            log.error("broker refused %s: %s", self.client_id, reason)
            return
        self.backoff.reset()
        self._connected = True
        if self._handlers:
            client.subscribe([(topic, SubscribeOptions(qos=1)) for topic in self._handlers])
        for hook in self._hooks:
            try:
                hook()
            except Exception:
                log.exception("on-connect hook of %s failed", self.client_id)

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _flags: Any, reason: Any, _props: Any) -> None:
        was = self._connected
        self._connected = False
        if self._stopping:
            return
        if was:
            self.drops += 1
            log.warning("%s lost the broker (%s)", self.client_id, reason)
        self.owner.connect_later(self, self.backoff.next_delay())

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        payload = bytes(message.payload)
        if self.owner.arrived(self, message.topic, payload):
            self.inbox.append((message.topic, payload))

    def dispatch(self) -> None:
        """Hand what arrived to the agent's handlers (the loop calls this once every socket that
        was ready has been read, so that arrival instants are not held up by other boxes' work)."""
        inbox, self.inbox = self.inbox, []
        for topic, payload in inbox:
            for handler in self._route(topic):
                try:
                    handler(topic, payload)
                except Exception:  # as MqttLink: a bad message never stops the loop
                    log.exception("handler for %s failed", topic)

    def _route(self, topic: str) -> list[MessageHandler]:
        # paho's topic_matches_sub builds a matcher per call; a box sees the same few topics.
        found = self._routes.get(topic)
        if found is None:
            found = [h for f, h in self._handlers.items() if mqtt.topic_matches_sub(f, topic)]
            self._routes[topic] = found
        return found
