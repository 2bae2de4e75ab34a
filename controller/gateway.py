"""The controller's only MQTT module: paho lives here and nowhere else in the controller."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from playlists.wire import Topics

log = logging.getLogger(__name__)

Handler = Callable[[str, bytes], None]  # device id, payload
# No broker session outlives a controller connection. Receipts come through a shared subscription, and
# Mosquitto keeps routing a share to a disconnected member's persistent session: a dead replica would
# swallow its share of the receipts until it came back. Nothing is lost without a session: a box keeps
# each receipt in its outbox and sends it again until the controller's ack covers it.
SESSION_EXPIRY_S = 0
SHARED_GROUP = "$share/loa-controllers/"


class MqttGateway:
    """Publishes controller documents and dispatches box reports and statuses to handlers."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        client_id: str,
        topics: Topics,
        on_report: Handler,
        on_status: Handler,
        on_connect: Callable[[], None] | None = None,
        username: str | None = None,
        password: str | None = None,
        tls: bool = False,
        ca_file: Path | None = None,
    ) -> None:
        self.host, self.port, self.topics = host, port, topics
        self._on_report, self._on_status, self._on_connected = on_report, on_status, on_connect
        self.connected = False
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
        if username:
            self.client.username_pw_set(username, password)
        if tls:
            self.client.tls_set(ca_certs=str(ca_file) if ca_file else None, cert_reqs=ssl.CERT_REQUIRED)
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.client.on_connect = self._handle_connect
        self.client.on_disconnect = self._handle_disconnect
        self.client.on_message = self._handle_message

    def start(self) -> None:
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = SESSION_EXPIRY_S
        self.client.connect_async(self.host, self.port, keepalive=30, clean_start=True, properties=properties)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> mqtt.MQTTMessageInfo | None:
        """Queue a QoS 1 message; its info (to wait for the broker's PUBACK), or None if not sent."""
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            log.warning("publish queued while disconnected", extra={"topic": topic, "rc": info.rc})
            return None
        return info

    def _handle_connect(
        self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        if reason.is_failure:
            log.error("broker refused the controller: %s", reason)
            return
        self.connected = True
        # Receipts through an MQTT 5 shared subscription: with several controller replicas, each
        # receipt goes to one of them (the database dedupes on (device, seq) anyway). Statuses go to
        # every replica, so each can push live updates to its own panel users.
        client.subscribe([(SHARED_GROUP + self.topics.all_reports(), 1), (self.topics.all_statuses(), 1)])
        log.info("controller connected to the broker", extra={"host": self.host, "port": self.port})
        if self._on_connected is not None:
            self._on_connected()

    def _handle_disconnect(
        self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        self.connected = False
        log.warning("controller disconnected from the broker: %s", reason)

    def _handle_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        device_id = self.topics.device_of(message.topic)
        if device_id is None:
            return
        try:
            if message.topic == self.topics.report(device_id):
                self._on_report(device_id, message.payload)
            elif message.topic == self.topics.status(device_id):
                self._on_status(device_id, message.payload)
        except Exception:  # a bad message must never stop the network loop
            log.exception("handling %s failed", message.topic)
