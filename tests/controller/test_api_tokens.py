"""Per-user API tokens: shown once, stored hashed, scoped like their owner, listed, revoked, expired;
a user manages their own, an admin anyone's."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from controller.models import ApiToken, AuditEvent, User, utcnow
from tests.controller.conftest import PASSWORD, World, approved_bulletin, make_world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from make_world(Path(tmp_path_factory.mktemp("tokens")))


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def _user_id(world: World, username: str) -> int:
    with world.session() as session:
        return session.exec(select(User.id).where(User.username == username)).one() or 0


def test_a_token_is_shown_once_stored_hashed_and_acts_as_its_owner(world: World) -> None:
    editor = world.token("editor_a")
    approved_bulletin(world, editor="editor_b", approver="approver_b", commune=world.commune_b)
    mine = approved_bulletin(world)
    made = world.client.post(
        "/api/v1/tokens", json={"name": "xuất báo cáo", "expires_in_days": 30}, headers=editor
    )
    assert made.status_code == 201 and made.headers["cache-control"] == "no-store"
    secret = made.json()["token"]
    assert secret.startswith("loa_") and len(secret) > 40 and made.json()["state"] == "active"
    with world.session() as session:
        row = session.get(ApiToken, made.json()["id"])
        assert row is not None and row.token_hash == hashlib.sha256(secret.encode()).hexdigest()
        assert secret not in str(row.model_dump()) and row.hint == secret[:8]
    listed = world.client.get("/api/v1/tokens", headers=editor).json()
    assert [t["name"] for t in listed] == ["xuất báo cáo"] and "token" not in listed[0]
    seen = world.client.get("/api/v1/bulletins", headers=_bearer(secret)).json()
    assert [b["id"] for b in seen] == [mine["id"]]  # the owner's commune only
    sha = str(mine["media_sha256"])
    assert world.client.get(f"/media/{sha}", headers=_bearer(secret)).status_code == 200
    with world.session() as session:
        row = session.get(ApiToken, made.json()["id"])
        assert row is not None and row.last_used_at is not None


def test_a_revoked_or_expired_token_is_refused(world: World) -> None:
    editor = world.token("editor_a")
    first = world.client.post("/api/v1/tokens", json={"name": "một"}, headers=editor).json()
    second = world.client.post(
        "/api/v1/tokens", json={"name": "hai", "expires_in_days": 1}, headers=editor
    ).json()
    assert world.client.delete(f"/api/v1/tokens/{first['id']}", headers=editor).status_code == 204
    assert world.client.get("/api/v1/zones", headers=_bearer(first["token"])).status_code == 401
    with world.session() as session:
        row = session.get(ApiToken, second["id"])
        assert row is not None
        row.expires_at = utcnow() - timedelta(seconds=1)
        session.add(row)
        session.commit()
    assert world.client.get("/api/v1/zones", headers=_bearer(second["token"])).status_code == 401
    states = {t["name"]: t["state"] for t in world.client.get("/api/v1/tokens", headers=editor).json()}
    assert states["một"] == "revoked" and states["hai"] == "expired"
    with world.session() as session:
        actions = session.exec(select(AuditEvent.action).where(AuditEvent.object_type == "apitoken")).all()
    assert "token.create" in actions and "token.revoke" in actions


def test_a_user_manages_only_their_own_tokens_and_an_admin_anyones(world: World) -> None:
    owner, other, admin = world.token("approver_a"), world.token("auditor"), world.token("admin")
    made = world.client.post("/api/v1/tokens", json={"name": "lịch"}, headers=owner).json()
    owner_id = _user_id(world, "approver_a")
    assert world.client.delete(f"/api/v1/tokens/{made['id']}", headers=other).status_code == 404
    assert world.client.get(f"/api/v1/tokens?user_id={owner_id}", headers=other).status_code == 404
    foreign = world.client.post("/api/v1/tokens", json={"name": "x", "user_id": owner_id}, headers=other)
    assert foreign.status_code == 404
    assert [
        t["id"] for t in world.client.get(f"/api/v1/tokens?user_id={owner_id}", headers=admin).json()
    ] == [made["id"]]
    for_owner = world.client.post(
        "/api/v1/tokens", json={"name": "máy chủ", "user_id": owner_id}, headers=admin
    )
    assert for_owner.status_code == 201 and for_owner.json()["user_id"] == owner_id
    assert world.client.delete(f"/api/v1/tokens/{made['id']}", headers=admin).status_code == 204
    assert world.client.get("/api/v1/zones", headers=_bearer(made["token"])).status_code == 401


def test_the_panel_shows_a_new_token_once_and_revokes_it(world: World) -> None:
    client = TestClient(world.client.app)
    client.post("/login", data={"username": "tech", "password": PASSWORD})
    page = client.get("/tokens")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert page.status_code == 200 and "Mã truy cập API của tôi" in page.text and csrf
    bad = client.post("/tokens", data={"csrf_token": csrf.group(1), "name": "", "expires": "30"})
    assert bad.status_code == 422 and 'id="name-error"' in bad.text
    made = client.post("/tokens", data={"csrf_token": csrf.group(1), "name": "giám sát", "expires": "90"})
    secret = re.search(r'id="new-token">(loa_[^<]+)<', made.text)
    assert made.status_code == 201 and secret and made.headers["cache-control"] == "no-store"
    assert world.client.get("/api/v1/devices", headers=_bearer(secret.group(1))).status_code == 200
    again = client.get("/tokens")
    assert secret.group(1) not in again.text and "giám sát" in again.text
    token_id = re.search(r'action="/tokens/(\d+)/revoke"', again.text)
    assert token_id
    client.post(f"/tokens/{token_id.group(1)}/revoke", data={"csrf_token": csrf.group(1)})
    assert world.client.get("/api/v1/devices", headers=_bearer(secret.group(1))).status_code == 401
