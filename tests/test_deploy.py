"""The deployment files are valid and agree with each other and with the settings: the Mosquitto
snippet runs on a real broker (TLS, accounts, no anonymous clients), the nginx config passes
``nginx -t`` and serves a real ``loa serve`` over HTTPS, the systemd units pass
``systemd-analyze verify``."""

from __future__ import annotations

import gc
import os
import re
import shutil
import ssl
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest
import trustme
from paho.mqtt.enums import CallbackAPIVersion

from controller.settings import Settings
from device_registry.broker import (
    BoxAccount,
    BrokerAccounts,
    ControllerAccount,
    mosquitto_hash,
    write_broker_files,
)
from loa.mosquitto import free_port, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
NGINX_CONF = ROOT / "deploy" / "nginx" / "loa.conf"
MOSQUITTO_CONF = ROOT / "deploy" / "mosquitto" / "loa.conf"
CONTROLLER_ENV = ROOT / "deploy" / "controller.env"
UNITS = sorted((ROOT / "systemd").glob("*.service")) + sorted((ROOT / "systemd").glob("*.path"))
UNITS += sorted((ROOT / "systemd").glob("*.timer"))


def env_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if re.match(r"^[A-Z_]+=", line))
    return {key: value for key, value in pairs}


def directive(text: str, name: str) -> list[str]:
    """Values of an nginx directive (``name value;``)."""
    return re.findall(rf"^\s*{name}\s+([^;{{]+);", text, flags=re.MULTILINE)


def option(text: str, name: str) -> list[str]:
    """Values of a Mosquitto option (``name value``, one a line)."""
    return re.findall(rf"^{name}\s+(\S+)\s*$", text, flags=re.MULTILINE)


# --- the files agree with each other and with the settings ----------------------------------------


def test_controller_env_names_only_real_settings_and_the_broker_files_of_the_snippet() -> None:
    env = env_file(CONTROLLER_ENV)
    assert all(key.startswith("LOA_") and key[4:].lower() in Settings.model_fields for key in env)
    mosquitto = MOSQUITTO_CONF.read_text()
    assert option(mosquitto, "password_file") == [env["LOA_BROKER_PASSWORD_FILE"]]
    assert option(mosquitto, "acl_file") == [env["LOA_BROKER_ACL_FILE"]]
    assert option(mosquitto, "allow_anonymous") == ["false"]
    assert option(mosquitto, "use_username_as_clientid") == ["true", "true"]  # on each listener
    watched = re.findall(r"^PathChanged=(.+)$", (ROOT / "systemd/loa-broker-reload.path").read_text(), re.M)
    assert sorted(watched) == sorted([env["LOA_BROKER_PASSWORD_FILE"], env["LOA_BROKER_ACL_FILE"]])
    unit = (ROOT / "systemd/loa-controller.service").read_text()
    folder = str(Path(env["LOA_BROKER_PASSWORD_FILE"]).parent)
    assert f"-{folder}" in re.search(r"^ReadWritePaths=(.+)$", unit, re.M).group(1).split()  # type: ignore[union-attr]
    assert f"LOA_DATA_DIR={env['LOA_DATA_DIR']}" in unit
    assert env["LOA_BROKER_FILES_GROUP"] == "mosquitto"
    assert f"listener {env['LOA_MQTT_PORT']} {env['LOA_MQTT_HOST']}" in mosquitto
    assert f"listener {env['LOA_MQTT_PUBLIC_PORT']}" in mosquitto


def test_nginx_config_matches_the_controller_settings() -> None:
    text = NGINX_CONF.read_text()
    defaults = Settings()
    env = env_file(CONTROLLER_ENV)
    assert directive(text, "server") == [f"{env['LOA_HOST']}:{env['LOA_PORT']}"]
    assert env["LOA_PORT"] == str(defaults.port)
    assert "127.0.0.1" in defaults.forwarded_allow_ips.split(",")
    assert directive(text, "client_max_body_size") == [f"{defaults.max_upload_mb + 1}m"]
    events = re.search(r"location = /devices/_events \{(.*?)\}", text, re.DOTALL)
    assert events is not None and "proxy_buffering off;" in events.group(1)
    assert "X-Forwarded-Proto $scheme" in text
    for header in ("Strict-Transport-Security", "X-Content-Type-Options", "Content-Security-Policy"):
        assert f"add_header {header}" in text


