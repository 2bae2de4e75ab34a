"""A controller on a real SQLite database, without a broker: published documents are captured."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from audio.testing import FakeTtsEngine
from controller.app import create_app
from controller.auth import hash_password
from controller.db import migrate
from controller.devices import register_device
from controller.models import Zone
from controller.seed import add_user, add_village, load_province
from controller.services import Services
from controller.settings import Settings
from playlists.signing import public_key_b64
from tests.databases import seeded_database_url

PASSWORD = "test-password-1"  # test fixture only


@functools.cache
def _password_hash() -> str:
    return hash_password(PASSWORD)  # once per test process: argon2 is slow on purpose


@dataclass
class World:
    client: TestClient
    services: Services
    published: list[tuple[str, bytes, bool]]
    commune_a: int
    commune_b: int
    village_a1: int
    village_a2: int
    village_b1: int
    device_keys: dict[str, Ed25519PrivateKey] = field(default_factory=dict)
    device_tokens: dict[str, str] = field(default_factory=dict)

    def session(self) -> Session:
        return Session(self.services.engine)

    def token(self, username: str) -> dict[str, str]:
        response = self.client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['token']}"}


def make_world(tmp_path: Path, *, mqtt_port: int | None = None) -> Iterator[World]:
    """A controller with demo-like data; with ``mqtt_port`` it publishes to that real broker too."""
    settings = Settings(
        data_dir=tmp_path / "controller",
        database_url=seeded_database_url(tmp_path),
        environment="development",
        mqtt_port=mqtt_port or 1883,
    )
    migrate(settings.resolved_database_url)
    app = create_app(settings, connect_mqtt=mqtt_port is not None, run_jobs=False)
    services: Services = app.state.services
    services.renderer.engine = FakeTtsEngine()
    published: list[tuple[str, bytes, bool]] = []
    gateway = services.gateway

    def record(topic: str, payload: bytes, retain: bool) -> None:
        published.append((topic, payload, retain))
        if gateway is not None:
            gateway.publish(topic, payload, retain)

    services.publisher.publish = record
    services.emergencies.publish = record
    with Session(services.engine) as session:
        load_province(session)
        communes = session.exec(select(Zone).where(Zone.kind == "commune").order_by(Zone.name)).all()
        a, b = communes[0], communes[1]
        a1 = add_village(session, commune=a, code="va1", name="Thôn A1")
        a2 = add_village(session, commune=a, code="va2", name="Thôn A2")
        b1 = add_village(session, commune=b, code="vb1", name="Thôn B1")
        for username, role, communes_of in (
            ("editor_a", "editor", [a.id]),
            ("approver_a", "approver", [a.id]),
            ("editor_b", "editor", [b.id]),
            ("approver_b", "approver", [b.id]),
            ("auditor", "auditor", []),
            ("admin", "admin", []),
            ("tech", "technician", []),
        ):
            add_user(
                session,
                username=username,
                full_name=username,
                password=PASSWORD,
                role=role,
                commune_ids=[c or 0 for c in communes_of],
                password_hash=_password_hash(),
            )
        world = World(
            TestClient(app), services, published, a.id or 0, b.id or 0, a1.id or 0, a2.id or 0, b1.id or 0
        )
        for device_id, zone in (("box-a1", a1), ("box-a2", a2), ("box-b1", b1)):
            key = Ed25519PrivateKey.generate()
            _device, token = register_device(
                session,
                device_id=device_id,
                name=device_id,
                zone_id=zone.id or 0,
                public_key=public_key_b64(key.public_key()),
            )
            world.device_keys[device_id] = key
            world.device_tokens[device_id] = token
    with world.client:
        yield world


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from make_world(tmp_path)


def approved_bulletin(
    world: World,
    *,
    editor: str = "editor_a",
    approver: str = "approver_a",
    commune: int | None = None,
    body: str = "Kính thưa bà con.",
) -> dict[str, object]:
    """Create, submit and approve a bulletin through the API; returns its JSON."""
    ed, ap = world.token(editor), world.token(approver)
    created = world.client.post(
        "/api/v1/bulletins",
        json={"commune_id": commune or world.commune_a, "title": "Tiêm phòng", "body": body},
        headers=ed,
    )
    assert created.status_code == 201, created.text
    bid = created.json()["id"]
    assert world.client.post(f"/api/v1/bulletins/{bid}/submit", headers=ed).status_code == 200
    approved = world.client.post(f"/api/v1/bulletins/{bid}/approve", headers=ap)
    assert approved.status_code == 200, approved.text
    result: dict[str, object] = approved.json()
    return result
