"""The authorisation matrix: every route × every role × own/other commune, generated from the app's
route table, so that a new route cannot ship untested.

``EXPECT`` holds one entry per route ("METHOD /path"): the roles that may use it and, where the route
names something that belongs to a commune (or to a user), which scope applies. The tests send every
route's request as admin, editor, approver, auditor, technician and an anonymous visitor (editors and
approvers belong to commune A), and check that

- an allowed role is let through (not 401/403, no redirect to the login; a page or a read answers
  below 400), on its own commune's objects, and on the whole province for the province-wide roles;
- a refused role gets 401/403 (an anonymous visitor of a panel page: a redirect to /login);
- a commune-bound role asking for another commune's object gets 403/404 (422 when it names that
  commune in the body of a form or JSON request);
- no GET changes anything in the database, and no change gets through without its CSRF token.

To add a route: add its line to ``EXPECT`` (the first test lists the routes that have none). A body
is what a valid request carries, so that a refusal is the authorisation's and not a form error's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from controller.app import create_app
from controller.settings import Settings
from tests.controller.authz_support import (
    ADMIN,
    ROLES,
    SAFE,
    Body,
    Call,
    Case,
    Expect,
    Matrix,
    build,
    enrolment,
    fingerprint,
    path_of,
    routes,
    run,
)
from tests.controller.conftest import PASSWORD, make_world

ANYONE = frozenset(ROLES)
LOGGED_IN = ANYONE - {"anonymous"}
DEVICE_MANAGE = frozenset({"admin", "technician"})
BULLETIN_VIEW = frozenset({"admin", "editor", "approver", "auditor"})
BULLETIN_WRITE = frozenset({"admin", "editor"})
BULLETIN_DECIDE = frozenset({"admin", "approver"})
SCHEDULE_WRITE = frozenset({"admin", "editor", "approver"})


def _csv(name: str) -> Callable[[Call], Body]:
    return lambda _c: {"files": {name: ("boxes.csv", b"device_id,name,zone\n", "text/csv")}}


def _recording(field: str) -> Callable[[Call], Body]:
    return lambda _c: {"files": {field: ("tin.wav", b"not audio at all", "audio/wav")}}


def _villages_csv(c: Call) -> Body:
    rows = f"commune_code,name,kind\n{c('commune_code')},Xóm {c.role},xóm\n".encode()
    return {"files": {"file": ("villages.csv", rows, "text/csv")}}


def _creds(c: Call) -> Body:
    return {"data": {"username": c.username, "password": PASSWORD}}


def _bulletin_form(c: Call) -> Body:
    return {"data": {"commune_id": c("commune"), "title": "Tin", "body": "Kính thưa bà con."}}


def _schedule_json(c: Call) -> Body:
    return {"json": {"bulletin_id": c("bulletin_id"), "target_zone_id": c("village"), "in_seconds": 3600}}


def _owner(c: Call) -> Any:
    """Someone else's user id for "other"; 0 ("myself") for "own"."""
    return c("owner") or 0


EXPECT: dict[str, Expect] = {
    # Public: the login, the language switch, the public pages, the API docs, probes and static files.
    "GET /login": Expect(ANYONE),
    "POST /login": Expect(ANYONE, body=_creds, bare=True),
    "GET /language/{code}": Expect(ANYONE, ids={"code": "language"}),
    "GET /p/": Expect(ANYONE),
    "GET /p/{commune_code}": Expect(ANYONE),
    "GET /p/{commune_code}/b/{bulletin_id}": Expect(ANYONE, strict=False),
    "GET /p/{commune_code}/feed.xml": Expect(ANYONE),
    "GET /p/{commune_code}/audio/{bulletin_id}.{extension}": Expect(ANYONE, strict=False),
    "GET /openapi.json": Expect(ANYONE),
    "GET /api/docs": Expect(ANYONE),
    "GET /docs/oauth2-redirect": Expect(ANYONE),
    "GET /healthz": Expect(ANYONE),
    "GET /readyz": Expect(ANYONE, strict=False),  # 503 while the broker is away, as in these tests
    "GET /metrics": Expect(ANYONE),
    "MOUNT /static": Expect(ANYONE),
    "POST /api/v1/auth/token": Expect(ANYONE, body=lambda c: {"json": _creds(c)["data"]}, bare=True),
    "POST /api/v1/enroll": Expect(ANYONE, body=lambda c: {"json": enrolment(c.matrix.world)}, bare=True),
    # Every login.
    "GET /": Expect(LOGGED_IN),
    "GET /home/_playing": Expect(LOGGED_IN),
    "POST /logout": Expect(LOGGED_IN, lands_on_login=True),
    "GET /media/{sha256}": Expect(LOGGED_IN, scope="path", ids={"sha256": "media"}),
    "GET /api/v1/zones": Expect(LOGGED_IN),
    "GET /api/v1/emergencies": Expect(LOGGED_IN),
    "GET /api/v1/lexicon": Expect(LOGGED_IN),
    "POST /api/v1/normalize": Expect(LOGGED_IN, body=lambda _c: {"json": {"text": "UBND xã"}}),
    "GET /lexicon": Expect(LOGGED_IN),
    "GET /groups": Expect(LOGGED_IN),
    "GET /villages": Expect(LOGGED_IN),
    # API tokens: one's own; an admin's, anyone's.
    "GET /tokens": Expect(LOGGED_IN, scope="owner", body=lambda c: {"params": {"user_id": _owner(c)}}),
    "POST /tokens": Expect(
        LOGGED_IN,
        scope="owner",
        body=lambda c: {"data": {"name": "t", "expires": "30", "user_id": _owner(c)}},
    ),
    "POST /tokens/{token_id}/revoke": Expect(LOGGED_IN, scope="owner"),
    "GET /api/v1/tokens": Expect(
        LOGGED_IN, scope="owner", body=lambda c: {"params": {"user_id": c("owner")}} if c("owner") else {}
    ),
    "POST /api/v1/tokens": Expect(
        LOGGED_IN, scope="owner", body=lambda c: {"json": {"name": "t", "user_id": c("owner")}}
    ),
    "DELETE /api/v1/tokens/{token_id}": Expect(LOGGED_IN, scope="owner"),
    # Bulletins.
    "GET /bulletins": Expect(BULLETIN_VIEW),
    "GET /api/v1/bulletins": Expect(BULLETIN_VIEW),
    "GET /bulletins/{bulletin_id}": Expect(BULLETIN_VIEW, scope="path"),
    "GET /bulletins/{bulletin_id}/versions": Expect(BULLETIN_VIEW, scope="path"),
    "GET /bulletins/{bulletin_id}/_history": Expect(BULLETIN_VIEW, scope="path"),
    "GET /api/v1/bulletins/{bulletin_id}": Expect(BULLETIN_VIEW, scope="path"),
    "GET /bulletins/new": Expect(BULLETIN_WRITE),
    "POST /bulletins/new": Expect(BULLETIN_WRITE, scope="body", body=_bulletin_form),
    "POST /api/v1/bulletins": Expect(
        BULLETIN_WRITE, scope="body", body=lambda c: {"json": _bulletin_form(c)["data"]}
    ),
    "GET /bulletins/{bulletin_id}/edit": Expect(BULLETIN_WRITE, scope="path", ids={"bulletin_id": "draft"}),
    "POST /bulletins/{bulletin_id}/edit": Expect(
        BULLETIN_WRITE,
        scope="path",
        ids={"bulletin_id": "draft"},
        body=lambda _c: {"data": {"title": "Tin", "body": "Kính thưa bà con.", "category": "legal"}},
    ),
    "POST /bulletins/{bulletin_id}/submit": Expect(
        BULLETIN_WRITE, scope="path", ids={"bulletin_id": "draft"}
    ),
    "POST /api/v1/bulletins/{bulletin_id}/submit": Expect(
        BULLETIN_WRITE, scope="path", ids={"bulletin_id": "draft"}
    ),
    "POST /bulletins/{bulletin_id}/recording": Expect(
        BULLETIN_WRITE, scope="path", ids={"bulletin_id": "draft"}, body=_recording("recording")
    ),
    "POST /api/v1/bulletins/{bulletin_id}/recording": Expect(
        BULLETIN_WRITE, scope="path", ids={"bulletin_id": "draft"}, body=_recording("file")
    ),
    "POST /bulletins/{bulletin_id}/preview": Expect(
        BULLETIN_WRITE | BULLETIN_DECIDE, scope="path", ids={"bulletin_id": "draft"}
    ),
    "POST /api/v1/bulletins/{bulletin_id}/preview": Expect(
        BULLETIN_WRITE | BULLETIN_DECIDE, scope="path", ids={"bulletin_id": "draft"}
    ),
    "POST /bulletins/{bulletin_id}/approve": Expect(
        BULLETIN_DECIDE, scope="path", ids={"bulletin_id": "submitted"}
    ),
    "POST /api/v1/bulletins/{bulletin_id}/approve": Expect(
        BULLETIN_DECIDE, scope="path", ids={"bulletin_id": "submitted"}
    ),
    "POST /bulletins/{bulletin_id}/reject": Expect(
        BULLETIN_DECIDE,
        scope="path",
        ids={"bulletin_id": "submitted"},
        body=lambda _c: {"data": {"comment": "Sửa"}},
    ),
    "POST /api/v1/bulletins/{bulletin_id}/reject": Expect(
        BULLETIN_DECIDE,
        scope="path",
        ids={"bulletin_id": "submitted"},
        body=lambda _c: {"json": {"comment": "Sửa"}},
    ),
    "GET /voices": Expect(ADMIN),
    # Chimes of a commune (or the province): editors of their communes, admins anywhere.
    "GET /chimes": Expect(BULLETIN_WRITE),
    "POST /chimes": Expect(
        BULLETIN_WRITE,
        scope="body",
        body=lambda c: {"data": {"zone_id": str(c("commune")), "which": "opening"}, **_recording("file")(c)},
    ),
    "GET /chimes/{zone_id}/{which}": Expect(
        BULLETIN_WRITE, scope="path", ids={"zone_id": "commune", "which": "chime"}, strict=False
    ),
    "POST /chimes/{zone_id}/{which}/delete": Expect(
        BULLETIN_WRITE, scope="path", ids={"zone_id": "commune", "which": "chime"}
    ),
    "POST /voices": Expect(ADMIN, body=lambda c: {"data": {"zone_id": c("commune")}}),
    # Schedules, playlists, groups, policies.
    "GET /schedules": Expect(BULLETIN_VIEW),
    "GET /api/v1/schedules": Expect(BULLETIN_VIEW),
    "POST /bulletins/{bulletin_id}/schedule": Expect(
        SCHEDULE_WRITE,
        scope="path",
        body=lambda c: {"data": {"target_zone_id": c("village"), "when": "soon", "priority": "normal"}},
    ),
    "POST /api/v1/schedules": Expect(SCHEDULE_WRITE, scope="body", body=_schedule_json),
    "POST /api/v1/schedules/check": Expect(SCHEDULE_WRITE, scope="body", body=_schedule_json),
    "POST /schedules/{schedule_id}/cancel": Expect(SCHEDULE_WRITE, scope="path"),
    "POST /api/v1/schedules/{schedule_id}/cancel": Expect(SCHEDULE_WRITE, scope="path"),
    "GET /schedules/new": Expect(
        SCHEDULE_WRITE, scope="body", body=lambda c: {"params": {"bulletin_id": c("bulletin_id")}}
    ),
    "GET /schedules/_words": Expect(SCHEDULE_WRITE, body=lambda _c: {"params": {"when": "soon"}}),
    "POST /schedules/new": Expect(
        SCHEDULE_WRITE,
        scope="body",
        body=lambda c: {
            "data": {"what": f"bulletin:{c('bulletin_id')}", "target": f"zone:{c('village')}", "when": "soon"}
        },
    ),
    "GET /calendar": Expect(BULLETIN_VIEW, scope="body", body=lambda c: {"params": {"zone": c("commune")}}),
    "GET /playlists": Expect(BULLETIN_VIEW),
    "GET /playlists/new": Expect(SCHEDULE_WRITE),
    "POST /playlists/new": Expect(
        SCHEDULE_WRITE,
        scope="body",
        body=lambda c: {"data": {"name": "P", "commune_id": c("commune"), "op": "save"}},
    ),
    "GET /playlists/{playlist_id}": Expect(BULLETIN_VIEW, scope="path"),
    "POST /playlists/{playlist_id}": Expect(
        SCHEDULE_WRITE, scope="path", body=lambda _c: {"data": {"name": "P2", "op": "save"}}
    ),
    "POST /playlists/{playlist_id}/delete": Expect(SCHEDULE_WRITE, scope="path"),
    "GET /api/v1/playlists": Expect(BULLETIN_VIEW),
    "POST /api/v1/playlists": Expect(
        SCHEDULE_WRITE,
        scope="body",
        body=lambda c: {
            "json": {
                "name": "P",
                "commune_id": c("commune"),
                "entries": [{"kind": "bulletin", "bulletin_id": c("bulletin_id")}],
            }
        },
    ),
    "POST /groups": Expect(
        SCHEDULE_WRITE,
        scope="body",
        body=lambda c: {"data": {"name": "G", "commune_id": c("commune"), "device_ids": list(c("device"))}},
    ),
    "POST /api/v1/groups": Expect(
        SCHEDULE_WRITE,
        scope="body",
        body=lambda c: {"json": {"name": "G", "commune_id": c("commune"), "device_ids": list(c("device"))}},
    ),
    "POST /groups/{group_id}/delete": Expect(SCHEDULE_WRITE, scope="path"),
    "PUT /api/v1/zones/{zone_id}/policy": Expect(
        BULLETIN_DECIDE, scope="path", ids={"zone_id": "commune"}, body=lambda _c: {"json": {}}
    ),
    "GET /policies": Expect(
        BULLETIN_DECIDE, scope="body", body=lambda c: {"params": {"zone_id": c("commune")}}
    ),
    "POST /policies/{zone_id}": Expect(
        BULLETIN_DECIDE,
        scope="path",
        ids={"zone_id": "commune"},
        body=lambda _c: {"data": {"quiet_hours": "22:00-05:00", "max_sessions_per_day": "5"}},
    ),
    # The as-run log.
    "GET /asrun": Expect(BULLETIN_VIEW),
    "GET /api/v1/asrun": Expect(BULLETIN_VIEW),
    # Reports (controller/routes/panel_reports.py), scoped by the data layer: the world's broadcasts
    # are its two schedules' airings, its receipts one failed play per commune.
    "GET /reports": Expect(BULLETIN_VIEW),
    "GET /reports/export/{key}.{fmt}": Expect(
        BULLETIN_VIEW, ids={"key": "report_table", "fmt": "report_format"}
    ),
    "GET /reports/broadcasts": Expect(BULLETIN_VIEW),
    "GET /reports/broadcasts/{key}": Expect(BULLETIN_VIEW, scope="path", ids={"key": "broadcast_key"}),
    "GET /reports/broadcasts/{key}/export.{fmt}": Expect(
        BULLETIN_VIEW, scope="path", ids={"key": "broadcast_key", "fmt": "report_format"}
    ),
    "GET /reports/receipts/{receipt_id}": Expect(BULLETIN_VIEW, scope="path"),
    "GET /reports/monthly.pdf": Expect(BULLETIN_VIEW, body=lambda _c: {"params": {"month": "2026-03"}}),
    # The export for the province's source information system (docs/export.md).
    "GET /api/v1/export/{kind}": Expect(frozenset({"admin", "auditor"}), ids={"kind": "export_kind"}),
    # Emergencies and alerts.
    "GET /emergency": Expect(BULLETIN_VIEW),
    "GET /emergency/_events": Expect(BULLETIN_VIEW),
    "POST /emergency": Expect(
        BULLETIN_DECIDE,
        scope="body",
        body=lambda c: {"data": {"bulletin_id": c("bulletin_id"), "zone_ids": [c("village")]}},
    ),
    "POST /api/v1/emergencies": Expect(
        BULLETIN_DECIDE,
        scope="body",
        body=lambda c: {"json": {"bulletin_id": c("bulletin_id"), "zone_ids": [c("village")]}},
    ),
    "POST /emergency/{emergency_id}/{action}": Expect(
        BULLETIN_DECIDE, scope="path", ids={"action": "stop_action"}
    ),
    "POST /api/v1/emergencies/{emergency_id}/confirm": Expect(BULLETIN_DECIDE, scope="path"),
    "POST /api/v1/emergencies/{emergency_id}/approve": Expect(BULLETIN_DECIDE, scope="path"),
    "POST /api/v1/emergencies/{emergency_id}/stop": Expect(BULLETIN_DECIDE, scope="path"),
    "POST /emergency-stop-all": Expect(BULLETIN_DECIDE),
    "POST /api/v1/emergencies/stop-all": Expect(BULLETIN_DECIDE),
    "POST /api/v1/cap": Expect(
        BULLETIN_DECIDE,
        body=lambda _c: {"content": b"<alert/>", "headers": {"content-type": "application/xml"}},
    ),
    # The pronunciation lexicon.
    "POST /lexicon": Expect(
        ADMIN, body=lambda _c: {"data": {"kind": "abbreviation", "term": "X", "spoken": "ích"}}
    ),
    "POST /lexicon/{entry_id}/delete": Expect(ADMIN),
    "PUT /api/v1/lexicon": Expect(
        ADMIN, body=lambda _c: {"json": {"kind": "abbreviation", "term": "X", "spoken": "ích"}}
    ),
    "DELETE /api/v1/lexicon/{entry_id}": Expect(ADMIN),
    # Speaker boxes: seen by every role (in its communes), commanded and registered by technicians.
    "GET /devices": Expect(LOGGED_IN),
    "GET /devices/_map": Expect(LOGGED_IN),
    "GET /devices/_events": Expect(LOGGED_IN),
    "GET /devices/{device_id}": Expect(LOGGED_IN, scope="path"),
    "GET /api/v1/devices": Expect(LOGGED_IN),
    "GET /api/v1/devices/{device_id}": Expect(LOGGED_IN, scope="path"),
    "POST /devices/{device_id}/commands": Expect(
        DEVICE_MANAGE, scope="path", body=lambda _c: {"data": {"name": "test_tone"}}
    ),
    "POST /api/v1/devices/{device_id}/commands": Expect(
        DEVICE_MANAGE, scope="path", body=lambda _c: {"json": {"name": "test_tone"}}
    ),
    "GET /registry": Expect(DEVICE_MANAGE),
    "POST /registry/boxes": Expect(
        DEVICE_MANAGE,
        body=lambda c: {"data": {"device_id": f"p-{c.role}", "name": "Loa", "zone_id": c("village")}},
    ),
    "POST /api/v1/devices": Expect(
        DEVICE_MANAGE,
        body=lambda c: {"json": {"device_id": f"j-{c.role}", "name": "Loa", "zone_id": c("village")}},
    ),
    "POST /registry/import": Expect(DEVICE_MANAGE, body=_csv("file")),
    "POST /api/v1/devices/import": Expect(DEVICE_MANAGE, body=_csv("file")),
    "POST /registry/boxes/{device_id}/code": Expect(DEVICE_MANAGE, ids={"device_id": "spare_device"}),
    "POST /api/v1/devices/{device_id}/code": Expect(DEVICE_MANAGE, ids={"device_id": "spare_device"}),
    "POST /registry/go/{action}": Expect(
        DEVICE_MANAGE, ids={"action": "code_action"}, body=lambda c: {"data": {"which": c("spare_device")}}
    ),
    "POST /registry/boxes/{device_id}/revoke": Expect(DEVICE_MANAGE, ids={"device_id": "spare_device"}),
    "POST /api/v1/devices/{device_id}/revoke": Expect(
        DEVICE_MANAGE, ids={"device_id": "spare_device"}, body=lambda _c: {"json": {"reason": "hỏng"}}
    ),
    "POST /villages": Expect(
        frozenset({"admin", "editor", "technician"}),
        scope="body",
        body=lambda c: {"data": {"commune_id": c("commune"), "name": f"Xóm {c.role}", "kind": "xóm"}},
    ),
    "POST /villages/import": Expect(
        frozenset({"admin", "editor", "technician"}), scope="body", body=_villages_csv
    ),
    # Agent releases.
    "GET /api/v1/agent-releases": Expect(DEVICE_MANAGE),
    "POST /api/v1/agent-releases": Expect(
        ADMIN, body=lambda _c: {"files": {"file": ("a.whl", b"PK", "application/zip")}}
    ),
    "POST /api/v1/agent-releases/{version}/rollout": Expect(
        DEVICE_MANAGE, body=lambda _c: {"json": {"percent": 1}}
    ),
    # Users (the province administrator only).
    "GET /users": Expect(ADMIN),
    "POST /users": Expect(
        ADMIN,
        body=lambda c: {"data": {"username": f"u-{c.role}", "role": "auditor", "password": "mat-khau-dai-1"}},
    ),
    "GET /users/{user_id}": Expect(ADMIN),
    "POST /users/{user_id}": Expect(
        ADMIN, body=lambda c: {"data": {"full_name": "V", "role": "editor", "commune_ids": [c("commune")]}}
    ),
    "POST /users/{user_id}/password": Expect(ADMIN, body=lambda _c: {"data": {"password": "mat-khau-moi-1"}}),
    "POST /users/{user_id}/disable": Expect(ADMIN),
    "POST /users/{user_id}/enable": Expect(ADMIN),
    # The province's settings (read-only) and communes (controller/routes/panel_settings.py).
    "GET /settings": Expect(ADMIN),
    "GET /communes": Expect(ADMIN),
    "POST /communes/{zone_id}": Expect(
        ADMIN, ids={"zone_id": "commune"}, body=lambda c: {"data": {"name": f"Xã {c.role}"}}
    ),
}
# Path parameters that are constants rather than objects of the world.
CONSTANTS = {
    "language": ("en", "en"),
    "code_action": ("code", "code"),
    "stop_action": ("stop", "stop"),
    "extension": ("opus", "opus"),
    "report_table": ("commune", "commune"),
    "report_format": ("xlsx", "xlsx"),
    "chime": ("opening", "opening"),
    "export_kind": ("asrun", "asrun"),
}


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    for world in make_world(Path(tmp_path_factory.mktemp("authz"))):
        built = build(world)
        built.objects.update(CONSTANTS)
        yield built


