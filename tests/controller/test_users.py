"""The admin's user screens: create with role and communes, edit, reset a password, disable and
enable (a disabled user's sessions and API tokens end at once), all audited."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from controller.models import ApiToken, AuditEvent, AuthSession, User
from loa.admin import user_password
from tests.controller.conftest import PASSWORD, World, make_world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from make_world(Path(tmp_path_factory.mktemp("users")))


def _client(world: World, username: str, password: str = PASSWORD) -> tuple[TestClient, str]:
    """A browser of its own, logged in to the panel; returns it and its CSRF token."""
    client = TestClient(world.client.app)
    response = client.post(
        "/login", data={"username": username, "password": password}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").text)
    assert match
    return client, match.group(1)


def _user(world: World, username: str) -> User:
    with world.session() as session:
        user = session.exec(select(User).where(User.username == username)).one()
        session.expunge(user)
        return user


def _actions(world: World, object_id: object) -> list[str]:
    with world.session() as session:
        events = session.exec(
            select(AuditEvent).where(AuditEvent.object_type == "user", AuditEvent.object_id == str(object_id))
        ).all()
    return [e.action for e in events]


def test_an_admin_creates_an_editor_who_sees_only_their_commune(world: World) -> None:
    admin, csrf = _client(world, "admin")
    created = admin.post(
        "/users",
        data={
            "csrf_token": csrf,
            "username": "lan",
            "full_name": "Nguyễn Thị Lan",
            "role": "editor",
            "password": "mat-khau-cua-lan",
            "commune_ids": [world.commune_b],
        },
        follow_redirects=False,
    )
    assert created.status_code == 303
    page = admin.get(created.headers["location"])
    assert "Đã tạo người dùng." in page.text and "Nguyễn Thị Lan" in page.text
    assert "lan" in admin.get("/users").text
    lan, _csrf = _client(world, "lan", "mat-khau-cua-lan")
    communes = [z["id"] for z in lan.get("/api/v1/zones").json() if z["kind"] == "commune"]
    assert communes == [world.commune_b]
    assert _actions(world, _user(world, "lan").id) == ["user.create", "login"]


def test_a_form_error_is_explained_next_to_its_field_and_keeps_what_was_typed(world: World) -> None:
    admin, csrf = _client(world, "admin")
    response = admin.post(
        "/users",
        data={
            "csrf_token": csrf,
            "username": "hoa",
            "full_name": "Trần Hoa",
            "role": "approver",
            "password": "x" * 12,
        },
    )
    assert response.status_code == 422
    assert re.search(
        r'id="communes-error"[^>]*>Hãy chọn xã, phường của biên tập viên hoặc người duyệt', response.text
    )
    assert 'value="Trần Hoa"' in response.text and 'value="hoa"' in response.text
    short = admin.post(
        "/users",
        data={"csrf_token": csrf, "username": "hoa", "role": "auditor", "password": "short"},
    )
    assert short.status_code == 422 and "Mật khẩu phải có ít nhất 10 ký tự." in short.text
    taken = admin.post(
        "/users", data={"csrf_token": csrf, "username": "Auditor", "role": "auditor", "password": "x" * 12}
    )
    assert taken.status_code == 422 and "Tên đăng nhập này đã có người dùng." in taken.text


def test_disabling_a_user_ends_their_sessions_and_api_tokens_at_once(world: World) -> None:
    victim, _csrf = _client(world, "approver_b")
    login_token = world.token("approver_b")
    made = world.client.post("/api/v1/tokens", json={"name": "script"}, headers=login_token)
    own_token = {"Authorization": f"Bearer {made.json()['token']}"}
    assert victim.get("/", follow_redirects=False).status_code == 200
    assert world.client.get("/api/v1/bulletins", headers=own_token).status_code == 200
    user_id = _user(world, "approver_b").id

    admin, csrf = _client(world, "admin")
    done = admin.post(f"/users/{user_id}/disable", data={"csrf_token": csrf}, follow_redirects=False)
    assert done.status_code == 303

    assert victim.get("/", follow_redirects=False).headers["location"] == "/login"
    assert world.client.get("/api/v1/bulletins", headers=login_token).status_code == 401
    assert world.client.get("/api/v1/bulletins", headers=own_token).status_code == 401
    refused = victim.post("/login", data={"username": "approver_b", "password": PASSWORD})
    assert refused.status_code == 401
    with world.session() as session:
        assert session.exec(select(AuthSession).where(AuthSession.user_id == user_id)).all() == []
        assert all(t.revoked_at for t in session.exec(select(ApiToken).where(ApiToken.user_id == user_id)))
    assert "user.disable" in _actions(world, user_id)

    admin.post(f"/users/{user_id}/enable", data={"csrf_token": csrf})
    _client(world, "approver_b")  # can log in again
    assert world.client.get("/api/v1/bulletins", headers=own_token).status_code == 401  # still revoked
    assert _actions(world, user_id)[-2:] == ["user.enable", "login"]


def test_a_password_reset_ends_the_users_sessions(world: World) -> None:
    victim, _csrf = _client(world, "editor_b")
    user_id = _user(world, "editor_b").id
    admin, csrf = _client(world, "admin")
    short = admin.post(f"/users/{user_id}/password", data={"csrf_token": csrf, "password": "short"})
    assert short.status_code == 422 and 'id="password-error"' in short.text
    admin.post(f"/users/{user_id}/password", data={"csrf_token": csrf, "password": "mat-khau-moi-123"})
    assert victim.get("/", follow_redirects=False).headers["location"] == "/login"
    assert victim.post("/login", data={"username": "editor_b", "password": PASSWORD}).status_code == 401
    _client(world, "editor_b", "mat-khau-moi-123")
    assert "user.password_reset" in _actions(world, user_id)


def test_an_admin_moves_an_editor_to_another_commune_and_role(world: World) -> None:
    user_id = _user(world, "editor_a").id
    admin, csrf = _client(world, "admin")
    saved = admin.post(
        f"/users/{user_id}",
        data={
            "csrf_token": csrf,
            "full_name": "Biên tập A",
            "role": "approver",
            "commune_ids": [world.commune_b],
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303
    moved = _user(world, "editor_a")
    assert (moved.role, moved.full_name) == ("approver", "Biên tập A")
    editor, _csrf = _client(world, "editor_a")
    assert [z["id"] for z in editor.get("/api/v1/zones").json() if z["kind"] == "commune"] == [
        world.commune_b
    ]
    assert "user.update" in _actions(world, user_id)


def test_an_admin_cannot_lock_themselves_out(world: World) -> None:
    admin, csrf = _client(world, "admin")
    me = _user(world, "admin").id
    assert admin.post(f"/users/{me}/disable", data={"csrf_token": csrf}).status_code == 409
    demoted = admin.post(f"/users/{me}", data={"csrf_token": csrf, "role": "auditor"})
    assert demoted.status_code == 422 and "Bạn không thể tự đổi vai trò của mình." in demoted.text
    assert _user(world, "admin").role == "admin" and _user(world, "admin").is_active


def test_the_server_command_line_sets_a_forgotten_password_and_lifts_the_lock(world: World) -> None:
    client = TestClient(world.client.app)
    for _ in range(5):
        client.post("/login", data={"username": "auditor", "password": "forgotten"})
    assert client.post("/login", data={"username": "auditor", "password": PASSWORD}).status_code == 429
    user_password(world.services.settings, username="auditor", password="mat-khau-moi-456")
    _client(world, "auditor", "mat-khau-moi-456")
    assert _actions(world, _user(world, "auditor").id)[-2:] == ["user.password_reset", "login"]
