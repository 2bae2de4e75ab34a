"""The MQTT link to the broker: the only module of the agent that knows paho-mqtt.

MQTT 5 with a persistent session (clean_start off, one-week expiry), so that QoS 1 messages for the
box queue at the broker while it is away. The rest of the agent sees a small interface: ``subscribe``
a handler to a topic, ``publish`` bytes, ``on_connect`` hooks, ``start`` and ``stop``.
"""

from __future__ import annotations

import logging
import random
import ssl
import threading
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

log = logging.getLogger(__name__)

SESSION_EXPIRY_S = 7 * 24 * 3600
KEEPALIVE_S = 30
RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 60
RECONNECT_JITTER_S = 5  # spreads a province's boxes after a broker restart

MessageHandler = Callable[[str, bytes], None]


class MqttLink:
    """One broker connection that reconnects by itself; handlers are dispatched by topic filter."""

    def __init__(
        self,
        *,
        client_id: str,
        host: str,
        port: int,
        username: str | None = None,
        password: str | None = None,
        tls: bool = False,
        will: tuple[str, bytes] | None = None,
        session_expiry_s: int = SESSION_EXPIRY_S,
    ) -> None:
        self._host = host
        self._port = port
        self._session_expiry_s = session_expiry_s
        self._handlers: dict[str, MessageHandler] = {}
        self._connect_hooks: list[Callable[[], None]] = []
        self._connected = threading.Event()
        self._started = False
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
        if username is not None:
            client.username_pw_set(username, password)
        if tls:
            client.tls_set(cert_reqs=ssl.CERT_REQUIRED)
        if will is not None:
            client.will_set(will[0], will[1], qos=1, retain=True)
        client.reconnect_delay_set(min_delay=RECONNECT_MIN_S, max_delay=RECONNECT_MAX_S)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self._client = client

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout_s: float) -> bool:
        return self._connected.wait(timeout_s)

    def subscribe(self, topic_filter: str, handler: MessageHandler) -> None:
        """Route messages matching ``topic_filter`` to ``handler``; subscribed (QoS 1) on every connect."""
        self._handlers[topic_filter] = handler
        if self.connected:
            self._client.subscribe(topic_filter, options=SubscribeOptions(qos=1))

    def on_connect(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` after every successful connect, once the subscriptions are sent."""
        self._connect_hooks.append(hook)

    def publish(self, topic: str, payload: bytes, *, retain: bool = False, qos: int = 1) -> bool:
        """Send ``payload``; False (nothing queued) while disconnected: callers resend from their state."""
        if not self.connected:
            return False
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        return info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS

    def start(self) -> None:
        """Connect in the background; the agent runs (and plays) even while the broker is down."""
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = self._session_expiry_s
        self._client.connect_async(
            self._host, self._port, keepalive=KEEPALIVE_S, clean_start=False, properties=properties
        )
        self._client.loop_start()
        self._started = True

    def stop(self, *, last: tuple[str, bytes] | None = None, timeout_s: float = 3.0) -> None:
        """Publish ``last`` (retained, e.g. an offline status) if connected, then disconnect cleanly."""
        if not self._started:
            return
        if last is not None and self.connected:
            info = self._client.publish(last[0], last[1], qos=1, retain=True)
            try:
                info.wait_for_publish(timeout_s)
            except (RuntimeError, ValueError) as exc:
                log.warning("last message not delivered before disconnect: %s", exc)
        self._started = False
        self._client.disconnect()
        self._client.loop_stop()
        self._connected.clear()

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            log.error("broker %s:%d refused the connection: %s", self._host, self._port, reason_code)
            return
        log.info(
            "connected to broker %s:%d (session present: %s)", self._host, self._port, flags.session_present
        )
        self._connected.set()
        if self._handlers:
            client.subscribe([(topic, SubscribeOptions(qos=1)) for topic in self._handlers])
        for hook in self._connect_hooks:
            try:
                hook()
            except Exception:
                log.exception("on-connect hook failed")

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        log.warning("cannot reach broker %s:%d; retrying", self._host, self._port)

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        was_connected = self._connected.is_set()
        self._connected.clear()
        if was_connected and self._started:
            log.warning("disconnected from broker (%s); reconnecting", reason_code)
            # Exponential backoff restarts from a random floor, so boxes do not reconnect in lockstep.
            client.reconnect_delay_set(
                min_delay=random.randint(RECONNECT_MIN_S, RECONNECT_JITTER_S), max_delay=RECONNECT_MAX_S
            )

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        for topic_filter, handler in list(self._handlers.items()):
            if mqtt.topic_matches_sub(topic_filter, message.topic):
                try:
                    handler(message.topic, bytes(message.payload))
                except Exception:  # a bad message must never stop the network thread
                    log.exception("handler for %s failed", message.topic)
