"""``loa demo``: a broker, the controller and a few real agents on this machine, with demo data."""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, select

from loa.mosquitto import Mosquitto

if TYPE_CHECKING:
    from controller.settings import Settings

DEMO_COMMUNE = "Xã Nghi Lộc"
DEMO_VILLAGES = (("v-demo-1", "Xóm Đông Lộc"), ("v-demo-2", "Xóm Tây Lộc"))
DEMO_LOCATION = (18.8226, 105.6933)  # near the commune's centre, for the map
# Demo-only logins, printed at start; nothing outside `loa demo` creates these.
DEMO_USERS = (
    ("editor", "Nguyễn Thị Lan", "editor"),
    ("approver", "Trần Văn Hùng", "approver"),
    ("auditor", "Lê Minh Đức", "auditor"),
    ("admin", "Quản trị tỉnh", "admin"),
    ("technician", "Phạm Văn Kỹ", "technician"),
)


def demo_password(username: str) -> str:
    return f"demo-{username}"


@dataclass(frozen=True)
class DemoBox:
    device_id: str
    config_path: Path
    sink_dir: Path


def enrol_box(
    session: Session, *, code: str, folder: Path, settings: Settings, controller_key: str, **local: Any
) -> Path:
    """Enrol the box whose folder is ``folder`` the way a real one does (its own Ed25519 key made
    there, the one-time ``code`` traded for its credentials) and write its agent.toml from what
    enrolment returned, with ``local`` settings (sink, …); returns the config's path."""
    from controller import registry
    from edge_agent.config import AgentConfig, write_config
    from edge_agent.identity import load_or_create_device_key
    from playlists.signing import public_key_b64

    key = load_or_create_device_key(folder)
    creds = registry.enroll(
        session,
        code=code,
        public_key=public_key_b64(key.public_key()),
        settings=settings,
        controller_key=controller_key,
    )
    config_path = folder / "agent.toml"
    write_config(
        config_path,
        AgentConfig(
            device_id=creds.device_id,
            controller_url=creds.media_base_url,
            media_token=creds.media_token,
            controller_public_key=creds.controller_public_key,
            mqtt_host=creds.mqtt_host,
            mqtt_port=creds.mqtt_port,
            mqtt_username=creds.mqtt_username,
            mqtt_password=creds.mqtt_password,
            data_dir=folder,
            zones=creds.zones,
            **local,
        ),
    )
    return config_path