def test_the_live_device_list_route_is_where_nginx_expects_it() -> None:
    from controller.routes import panel_devices

    assert "/devices/_events" in {route.path for route in panel_devices.router.routes}  # type: ignore[attr-defined]


# --- Mosquitto: the snippet on a real broker --------------------------------------------------------


def _connect(
    port: int,
    *,
    ca: Path | None = None,
    username: str | None = None,
    password: str | None = None,
    client_id: str = "",
) -> tuple[mqtt.Client, object]:
    """Connect and wait for the CONNACK; returns the client (still running) and the reason code."""
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
    )
    if ca is not None:
        client.tls_set(ca_certs=str(ca), cert_reqs=ssl.CERT_REQUIRED)
    if username is not None:
        client.username_pw_set(username, password)
    answered = threading.Event()
    reasons: list[object] = []
    client.on_connect = lambda _c, _u, _f, reason, _p: (reasons.append(reason), answered.set())
    client.connect("127.0.0.1", port)
    client.loop_start()
    assert answered.wait(5), "no CONNACK"
    return client, reasons[0]


@pytest.fixture
def deployed_broker(tmp_path: Path) -> Iterator[tuple[int, int, Path]]:
    """Mosquitto with deploy/mosquitto/loa.conf (ports, files and folders moved into tmp_path)."""
    if shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists():
        pytest.skip("mosquitto is not installed")
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1")
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    server.cert_chain_pems[0].write_to_path(str(tmp_path / "broker.pem"))
    server.private_key_pem.write_to_path(str(tmp_path / "broker.key"))
    write_broker_files(
        BrokerAccounts(
            controller=ControllerAccount(
                username="loa_controller", password_hash=mosquitto_hash("controller-pw")
            ),
            boxes=(BoxAccount(device_id="box-1", password_hash=mosquitto_hash("box-pw")),),
        ),
        password_file=tmp_path / "passwords",
        acl_file=tmp_path / "acl",
    )
    plain, tls = free_port(), free_port()
    text = MOSQUITTO_CONF.read_text()
    for old, new in (
        ("listener 1883 127.0.0.1", f"listener {plain} 127.0.0.1"),
        ("listener 8883", f"listener {tls} 127.0.0.1"),
        ("/etc/mosquitto/certs/loa-ca.pem", str(tmp_path / "ca.pem")),
        ("/etc/mosquitto/certs/loa-broker.pem", str(tmp_path / "broker.pem")),
        ("/etc/mosquitto/certs/loa-broker.key", str(tmp_path / "broker.key")),
        ("/etc/mosquitto/loa/passwords", str(tmp_path / "passwords")),
        ("/etc/mosquitto/loa/acl", str(tmp_path / "acl")),
    ):
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    # What Debian's mosquitto.conf adds around the snippet, moved into tmp_path.
    base = f"persistence true\npersistence_location {tmp_path}/\nlog_dest stderr\n"
    if os.geteuid() == 0:
        base += "user root\n"  # the mosquitto user cannot read pytest's private tmp_path
    (tmp_path / "mosquitto.conf").write_text(base + text)
    with (tmp_path / "mosquitto.log").open("wb") as log:
        process = subprocess.Popen(
            [shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(tmp_path / "mosquitto.conf")],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port("127.0.0.1", plain)
        wait_for_port("127.0.0.1", tls)
        yield plain, tls, tmp_path / "ca.pem"
    finally:
        process.terminate()
        process.wait(5)


def test_mosquitto_snippet_lets_accounts_in_over_tls_and_nobody_anonymous(
    deployed_broker: tuple[int, int, Path],
) -> None:
    plain, tls, ca = deployed_broker
    clients = []
    try:
        box, reason = _connect(tls, ca=ca, username="box-1", password="box-pw")
        clients.append(box)
        assert not reason.is_failure  # type: ignore[attr-defined]
        controller, reason = _connect(plain, username="loa_controller", password="controller-pw")
        clients.append(controller)
        assert not reason.is_failure  # type: ignore[attr-defined]
        for port, tls_ca in ((tls, ca), (plain, None)):
            anonymous, reason = _connect(port, ca=tls_ca)
            clients.append(anonymous)
            assert reason.is_failure and "authori" in str(reason).lower()  # type: ignore[attr-defined]
        wrong, reason = _connect(tls, ca=ca, username="box-1", password="guessed")
        clients.append(wrong)
        assert reason.is_failure  # type: ignore[attr-defined]
    finally:
        for client in clients:
            client.loop_stop()
            client.disconnect()


def test_mosquitto_snippet_makes_the_account_name_the_client_id(
    deployed_broker: tuple[int, int, Path],
) -> None:
    """use_username_as_clientid: a second login of box-1, whatever id it claims, takes over the
    first one's session, so nobody can pose as another box's client id."""
    _plain, tls, ca = deployed_broker
    first, _ = _connect(tls, ca=ca, username="box-1", password="box-pw", client_id="box-1")
    dropped = threading.Event()
    first.on_disconnect = lambda *_args: dropped.set()
    second, reason = _connect(tls, ca=ca, username="box-1", password="box-pw", client_id="another-id")
    try:
        assert not reason.is_failure  # type: ignore[attr-defined]
        assert dropped.wait(5)
    finally:
        for client in (first, second):
            client.loop_stop()
            client.disconnect()


def test_mosquitto_tls_listener_refuses_a_client_trusting_another_ca(
    deployed_broker: tuple[int, int, Path],
) -> None:
    _plain, tls, _ca = deployed_broker
    other = trustme.CA()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)  # paho drops the socket of a failed handshake
        client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        context = ssl.create_default_context()
        other.configure_trust(context)
        client.tls_set_context(context)
        with pytest.raises(ssl.SSLCertVerificationError):
            client.connect("127.0.0.1", tls)
        del client
        gc.collect()


