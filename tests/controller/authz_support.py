"""The machinery of the authorisation matrix (test_authz_matrix.py): one controller with objects in
two communes, a login per role, a way to send any route's request as any role, and the verdict on
each answer."""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx2 as httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy import select as sa_select
from sqlmodel import SQLModel, select

from controller import registry
from controller.live import DeviceHub
from controller.models import Occurrence, Receipt, User, utcnow
from controller.seed import add_user
from playlists.signing import public_key_b64
from tests.controller.asrun_support import Boxes, publish_and_fold
from tests.controller.conftest import PASSWORD, World, approved_bulletin

ROLES = ("admin", "editor", "approver", "auditor", "technician", "anonymous")
#: The user acting in each role; editors and approvers belong to commune A ("own"), not B ("other").
USERNAMES = {
    "admin": "admin",
    "editor": "editor_a",
    "approver": "approver_a",
    "auditor": "auditor",
    "technician": "tech",
}
SAFE = ("GET", "HEAD", "OPTIONS")
# Bookkeeping a read may write: when a login or a token was last used.
UNWATCHED = {("authsession", "last_seen_at"), ("apitoken", "last_used_at")}
_NEW_BOXES = itertools.count()


def routes(app: FastAPI) -> Iterator[str]:
    """Every route of the app as "METHOD /path" (HEAD, implied by GET, left out; a mount as MOUNT)."""
    for route in iter_route_contexts(app.routes):
        for method in sorted(route.methods or {"MOUNT"}):
            if method != "HEAD":
                yield f"{method} {route.path}"


@dataclass(frozen=True)
class Call:
    """One request of the matrix: who sends it and whether it names their own objects or others'."""

    matrix: Matrix
    role: str
    side: str  # "own" (commune A, or the role's own things) or "other" (commune B, someone else's)

    def __call__(self, key: str) -> Any:
        return self.matrix.value(key, self.side, self.role)

    @property
    def username(self) -> str:
        return USERNAMES.get(self.role, "auditor")


Body = Mapping[str, Any]  # json / data / files / content / params / headers of a request
ADMIN = frozenset({"admin"})
# Who sees past the scope: the province-wide roles for communes, admins for other users' things.
PROVINCE_WIDE = frozenset({"admin", "auditor", "technician"})


@dataclass
class Matrix:
    world: World
    client: TestClient
    cookie_name: str
    objects: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    per_role: dict[str, dict[str, Any]] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)
    csrf: dict[str, str] = field(default_factory=dict)
    bearers: dict[str, str] = field(default_factory=dict)

    def value(self, key: str, side: str, role: str) -> Any:
        if key in self.per_role and side == "own":
            return self.per_role[key][role]
        own, other = self.objects[key]
        return own if side == "own" else other

    def send(
        self,
        method: str,
        path: str,
        *,
        role: str,
        body: Body,
        bare: bool = False,
        via: str | None = None,
        csrf: bool = True,
    ) -> httpx.Response:
        """Send as ``role``: the API (and media) with the role's bearer token, the panel with its
        session cookie and CSRF token; ``bare`` sends no credentials, ``via="cookie"`` uses the
        cookie on the API too, ``csrf=False`` forges the CSRF token."""
        headers = dict(body.get("headers", {}))
        data = dict(body.get("data", {}))
        how = via or ("bearer" if path.startswith(("/api/", "/media/")) else "cookie")
        if role != "anonymous" and not bare:
            if how == "bearer":
                headers["Authorization"] = f"Bearer {self.bearers[role]}"
            else:
                headers["Cookie"] = f"{self.cookie_name}={self.cookies[role]}"
                if method not in SAFE and not path.startswith("/api/"):
                    data["csrf_token"] = self.csrf[role] if csrf else "forged"
        try:
            return self.client.request(
                method,
                path,
                headers=headers,
                params=body.get("params"),
                json=body.get("json"),
                data=data or None,
                files=body.get("files"),
                content=body.get("content"),
                follow_redirects=False,
            )
        finally:
            self.client.cookies.clear()  # each request carries only the credentials it is given


