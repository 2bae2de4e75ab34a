"""MQTT over TLS on a real Mosquitto, with certificates made here by ``trustme``: boxes and the
controller verify the broker's certificate, and refuse a broker they cannot verify."""

from __future__ import annotations

import gc
import os
import ssl
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import trustme
from paho.mqtt.enums import CallbackAPIVersion

from controller.app import build_services
from controller.db import migrate
from controller.settings import Settings
from edge_agent.link import MqttLink
from loa.mosquitto import BrokerTls, Mosquitto
from tests.databases import database_url

pytestmark = pytest.mark.integration


@dataclass
class Pki:
    ca: Path  # what clients trust
    other_ca: Path  # a CA that did not sign the broker's certificate
    tls: BrokerTls


def make_pki(folder: Path, *, broker_names: tuple[str, ...] = ("127.0.0.1", "localhost")) -> Pki:
    """A CA, a broker certificate it signs for ``broker_names``, and an unrelated CA."""
    folder.mkdir(parents=True, exist_ok=True)
    ca, other = trustme.CA(), trustme.CA()
    server = ca.issue_cert(*broker_names)
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    other.cert_pem.write_to_path(str(folder / "other-ca.pem"))
    for blob in server.cert_chain_pems:
        blob.write_to_path(str(folder / "broker.pem"), append=True)
    server.private_key_pem.write_to_path(str(folder / "broker.key"))
    return Pki(
        ca=folder / "ca.pem",
        other_ca=folder / "other-ca.pem",
        tls=BrokerTls(
            cafile=folder / "ca.pem", certfile=folder / "broker.pem", keyfile=folder / "broker.key"
        ),
    )


def tls_broker(folder: Path, pki: Pki) -> Mosquitto:
    # As root, Mosquitto would drop to a user who cannot read pytest's private tmp_path.
    return Mosquitto(folder, tls=pki.tls, user="root" if os.geteuid() == 0 else None)


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


@pytest.fixture
def broker(tmp_path: Path, pki: Pki) -> Iterator[Mosquitto]:
    with tls_broker(tmp_path / "broker", pki) as running:
        yield running


@pytest.fixture
def quiet_failed_handshakes() -> Iterator[None]:
    """paho 2.2 drops (does not close) the socket of a failed TLS handshake; the garbage collector
    closes it with a ResourceWarning that is no concern of these tests."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        yield
        gc.collect()


def tls_client(ca: Path) -> mqtt.Client:
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.tls_set(ca_certs=str(ca), cert_reqs=ssl.CERT_REQUIRED)
    return client


class Subscriber:
    """A paho client over TLS that collects what arrives on one topic."""

    def __init__(self, port: int, ca: Path, topic: str) -> None:
        self.messages: list[bytes] = []
        self.ready = threading.Event()
        self.got = threading.Event()
        self.client = tls_client(ca)
        self.client.on_connect = lambda c, _u, _f, _r, _p: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *_args: self.ready.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self.ready.wait(5), "subscriber did not get its subscription"

    def _on_message(self, _client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
        self.messages.append(bytes(message.payload))
        self.got.set()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_box_link_verifies_the_broker_certificate_and_exchanges_messages(broker: Mosquitto, pki: Pki) -> None:
    assert broker.tls_port is not None
    link = MqttLink(
        client_id="box-tls",
        host="127.0.0.1",
        port=broker.tls_port,
        tls=True,
        ca_file=pki.ca,
        reconnect_jitter_s=0,
    )
    got: list[bytes] = []
    arrived = threading.Event()
    link.subscribe("loa/v1/devices/box-tls/ack", lambda _t, payload: (got.append(payload), arrived.set()))
    link.start()
    try:
        assert link.wait_connected(5)
        deadline = time.monotonic() + 5
        while not arrived.is_set() and time.monotonic() < deadline:
            link.publish("loa/v1/devices/box-tls/ack", b"over tls")
            arrived.wait(0.5)
        assert got[:1] == [b"over tls"]
    finally:
        link.stop()


def test_box_trusting_another_ca_never_connects(
    broker: Mosquitto, pki: Pki, quiet_failed_handshakes: None
) -> None:
    assert broker.tls_port is not None
    link = MqttLink(
        client_id="box-other",
        host="127.0.0.1",
        port=broker.tls_port,
        tls=True,
        ca_file=pki.other_ca,
        reconnect_jitter_s=0,
    )
    link.start()
    try:
        assert not link.wait_connected(2)
    finally:
        link.stop()
        del link


def test_client_trusting_another_ca_is_refused_in_the_handshake(
    broker: Mosquitto, pki: Pki, quiet_failed_handshakes: None
) -> None:
    assert broker.tls_port is not None
    client = tls_client(pki.other_ca)
    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        client.connect("127.0.0.1", broker.tls_port)
    del client


def test_certificate_for_another_host_name_is_refused(tmp_path: Path, quiet_failed_handshakes: None) -> None:
    pki = make_pki(tmp_path / "pki", broker_names=("mqtt.loa.example.vn",))
    with tls_broker(tmp_path / "broker", pki) as broker:
        assert broker.tls_port is not None
        client = tls_client(pki.ca)  # the right CA, but the certificate names another host
        with pytest.raises(ssl.SSLCertVerificationError, match=r"match|mismatch"):
            client.connect("127.0.0.1", broker.tls_port)
        del client


def test_controller_gateway_connects_over_tls_and_publishes(
    tmp_path: Path, broker: Mosquitto, pki: Pki
) -> None:
    assert broker.tls_port is not None
    settings = Settings(
        data_dir=tmp_path / "controller",
        database_url=database_url(tmp_path),
        mqtt_port=broker.tls_port,
        mqtt_tls=True,
        mqtt_ca_file=pki.ca,
        mqtt_client_id="loa_controller_tls",
    )
    migrate(settings.resolved_database_url)
    services = build_services(settings)
    assert services.gateway is not None
    subscriber = Subscriber(broker.tls_port, pki.ca, "loa/v1/devices/box-1/timeline")
    services.gateway.start()
    try:
        deadline = time.monotonic() + 10
        while not services.gateway.connected and time.monotonic() < deadline:
            time.sleep(0.05)
        assert services.gateway.connected
        services.gateway.publish("loa/v1/devices/box-1/timeline", b"signed timeline", True)
        assert subscriber.got.wait(5)
        assert subscriber.messages == [b"signed timeline"]
    finally:
        subscriber.close()
        services.gateway.stop()
        services.engine.dispose()


def test_controller_gateway_refuses_a_broker_it_cannot_verify(
    tmp_path: Path, broker: Mosquitto, pki: Pki, quiet_failed_handshakes: None
) -> None:
    assert broker.tls_port is not None
    settings = Settings(
        data_dir=tmp_path / "controller",
        database_url=database_url(tmp_path),
        mqtt_port=broker.tls_port,
        mqtt_tls=True,
        mqtt_ca_file=pki.other_ca,
    )
    migrate(settings.resolved_database_url)
    services = build_services(settings)
    assert services.gateway is not None
    services.gateway.start()
    try:
        time.sleep(1.5)  # long enough for several handshakes; none may succeed
        assert not services.gateway.connected
    finally:
        services.gateway.stop()
        services.engine.dispose()


def test_a_ca_file_without_tls_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="LOA_MQTT_CA_FILE needs LOA_MQTT_TLS"):
        Settings(data_dir=tmp_path, mqtt_ca_file=tmp_path / "ca.pem")
