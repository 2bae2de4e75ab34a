"""The MQTT link to the broker: the only module of the agent that knows paho-mqtt.

MQTT 5 with a persistent session (clean_start off, one-week expiry), so that QoS 1 messages for the
box queue at the broker while it is away. The rest of the agent sees a small interface: ``subscribe``
a handler to a topic, ``publish`` bytes, ``on_connect`` hooks, ``resubscribe``, ``start`` and ``stop``.

The link runs its own network thread (``Client.loop``) so that it, not paho, decides when to
reconnect: after losing the broker it waits a random 0…``first_jitter_s`` seconds, then backs off
exponentially (1, 2, 4 … 60 s, each randomised), so a province of boxes does not stampede a broker
that just restarted.
"""

from __future__ import annotations

import logging
import random
import ssl
import threading
from collections.abc import Callable
from pathlib import Path
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
LOOP_TIMEOUT_S = 1.0

MessageHandler = Callable[[str, bytes], None]


class Backoff:
    """Delays between connection attempts: random first delay, then exponential with jitter."""

    def __init__(
        self,
        *,
        first_jitter_s: float,
        base_s: float = 1.0,
        max_s: float = 60.0,
        rng: random.Random | None = None,
    ) -> None:
        self._first_jitter_s = first_jitter_s
        self._base_s = base_s
        self._max_s = max_s
        self._rng = rng or random.Random()
        self._attempt = 0

    def next_delay(self) -> float:
        """Seconds to wait before the next attempt."""
        attempt, self._attempt = self._attempt, self._attempt + 1
        if attempt == 0:
            return self._rng.uniform(0, self._first_jitter_s)
        ceiling = min(self._max_s, self._base_s * 2 ** (attempt - 1))
        return self._rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        """Connected: the next loss starts over with the random first delay."""
        self._attempt = 0


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
        ca_file: Path | None = None,
        will: tuple[str, bytes] | None = None,
        session_expiry_s: int = SESSION_EXPIRY_S,
        reconnect_jitter_s: float = 10.0,
        backoff_max_s: float = 60.0,
    ) -> None:
        self._host = host
        self._port = port
        self._session_expiry_s = session_expiry_s
        self._backoff = Backoff(first_jitter_s=reconnect_jitter_s, max_s=backoff_max_s)
        self._handlers: dict[str, MessageHandler] = {}
        self._connect_hooks: list[Callable[[], None]] = []
        self._connected = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
        if username is not None:
            client.username_pw_set(username, password)
        if tls:
            client.tls_set(ca_certs=str(ca_file) if ca_file else None, cert_reqs=ssl.CERT_REQUIRED)
        if will is not None:
            client.will_set(will[0], will[1], qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self._client = client

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def alive(self) -> bool:
        """The network thread runs (or was never started)."""
        return self._thread is None or self._thread.is_alive()

    def wait_connected(self, timeout_s: float) -> bool:
        return self._connected.wait(timeout_s)

    def subscribe(self, topic_filter: str, handler: MessageHandler) -> None:
        """Route messages matching ``topic_filter`` to ``handler``; subscribed (QoS 1) on every connect."""
        self._handlers[topic_filter] = handler
        if self.connected:
            self._client.subscribe(topic_filter, options=SubscribeOptions(qos=1))

    def resubscribe(self, topic_filter: str) -> bool:
        """Subscribe again: the broker then sends the topic's retained message once more."""
        if not self.connected:
            return False
        result, _mid = self._client.subscribe(topic_filter, options=SubscribeOptions(qos=1))
        return result == MQTTErrorCode.MQTT_ERR_SUCCESS

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
        self._thread = threading.Thread(target=self._run, name="loa-mqtt", daemon=True)
        self._thread.start()

    def stop(self, *, last: tuple[str, bytes] | None = None, timeout_s: float = 3.0) -> None:
        """Publish ``last`` (retained, e.g. an offline status) if connected, then disconnect cleanly."""
        if self._thread is None:
            return
        if last is not None and self.connected:
            info = self._client.publish(last[0], last[1], qos=1, retain=True)
            try:
                info.wait_for_publish(timeout_s)
            except (RuntimeError, ValueError) as exc:
                log.warning("last message not delivered before disconnect: %s", exc)
        self._client.disconnect()
        self._stopping.set()
        self._thread.join(timeout_s + LOOP_TIMEOUT_S)
        self._thread = None
        self._connected.clear()

    def _run(self) -> None:
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = self._session_expiry_s
        delay = 0.0  # the first connection is tried at once
        while not self._stopping.wait(delay):
            try:
                self._client.connect(
                    self._host, self._port, keepalive=KEEPALIVE_S, clean_start=False, properties=properties
                )
            except (OSError, ssl.SSLError, ValueError) as exc:
                # str(exc): a record holding the exception would keep its (TLS) socket alive
                log.warning("cannot reach broker %s:%d (%s); retrying", self._host, self._port, str(exc))
            else:
                try:
                    self._loop()
                except Exception:  # whatever paho raises, the link must come back
                    log.exception("MQTT network loop failed; reconnecting")
                    self._connected.clear()
            if self._stopping.is_set():
                break
            delay = self._backoff.next_delay()
            log.info("next connection attempt in %.1f s", delay)
        self._connected.clear()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            result = self._client.loop(timeout=LOOP_TIMEOUT_S)
            if result != MQTTErrorCode.MQTT_ERR_SUCCESS:
                if self._connected.is_set():
                    log.warning("lost the broker (%s)", mqtt.error_string(result))
                self._connected.clear()
                return

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
        self._backoff.reset()
        self._connected.set()
        if self._handlers:
            client.subscribe([(topic, SubscribeOptions(qos=1)) for topic in self._handlers])
        for hook in self._connect_hooks:
            try:
                hook()
            except Exception:
                log.exception("on-connect hook failed")

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._connected.clear()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        for topic_filter, handler in list(self._handlers.items()):
            if mqtt.topic_matches_sub(topic_filter, message.topic):
                try:
                    handler(message.topic, bytes(message.payload))
                except Exception:  # a bad message must never stop the network thread
                    log.exception("handler for %s failed", message.topic)
