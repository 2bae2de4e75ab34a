"""The MQTT link: reconnect delays spread boxes out; TLS verifies the broker against the CA file."""

from __future__ import annotations

import datetime
import gc
import ipaddress
import os
import random
import warnings

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from edge_agent.link import Backoff, MqttLink
from loa.mosquitto import Mosquitto


def test_first_delay_after_a_loss_is_random_then_backoff_doubles_to_a_ceiling():
    backoff = Backoff(first_jitter_s=10, base_s=1, max_s=60, rng=random.Random(7))

    delays = [backoff.next_delay() for _ in range(9)]

    assert 0 <= delays[0] <= 10
    ceilings = [1, 2, 4, 8, 16, 32, 60, 60]
    assert all(c / 2 <= d <= c for d, c in zip(delays[1:], ceilings, strict=True))
    backoff.reset()
    assert 0 <= backoff.next_delay() <= 10


def test_boxes_spread_their_first_reconnection_over_the_jitter_window():
    firsts = [Backoff(first_jitter_s=10, rng=random.Random(seed)).next_delay() for seed in range(500)]

    assert min(firsts) < 1 and max(firsts) > 9
    assert sum(d < 5 for d in firsts) == pytest.approx(250, abs=50)


def test_zero_jitter_reconnects_at_once():
    assert Backoff(first_jitter_s=0).next_delay() == 0


def _certificate(subject: str, key, issuer_name: x509.Name, issuer_key, *, ca: bool) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _ca(folder, name: str):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = _certificate(name, key, subject, key, ca=True)
    path = folder / f"{name}.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert, path


@pytest.mark.integration
def test_link_connects_over_tls_only_to_a_broker_signed_by_the_configured_ca(tmp_path):
    ca_key, ca_cert, ca_path = _ca(tmp_path, "loa-ca")
    _, _, other_ca_path = _ca(tmp_path, "other-ca")
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = _certificate("broker", server_key, ca_cert.subject, ca_key, ca=False)
    (tmp_path / "server.pem").write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "server.key").write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    tls = f"cafile {ca_path}\ncertfile {tmp_path / 'server.pem'}\nkeyfile {tmp_path / 'server.key'}\n"
    if os.geteuid() == 0:
        tls += "user root\n"  # as root, mosquitto would drop to a user who cannot read pytest's tmp_path

    # paho 2.2 drops (does not close) the socket of a failed TLS handshake; the garbage collector
    # closes it, with a ResourceWarning that is no concern of this test.
    with warnings.catch_warnings(), Mosquitto(tmp_path / "broker", extra_config=tls) as broker:
        warnings.simplefilter("ignore", ResourceWarning)
        links = {
            name: MqttLink(
                client_id=f"box-{name}",
                host="127.0.0.1",
                port=broker.port,
                tls=True,
                ca_file=ca,
                reconnect_jitter_s=0,
            )
            for name, ca in (("trusting", ca_path), ("other", other_ca_path))
        }
        for link in links.values():
            link.start()
        try:
            assert links["trusting"].wait_connected(5)
            assert not links["other"].wait_connected(1)
        finally:
            for link in links.values():
                link.stop()
            del links
            gc.collect()