# --- nginx: syntax, then a real controller behind it ------------------------------------------------


@pytest.fixture
def nginx_site(tmp_path: Path) -> tuple[Path, int, int, int, trustme.CA]:
    """deploy/nginx/loa.conf with its ports and certificates moved, in a main config of its own."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "loa.example.vn")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "panel.pem"))
    cert.private_key_pem.write_to_path(str(tmp_path / "panel.key"))
    http, https, app = free_port(), free_port(), free_port()
    text = NGINX_CONF.read_text()
    for old, new in (
        ("listen [::]:80;", ""),
        ("listen [::]:443 ssl http2;", ""),
        ("listen 80;", f"listen 127.0.0.1:{http};"),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https} ssl http2;"),
        ("/etc/loa/tls/panel.pem", str(tmp_path / "panel.pem")),
        ("/etc/loa/tls/panel.key", str(tmp_path / "panel.key")),
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{app};"),
    ):
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    (tmp_path / "loa.conf").write_text(text)
    temp = "\n".join(
        f"  {kind}_temp_path {tmp_path}/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (tmp_path / "nginx.conf").write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nworker_processes 1;\n"
        + "events { worker_connections 64; }\n"
        + f"http {{\n  access_log {tmp_path}/access.log;\n{temp}\n  include {tmp_path}/loa.conf;\n}}\n"
    )
    return tmp_path / "nginx.conf", http, https, app, ca


def _nginx(conf: Path, *args: str) -> list[str]:
    return [
        shutil.which("nginx") or "/usr/sbin/nginx",
        "-p",
        str(conf.parent),
        "-e",
        str(conf.parent / "error.log"),
        "-c",
        str(conf),
        *args,
    ]


def test_nginx_config_is_valid(nginx_site: tuple[Path, int, int, int, trustme.CA]) -> None:
    conf = nginx_site[0]
    done = subprocess.run(_nginx(conf, "-t"), capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "syntax is ok" in done.stderr


def test_nginx_serves_the_controller_over_https_with_its_headers(
    nginx_site: tuple[Path, int, int, int, trustme.CA], tmp_path: Path
) -> None:
    conf, http, https, app, ca = nginx_site
    env = {
        **os.environ,
        "LOA_DATA_DIR": str(tmp_path / "data"),
        "LOA_PORT": str(app),
        "LOA_MQTT_PORT": str(free_port()),
    }
    with (tmp_path / "serve.log").open("wb") as log:
        serve = subprocess.Popen(
            [sys.executable, "-m", "loa", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    proxy = subprocess.Popen(
        _nginx(conf, "-g", "daemon off;"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for_port("127.0.0.1", app, timeout=60)
        wait_for_port("127.0.0.1", https)
        context = ssl.create_default_context()
        ca.configure_trust(context)
        with httpx.Client(verify=context, follow_redirects=False) as client:
            plain = client.get(f"http://127.0.0.1:{http}/login")
            assert plain.status_code == 301
            assert plain.headers["location"].startswith("https://")

            health = client.get(f"https://127.0.0.1:{https}/healthz")
            assert health.status_code == 200 and health.json()["ok"] is True
            assert health.headers["strict-transport-security"].startswith("max-age=")
            assert health.headers["x-content-type-options"] == "nosniff"
            assert "frame-ancestors 'none'" in health.headers["content-security-policy"]
            assert "server" not in health.headers or "uvicorn" not in health.headers["server"]

            # The app builds this redirect from the request's own URL: https, because uvicorn
            # trusts nginx's X-Forwarded-Proto (LOA_FORWARDED_ALLOW_IPS).
            slash = client.get(f"https://127.0.0.1:{https}/api/docs/")
            assert slash.status_code == 307
            assert slash.headers["location"].startswith("https://")
            direct = client.get(f"http://127.0.0.1:{app}/api/docs/")
            assert direct.headers["location"].startswith("http://")

            metrics = client.get(f"https://127.0.0.1:{https}/metrics")  # from this host: allowed
            assert metrics.status_code == 200 and "loa_leader" in metrics.text
    finally:
        proxy.terminate()
        proxy.wait(10)
        serve.terminate()
        serve.wait(30)


# --- systemd ------------------------------------------------------------------------------------


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_unit_passes_systemd_analyze_verify(unit: Path, tmp_path: Path) -> None:
    """ExecStart paths point at /opt/loa/venv, which this machine has not: the unit is verified
    with them moved to a stand-in venv; everything else is the file as shipped."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (apt-get install systemd)")
    venv = tmp_path / "venv" / "bin"
    venv.mkdir(parents=True)
    for name in ("loa", "python"):
        (venv / name).write_text("#!/bin/sh\n")
        (venv / name).chmod(0o755)
    copy = tmp_path / unit.name
    copy.write_text(unit.read_text().replace("/opt/loa/venv/bin", str(venv)))
    if unit.suffix == ".timer":
        (tmp_path / unit.with_suffix(".service").name).write_text(
            (ROOT / "systemd" / unit.with_suffix(".service").name)
            .read_text()
            .replace("/opt/loa/venv/bin", str(venv))
        )

    done = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr  # no warnings either (unknown keys, bad values)


def test_mosquitto_drop_in_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze, debian_unit = shutil.which("systemd-analyze"), Path("/lib/systemd/system/mosquitto.service")
    if analyze is None or not debian_unit.exists():
        pytest.skip("needs systemd-analyze and Debian's mosquitto package")
    shutil.copy(debian_unit, tmp_path / "mosquitto.service")
    (tmp_path / "mosquitto.service.d").mkdir()
    shutil.copy(ROOT / "systemd/mosquitto.service.d/loa.conf", tmp_path / "mosquitto.service.d/loa.conf")

    done = subprocess.run(
        [analyze, "verify", str(tmp_path / "mosquitto.service")], capture_output=True, text=True, timeout=60
    )

    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr
