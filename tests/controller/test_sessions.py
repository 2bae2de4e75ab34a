"""Logins: server-side sessions with a new id at every login, idle and absolute limits, the session
cookie's attributes, CSRF on cookie-authenticated API changes, and login rate limiting and lockout."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, delete, select

from controller import device_cookies
from controller.app import create_app
from controller.login_limits import Tally, after_failure
from controller.models import AuditEvent, AuthSession, LoginThrottle, utcnow
from device_registry.credentials import token_hash
from tests.controller.conftest import PASSWORD, World, make_world

LOCKED_VI = "Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau 15 phút."


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from make_world(Path(tmp_path_factory.mktemp("sessions")))


@pytest.fixture
def world(shared: World) -> Iterator[World]:
    """The module's world, with no login limits reached and the default settings."""
    settings = shared.services.settings
    yield shared
    shared.services.settings = settings
    shared.client.cookies.clear()
    with shared.session() as session:
        session.exec(delete(LoginThrottle))
        session.commit()


def _login(client: TestClient, username: str, password: str = PASSWORD) -> TestClient:
    response = client.post(
        "/login", data={"username": username, "password": password}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    return client


def _csrf(client: TestClient) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").text)
    assert match
    return match.group(1)


def test_a_login_sets_an_httponly_samesite_cookie_and_a_new_session_id_each_time(world: World) -> None:
    first = world.client.post(
        "/login", data={"username": "auditor", "password": PASSWORD}, follow_redirects=False
    )
    cookie = first.headers["set-cookie"]
    assert cookie.startswith("loa_session=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie and "Secure" not in cookie
    old = world.client.cookies["loa_session"]
    _login(world.client, "auditor")
    new = world.client.cookies["loa_session"]
    assert new != old
    with world.session() as session:
        assert session.get(AuthSession, token_hash(old)) is None  # the old id is gone, not just replaced
        assert session.get(AuthSession, token_hash(new)) is not None
    stale = TestClient(world.client.app, cookies={"loa_session": old})
    assert stale.get("/", follow_redirects=False).headers["location"] == "/login"


def test_over_tls_the_cookie_is_secure_with_the_host_prefix(world: World) -> None:
    settings = world.services.settings.model_copy(update={"secure_cookies": True})
    client = TestClient(
        create_app(settings, connect_mqtt=False, run_jobs=False), base_url="https://testserver"
    )
    response = client.post(
        "/login", data={"username": "auditor", "password": PASSWORD}, follow_redirects=False
    )
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("__Host-loa_session=")
    assert "Secure" in cookie and "HttpOnly" in cookie and "Path=/" in cookie and "Domain" not in cookie
    assert client.get("/", follow_redirects=False).status_code == 200


def _age(world: World, token: str, *, idle: timedelta = timedelta(0), age: timedelta = timedelta(0)) -> None:
    with world.session() as session:
        row = session.get(AuthSession, token_hash(token))
        assert row is not None
        row.last_seen_at -= idle
        row.created_at -= age
        session.add(row)
        session.commit()


def test_a_session_ends_after_the_idle_limit(world: World) -> None:
    token = _login(world.client, "auditor").cookies["loa_session"]
    _age(world, token, idle=timedelta(minutes=59))
    assert world.client.get("/", follow_redirects=False).status_code == 200
    _age(world, token, idle=timedelta(minutes=61))
    assert world.client.get("/", follow_redirects=False).headers["location"] == "/login"
    with world.session() as session:
        assert session.get(AuthSession, token_hash(token)) is None


def test_a_busy_session_still_ends_at_the_absolute_limit(world: World) -> None:
    token = _login(world.client, "auditor").cookies["loa_session"]
    _age(world, token, age=timedelta(hours=12, minutes=1))  # seen a moment ago, but logged in long ago
    assert world.client.get("/", follow_redirects=False).headers["location"] == "/login"


def test_an_api_login_token_has_the_same_limits(world: World) -> None:
    headers = world.token("auditor")
    assert world.client.get("/api/v1/bulletins", headers=headers).status_code == 200
    _age(world, headers["Authorization"][7:], idle=timedelta(minutes=61))
    assert world.client.get("/api/v1/bulletins", headers=headers).status_code == 401


def test_a_cookie_changes_nothing_through_the_api_without_the_csrf_header(world: World) -> None:
    csrf = _csrf(_login(world.client, "editor_a"))
    body = {"commune_id": world.commune_a, "title": "Tin", "body": "Kính thưa bà con."}
    refused = world.client.post("/api/v1/bulletins", json=body)
    assert refused.status_code == 403 and "X-CSRF-Token" in refused.json()["detail"]
    assert (
        world.client.post("/api/v1/bulletins", json=body, headers={"X-CSRF-Token": "forged"}).status_code
        == 403
    )
    assert (
        world.client.post("/api/v1/bulletins", json=body, headers={"X-CSRF-Token": csrf}).status_code == 201
    )
    assert world.client.get("/api/v1/bulletins").status_code == 200  # reading needs no token


def test_another_site_cannot_log_a_visitor_in(world: World) -> None:
    response = world.client.post(
        "/login",
        data={"username": "auditor", "password": PASSWORD},
        headers={"Sec-Fetch-Site": "cross-site"},
        follow_redirects=False,
    )
    assert response.status_code == 403 and "loa_session" not in world.client.cookies


def _fail(client: TestClient, username: str) -> tuple[int, str]:
    response = client.post("/login", data={"username": username, "password": "wrong-password"})
    return response.status_code, response.text


def test_five_failures_lock_a_username_even_against_the_right_password(world: World) -> None:
    assert [_fail(world.client, "editor_a")[0] for _ in range(4)] == [401] * 4
    status, page = _fail(world.client, "editor_a")
    assert status == 429 and LOCKED_VI in page
    right = world.client.post("/login", data={"username": "editor_a", "password": PASSWORD})
    assert (
        right.status_code == 429
        and LOCKED_VI in right.text
        and 840 < int(right.headers["retry-after"]) <= 900
    )
    api = world.client.post("/api/v1/auth/token", json={"username": "Editor_A", "password": PASSWORD})
    assert (
        api.status_code == 429 and 840 < api.json()["retry_after"] <= 900
    )  # the name's case does not matter
    assert _login(world.client, "approver_a")  # another user on the same address is not locked out
    with world.session() as session:
        locks = session.exec(select(AuditEvent).where(AuditEvent.action == "login.locked")).all()
    assert [e.object_id for e in locks][-1:] == ["user:editor_a"]


def test_an_unknown_username_is_locked_the_same_way(world: World) -> None:
    """The answers say nothing about whether a username exists."""
    real = [_fail(world.client, "editor_b") for _ in range(6)]
    ghost = [_fail(world.client, "no-such-user") for _ in range(6)]
    assert [s for s, _ in real] == [s for s, _ in ghost] == [401] * 4 + [429] * 2

    def message(page: str) -> str:
        return re.sub(r'value="[^"]*"', "", page)

    assert [message(p) for _, p in real] == [message(p) for _, p in ghost]


def test_many_failures_from_one_address_lock_that_address(world: World) -> None:
    world.services.settings = world.services.settings.model_copy(update={"login_max_failures_per_address": 3})
    for username in ("a1", "a2", "a3"):
        _fail(world.client, username)
    response = world.client.post("/login", data={"username": "auditor", "password": PASSWORD})
    assert response.status_code == 429 and LOCKED_VI in response.text
    with world.session() as session:
        assert session.get(LoginThrottle, "addr:testclient") is not None


def test_a_lock_ends_after_its_time_and_a_good_login_clears_the_count(world: World) -> None:
    for _ in range(5):
        _fail(world.client, "approver_b")
    with world.session() as session:
        row = session.get(LoginThrottle, "user:approver_b")
        assert row is not None and row.locked_until is not None
        row.locked_until = utcnow() - timedelta(seconds=1)
        session.add(row)
        session.commit()
    _login(world.client, "approver_b")
    with world.session() as session:
        assert (
            session.exec(select(LoginThrottle).where(col(LoginThrottle.key) == "user:approver_b")).all() == []
        )


def test_failures_older_than_the_window_are_forgotten() -> None:
    now, window = utcnow(), timedelta(minutes=15)
    assert after_failure(None, now=now, limit=5, lockout=window) == Tally(1, now)
    fresh = Tally(4, now - timedelta(minutes=14))
    assert after_failure(fresh, now=now, limit=5, lockout=window).locked_until == now + window
    old = Tally(4, now - timedelta(minutes=16))
    assert after_failure(old, now=now, limit=5, lockout=window) == Tally(1, now)
    expired_lock = Tally(5, now - timedelta(minutes=14), locked_until=now - timedelta(seconds=1))
    assert after_failure(expired_lock, now=now, limit=5, lockout=window) == Tally(1, now)


def _device_cookie(client: TestClient) -> str:
    value = client.cookies.get("loa_device")
    assert value, "a login leaves a device cookie"
    return value


def test_a_browser_the_user_logged_in_from_is_not_locked_out_by_a_stranger(world: World) -> None:
    device = _device_cookie(_login(world.client, "editor_a"))
    world.client.cookies.clear()
    for _ in range(5):  # a stranger's browser, with no cookie of this user
        _fail(world.client, "editor_a")
    stranger = world.client.post("/login", data={"username": "editor_a", "password": PASSWORD})
    assert stranger.status_code == 429 and LOCKED_VI in stranger.text
    world.client.cookies.set("loa_device", device)
    assert _login(world.client, "editor_a")  # the user's own browser still gets in
    with world.session() as session:
        assert session.get(LoginThrottle, "user:editor_a") is None  # and its good login clears the lock


def test_a_known_browser_counts_its_own_failures_and_locks_only_itself(world: World) -> None:
    device = _device_cookie(_login(world.client, "approver_a"))
    world.client.cookies.clear()
    world.client.cookies.set("loa_device", device)
    assert [_fail(world.client, "approver_a")[0] for _ in range(5)] == [401] * 4 + [429]
    mine = world.client.post("/login", data={"username": "approver_a", "password": PASSWORD})
    assert mine.status_code == 429  # this browser guessed: it is locked
    with world.session() as session:
        assert session.get(LoginThrottle, "user:approver_a") is None  # the username is not
        assert session.get(LoginThrottle, "addr:testclient") is None
    world.client.cookies.clear()
    assert _login(world.client, "approver_a")  # so another browser still gets in


@pytest.mark.parametrize(
    "cookie",
    [
        "forged.value",
        "not-a-cookie",
        "",
        "eA.eA",
    ],
)
def test_a_forged_or_foreign_device_cookie_earns_nothing(world: World, cookie: str) -> None:
    for _ in range(5):
        _fail(world.client, "editor_b")
    world.client.cookies.set("loa_device", cookie)
    refused = world.client.post("/login", data={"username": "editor_b", "password": PASSWORD})
    assert refused.status_code == 429


def test_a_cookie_of_another_user_or_an_old_one_earns_nothing(world: World) -> None:
    signer = world.services.signer
    now = datetime.now(UTC)
    other = device_cookies.issue(signer, username="auditor", now=now)
    long_ago = now - device_cookies.LIFETIME - timedelta(days=1)
    old = device_cookies.issue(signer, username="editor_b", now=long_ago)
    mine = device_cookies.issue(signer, username="Editor_B", now=now)
    payload, signature = mine.split(".")
    tampered = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + signature
    assert device_cookies.throttle_key(signer, mine, username="editor_b", now=now) is not None
    for value in (other, old, tampered):
        assert device_cookies.throttle_key(signer, value, username="editor_b", now=now) is None
    for _ in range(5):
        _fail(world.client, "editor_b")
    for value in (other, old, tampered):
        world.client.cookies.set("loa_device", value)
        right = world.client.post("/login", data={"username": "editor_b", "password": PASSWORD})
        assert right.status_code == 429