def seed_demo(settings: Settings, *, agents_root: Path, boxes: int) -> list[DemoBox]:
    """Province, one commune with two villages, the demo users and ``boxes`` boxes registered and
    enrolled the way real ones are (one-time code, the box's own key, its own broker account)."""
    from controller import registry
    from controller.db import make_engine
    from controller.models import Device, User, Zone
    from controller.seed import add_user, add_village, load_province
    from playlists.signing import load_or_create_private_key, public_key_b64

    engine = make_engine(settings.resolved_database_url)
    controller_key = public_key_b64(
        load_or_create_private_key(settings.resolved_signing_key_path).public_key()
    )
    result = []
    with Session(engine) as session:
        load_province(session)
        commune = session.exec(select(Zone).where(Zone.name == DEMO_COMMUNE, Zone.kind == "commune")).one()
        villages = [
            add_village(session, commune=commune, code=code, name=name) for code, name in DEMO_VILLAGES
        ]
        for username, full_name, role in DEMO_USERS:
            communes = [commune.id or 0] if role in ("editor", "approver") else []
            add_user(
                session,
                username=username,
                full_name=full_name,
                password=demo_password(username),
                role=role,
                commune_ids=communes,
            )
        admin = session.exec(select(User).where(User.username == "admin")).one()
        for index in range(boxes):
            device_id = f"loa-{index + 1:02d}"
            folder = agents_root / device_id
            village = villages[0] if index < (boxes + 1) // 2 else villages[1]
            if session.get(Device, device_id) is None:
                _device, code = registry.register_box(
                    session,
                    user=admin,
                    device_id=device_id,
                    name=f"Cụm loa {index + 1} – {village.name}",
                    zone_id=village.id or 0,
                    lat=DEMO_LOCATION[0] + 0.004 * index,
                    lon=DEMO_LOCATION[1] + (0.006 if village is villages[1] else 0.0),
                    address=f"{village.name}, {DEMO_COMMUNE}",
                    code_hours=1,
                )
            else:  # --keep: enrol the same box again, which rotates its credentials
                code = registry.new_code(session, user=admin, device_id=device_id, code_hours=1)
            config_path = enrol_box(
                session,
                code=code,
                folder=folder,
                settings=settings,
                controller_key=controller_key,
                sink="file",
                sink_dir=folder / "sink",
            )
            result.append(DemoBox(device_id, config_path, folder / "sink"))
        registry.BrokerSync(settings).apply(session)
    engine.dispose()
    return result


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def run_demo(*, data_dir: Path, port: int, boxes: int, keep: bool) -> int:
    import uvicorn

    from controller.app import create_app
    from controller.db import migrate
    from controller.settings import Settings

    for noisy in ("alembic", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    data_dir = data_dir.resolve()
    if not _port_free(port):
        print(f"loa demo: port {port} is in use; choose another with --port", file=sys.stderr)
        return 2
    if data_dir.exists() and not keep:
        shutil.rmtree(data_dir)
    broker_dir = data_dir / "broker"
    broker = Mosquitto(
        broker_dir,
        password_file=broker_dir / "passwords",
        acl_file=broker_dir / "acl",
        extra_config="use_username_as_clientid true\n",
        user="root" if os.geteuid() == 0 else None,
    )
    agents: list[subprocess.Popen[bytes]] = []
    # SIGTERM (systemd, docker, a terminal closing) stops it like Ctrl-C: without this, uvicorn hands
    # the signal back to Python's default action after its shutdown and the broker and boxes outlive us.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        settings = Settings(
            environment="demo",
            data_dir=data_dir / "controller",
            mqtt_port=broker.port,
            mqtt_username="loa_controller",
            mqtt_password=secrets.token_urlsafe(24),  # made per run, never stored in the repo
            broker_password_file=broker.password_file,
            broker_acl_file=broker.acl_file,
            broker_pid_file=broker_dir / "mosquitto.pid",
            port=port,
            public_url=f"http://127.0.0.1:{port}",
            compile_interval_seconds=30,
        )
        migrate(settings.resolved_database_url)
        demo_boxes = seed_demo(settings, agents_root=data_dir / "agents", boxes=boxes)
        broker.start()  # with the accounts the registry just wrote; anonymous access is off
        (broker_dir / "mosquitto.pid").write_text(f"{broker.process.pid if broker.process else ''}\n")
        for box in demo_boxes:
            with (box.config_path.parent / "agent.log").open("ab") as log_file:
                agents.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "loa", "agent", "--config", str(box.config_path)],
                        stdout=log_file,
                        stderr=subprocess.STDOUT,
                    )
                )
        app = create_app(settings)
        _banner(port=port, broker_port=broker.port, data_dir=data_dir, boxes=demo_boxes)
        uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")).run()
    except KeyboardInterrupt:
        print("loa demo: stopping the boxes and the broker …", flush=True)
    finally:
        for process in agents:
            process.terminate()
        for process in agents:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        broker.stop()
        print("loa demo: stopped everything it started.", flush=True)
    return 0


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _banner(*, port: int, broker_port: int, data_dir: Path, boxes: list[DemoBox]) -> None:
    lines = [
        "",
        "Loa demo is running.",
        f"  Panel:   http://127.0.0.1:{port}/",
        f"  Broker:  mqtt://127.0.0.1:{broker_port} (Mosquitto, config in {data_dir / 'broker'};",
        "           no anonymous access: each box has its own account and may touch only its own topics)",
        f"  Boxes:   {', '.join(b.device_id for b in boxes)} (what they play: {data_dir / 'agents'}/*/sink)",
        "  Logins (demo only):",
        *[f"    {role:<9} {username:<9} / {demo_password(username)}" for username, _n, role in DEMO_USERS],
        "  Stop with Ctrl-C.",
        "",
    ]
    print("\n".join(lines), flush=True)