def _login(client: TestClient, username: str) -> tuple[str, str]:
    response = client.post(
        "/login", data={"username": username, "password": PASSWORD}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    cookie = next(iter(client.cookies.values()))
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").text)
    client.cookies.clear()
    assert match
    return cookie, match.group(1)


def build(world: World) -> Matrix:
    """Logins for every role and, in both communes, the objects the routes name."""
    hub: DeviceHub = world.client.app.state.device_hub  # type: ignore[attr-defined]
    hub.stream_seconds = 0.0  # the live device stream answers, then ends at once
    client = TestClient(world.client.app, raise_server_exceptions=False)
    matrix = Matrix(world, client, world.services.session_cookie)
    api = world.client
    for role, username in USERNAMES.items():
        matrix.cookies[role], matrix.csrf[role] = _login(client, username)
        matrix.bearers[role] = world.token(username)["Authorization"][7:]
    ed_a, ed_b, ap_a, ap_b = (world.token(u) for u in ("editor_a", "editor_b", "approver_a", "approver_b"))
    a, b = world.commune_a, world.commune_b

    def bulletin(headers: dict[str, str], commune: int, *, submit: bool = False) -> int:
        made = api.post(
            "/api/v1/bulletins",
            json={"commune_id": commune, "title": "Tin", "body": "Kính thưa bà con."},
            headers=headers,
        )
        assert made.status_code == 201, made.text
        if submit:
            assert (
                api.post(f"/api/v1/bulletins/{made.json()['id']}/submit", headers=headers).status_code == 200
            )
        return int(made.json()["id"])

    approved = (
        approved_bulletin(world),
        approved_bulletin(
            world, editor="editor_b", approver="approver_b", commune=b, body="Thông báo của xã B."
        ),
    )

    def each(make: Callable[[dict[str, str], int, int, int], Any]) -> tuple[Any, Any]:
        return make(ed_a, a, world.village_a1, 0), make(ed_b, b, world.village_b1, 1)

    def schedule(headers: dict[str, str], _commune: int, village: int, i: int) -> int:
        body = {"bulletin_id": approved[i]["id"], "target_zone_id": village, "in_seconds": 3600}
        made = api.post("/api/v1/schedules", json=body, headers=headers)
        assert made.status_code == 201, made.text
        return int(made.json()["id"])

    def group(headers: dict[str, str], commune: int, _village: int, i: int) -> int:
        body = {"name": "Nhóm", "commune_id": commune, "device_ids": [("box-a1", "box-b1")[i]]}
        made = api.post("/api/v1/groups", json=body, headers=headers)
        assert made.status_code == 201, made.text
        return int(made.json()["id"])

    def playlist(headers: dict[str, str], commune: int, _village: int, i: int) -> int:
        entries = [{"kind": "bulletin", "bulletin_id": approved[i]["id"]}]
        made = api.post(
            "/api/v1/playlists",
            json={"name": "DS", "commune_id": commune, "entries": entries},
            headers=headers,
        )
        assert made.status_code == 201, made.text
        return int(made.json()["id"])

    def emergency(_headers: dict[str, str], _commune: int, village: int, i: int) -> int:
        body = {"bulletin_id": approved[i]["id"], "zone_ids": [village]}
        made = api.post("/api/v1/emergencies", json=body, headers=(ap_a, ap_b)[i])
        assert made.status_code == 201, made.text
        return int(made.json()["id"])

    admin = world.token("admin")
    entry = api.put(
        "/api/v1/lexicon", json={"kind": "abbreviation", "term": "MTTQ", "spoken": "mặt trận"}, headers=admin
    )
    with world.session() as session:
        victim = add_user(
            session, username="victim", full_name="Victim", password=PASSWORD, role="editor", commune_ids=[a]
        )
        other_user = session.exec(select(User).where(User.username == "editor_b")).one().id
    spare = api.post(
        "/api/v1/devices",
        json={"device_id": "box-spare", "name": "Spare", "zone_id": world.village_a1},
        headers=admin,
    )
    assert spare.status_code == 201, spare.text
    codes = {z["id"]: z["code"] for z in api.get("/api/v1/zones", headers=admin).json()}
    matrix.objects.update(
        commune=(a, b),
        commune_code=(codes[a], codes[b]),
        village=(world.village_a1, world.village_b1),
        bulletin_id=(int(str(approved[0]["id"])), int(str(approved[1]["id"]))),
        media=(approved[0]["media_sha256"], approved[1]["media_sha256"]),
        draft=(bulletin(ed_a, a), bulletin(ed_b, b)),
        submitted=(bulletin(ed_a, a, submit=True), bulletin(ed_b, b, submit=True)),
        schedule_id=each(schedule),
        group_id=each(group),
        playlist_id=each(playlist),
        emergency_id=each(emergency),
        device_id=("box-a1", "box-b1"),
        device=(("box-a1",), ("box-b1",)),
        spare_device=("box-spare", "box-b1"),
        entry_id=(entry.json()["id"], entry.json()["id"]),
        user_id=(victim.id, victim.id),
        owner=(None, other_user),
        version=("9.9.9", "9.9.9"),
    )
    publish_and_fold(world, utcnow())  # the schedules' airings, for the report pages
    boxes = Boxes(world)
    for device_id in ("box-a1", "box-b1"):
        boxes.report(device_id, "failed", "no-such-item", at=utcnow(), reason="media_missing")
    with world.session() as session:
        keys = {o.commune_id: o.broadcast_key for o in session.exec(select(Occurrence))}
        receipts = {r.device_id: r.id for r in session.exec(select(Receipt))}
    matrix.objects["broadcast_key"] = (keys[a], keys[b])
    matrix.objects["receipt_id"] = (receipts["box-a1"], receipts["box-b1"])
    tokens: dict[str, Any] = {}
    for role in USERNAMES:
        made = api.post(
            "/api/v1/tokens", json={"name": role}, headers={"Authorization": f"Bearer {matrix.bearers[role]}"}
        )
        tokens[role] = made.json()["id"]
    other_token = api.post("/api/v1/tokens", json={"name": "b"}, headers=ed_b).json()["id"]
    matrix.objects["token_id"] = (None, other_token)
    matrix.per_role["token_id"] = {**tokens, "anonymous": tokens["auditor"]}
    return matrix


def enrolment(world: World) -> dict[str, str]:
    """A new box's one-time code and key, as ``loa agent enroll`` sends them."""
    with world.session() as session:
        admin = session.exec(select(User).where(User.username == "admin")).one()
        _device, code = registry.register_box(
            session,
            user=admin,
            device_id=f"box-new-{next(_NEW_BOXES)}",
            name="Mới",
            zone_id=world.village_a1,
            code_hours=1,
        )
    return {"code": code, "public_key": public_key_b64(Ed25519PrivateKey.generate().public_key())}


def fingerprint(engine: Engine) -> dict[str, str]:
    """A digest of every table's rows (but for the bookkeeping in UNWATCHED), to see what changed."""
    digests = {}
    with engine.connect() as db:
        for table in SQLModel.metadata.sorted_tables:
            columns = [c for c in table.columns if (table.name, c.name) not in UNWATCHED]
            rows = sorted(repr(tuple(row)) for row in db.execute(sa_select(*columns)))
            digests[table.name] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
    return digests


@dataclass(frozen=True)
class Expect:
    """Who may use a route, and what its request carries."""

    roles: frozenset[str]
    scope: str | None = None  # "path" or "body": it names a commune's object; "owner": a user's
    body: Callable[[Call], Body] = lambda _c: {}
    ids: Mapping[str, str] = field(default_factory=dict)  # path parameter → object (default: its name)
    strict: bool = True  # an allowed read answers below 400 (public pages: 404 for what never aired)
    bare: bool = False  # sent without credentials (logins, enrolment)
    lands_on_login: bool = False  # success is the way to the login page (logging out)

    @property
    def wide(self) -> frozenset[str]:
        return ADMIN if self.scope == "owner" else PROVINCE_WIDE


@dataclass(frozen=True)
class Case:
    """One request of the matrix and what must come of it."""

    route: str
    role: str
    side: str
    allowed: bool

    @property
    def method(self) -> str:
        return self.route.split()[0]

    @property
    def template(self) -> str:
        return self.route.split()[1]


def cases(route: str, expect: Expect) -> Iterator[Case]:
    """Anonymous and refused roles first, then other communes, then the allowed roles: a change that
    goes through comes last, after every refusal was tried on the object it changes."""
    reads = route.split()[0] in SAFE
    yield Case(route, "anonymous", "own", "anonymous" in expect.roles)
    for role in ROLES[:-1]:
        if role not in expect.roles:
            yield Case(route, role, "own", allowed=False)
    for role in ROLES[:-1]:
        if role in expect.roles and expect.scope and role not in expect.wide:
            yield Case(route, role, "other", allowed=False)
    for role in ROLES[:-1]:
        if role in expect.roles:
            yield Case(route, role, "own", allowed=True)
            if expect.scope and role in expect.wide and reads:
                yield Case(route, role, "other", allowed=True)


def path_of(matrix: Matrix, case: Case, expect: Expect) -> str:
    """The route's path with its parameters filled from the world (a mount: a file under it)."""
    if case.route.startswith("MOUNT "):
        return case.template + "/loa.css"
    path = case.template
    call = Call(matrix, case.role, case.side)
    for name in _parameters(path):
        key = expect.ids.get(name, name)
        path = path.replace("{" + name + "}", str(call(key)))
    return path


def _parameters(path: str) -> list[str]:
    return [part.split("}")[0].split(":")[0] for part in path.split("{")[1:]]


def verdict(response: httpx.Response, case: Case, expect: Expect) -> str | None:
    """What is wrong with the answer to ``case``, or None."""
    status, location = response.status_code, response.headers.get("location", "")
    to_login = status in (302, 303, 307) and location.endswith("/login")
    if status >= 500:
        return f"server error {status}"
    if case.allowed:
        if status in (401, 403) or (to_login and not expect.lands_on_login):
            return f"refused ({status} {location})"
        if case.method in SAFE and expect.strict and status >= 400:
            return f"failed ({status})"
        return None
    if case.role == "anonymous" and not case.template.startswith(("/api/", "/media/")):
        return None if to_login else f"not sent to the login ({status})"
    wanted = {401, 403} if case.side == "own" else {403, 404} | ({422} if expect.scope == "body" else set())
    return None if status in wanted else f"let through ({status}), wanted one of {sorted(wanted)}"


def run(matrix: Matrix, table: Mapping[str, Expect], routes_: list[str]) -> list[str]:
    """Send every case of ``routes_``; returns what went wrong, one line per case."""
    problems = []
    for route in routes_:
        expect = table[route]
        for case in cases(route, expect):
            call = Call(matrix, case.role, case.side)
            response = matrix.send(
                case.method if case.method != "MOUNT" else "GET",
                path_of(matrix, case, expect),
                role=case.role,
                body=expect.body(call),
                bare=expect.bare,
            )
            wrong = verdict(response, case, expect)
            if wrong:
                problems.append(f"{route} as {case.role} ({case.side}): {wrong}")
    return problems