def test_every_route_has_an_expectation(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path), connect_mqtt=False, run_jobs=False)
    present = set(routes(app))
    missing = sorted(present - EXPECT.keys())
    assert missing == [], "routes with no line in EXPECT (who may use them?):\n" + "\n".join(missing)
    assert sorted(EXPECT.keys() - present) == [], "EXPECT names routes that no longer exist"


def test_each_role_reads_only_what_it_may_and_no_read_changes_anything(matrix: Matrix) -> None:
    before = fingerprint(matrix.world.services.engine)
    problems = run(matrix, EXPECT, sorted(r for r in EXPECT if r.split()[0] in ("GET", "MOUNT")))
    changed = [
        name for name, digest in fingerprint(matrix.world.services.engine).items() if before[name] != digest
    ]
    assert problems == [] and changed == [], "\n".join([*problems, f"GET requests changed {changed}"])


def test_no_change_gets_through_without_its_csrf_token(matrix: Matrix) -> None:
    """A logged-in, allowed user's browser (the session cookie) with a forged CSRF token, on every
    route that changes something; on the API, the cookie without the X-CSRF-Token header."""
    before = fingerprint(matrix.world.services.engine)
    problems = []
    for route, expect in sorted(EXPECT.items()):
        method = route.split()[0]
        allowed = [role for role in ROLES[:-1] if role in expect.roles]
        if method in SAFE or method == "MOUNT" or expect.bare or not allowed:
            continue
        case = Case(route, allowed[0], "own", allowed=True)
        response = matrix.send(
            method,
            path_of(matrix, case, expect),
            role=case.role,
            body=expect.body(Call(matrix, case.role, "own")),
            via="cookie",
            csrf=False,
        )
        if response.status_code != 403:
            problems.append(f"{route} as {case.role}: {response.status_code}, wanted 403")
    assert problems == [], "\n".join(problems)
    changed = [
        name for name, digest in fingerprint(matrix.world.services.engine).items() if before[name] != digest
    ]
    assert changed == [], f"requests with a forged CSRF token changed the tables {changed}"


def test_each_role_changes_only_what_it_may(matrix: Matrix) -> None:
    changes = sorted(r for r in EXPECT if r.split()[0] not in ("GET", "MOUNT"))
    changes.sort(key=lambda r: r == "POST /logout")  # the matrix's own sessions end last
    problems = run(matrix, EXPECT, changes)
    for role, cookie in matrix.cookies.items():  # each role logged out at the end: its session is over
        still = matrix.client.get(
            "/", headers={"Cookie": f"{matrix.cookie_name}={cookie}"}, follow_redirects=False
        )
        if still.status_code != 303:
            problems.append(f"POST /logout as {role}: the session still works ({still.status_code})")
    assert problems == [], "\n".join(problems)
