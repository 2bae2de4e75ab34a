"""Agent releases on the controller: added by an admin, served to boxes, rolled out in stages."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from sqlmodel import select

from controller.agent_releases import UPDATE_TTL
from controller.models import Device, DeviceCommand
from controller.settings import Settings
from loa.admin import AdminError, release_add
from playlists.wire import UpdateArgs, decode
from tests.controller.conftest import World
from tests.edge_agent.test_update import make_wheel

BOXES = ["box-a1", "box-a2", "box-b1"]


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("wheels")
    other = tmp_path_factory.mktemp("other")
    return {
        "9.1.0": make_wheel(folder, "9.1.0").read_bytes(),
        "9.1.0-other": make_wheel(other, "9.1.0", extra={"edge_agent/extra.py": "x = 1\n"}).read_bytes(),
        "not-loa": make_wheel(folder, "1.0.0", name="other").read_bytes(),
    }


def _add(world: World, data: bytes, user: str = "admin") -> object:
    return world.client.post("/api/v1/agent-releases", headers=world.token(user), content=data)


def _updates(world: World) -> dict[str, DeviceCommand]:
    with world.session() as session:
        rows = session.exec(select(DeviceCommand).where(DeviceCommand.name == "update")).all()
        return {c.device_id: c for c in rows}


def test_an_admin_adds_a_release_and_boxes_can_fetch_it(world: World, wheels: dict[str, bytes]) -> None:
    added = _add(world, wheels["9.1.0"])
    assert added.status_code == 201, added.text
    sha = hashlib.sha256(wheels["9.1.0"]).hexdigest()
    assert added.json()["version"] == "9.1.0" and added.json()["sha256"] == sha
    assert _add(world, wheels["9.1.0"]).status_code == 201, "the same wheel again is harmless"
    listed = world.client.get("/api/v1/agent-releases", headers=world.token("tech")).json()
    assert [(r["version"], r["running"]) for r in listed] == [("9.1.0", 0)]
    box = {"Authorization": f"Bearer {world.device_tokens['box-a1']}"}
    served = world.client.get(f"/media/{sha}", headers=box)
    assert served.status_code == 200 and served.content == wheels["9.1.0"]
    assert world.client.get(f"/media/{sha}").status_code == 401, "not without a token"


def test_bad_releases_are_refused_with_a_reason(world: World, wheels: dict[str, bytes]) -> None:
    for data in (b"not a zip at all", wheels["not-loa"]):
        refused = _add(world, data)
        assert refused.status_code == 422, refused.text
        assert refused.json()["field"] == "file"
    assert _add(world, wheels["9.1.0"]).status_code == 201
    clash = _add(world, wheels["9.1.0-other"])
    assert clash.status_code == 409, "one version, one file"
    assert _add(world, wheels["9.1.0"], user="tech").status_code == 403, "only admins add releases"
    assert _add(world, wheels["9.1.0"], user="editor_a").status_code == 403


def test_a_rollout_widens_the_same_canaries_and_skips_boxes_done(
    world: World, wheels: dict[str, bytes]
) -> None:
    assert _add(world, wheels["9.1.0"]).status_code == 201
    tech = world.token("tech")
    url = "/api/v1/agent-releases/9.1.0/rollout"
    assert world.client.post(url, headers=world.token("editor_a"), json={"percent": 100}).status_code == 403
    unknown = "/api/v1/agent-releases/0.0.9/rollout"
    assert world.client.post(unknown, headers=tech, json={"percent": 5}).status_code == 404
    assert world.client.post(url, headers=tech, json={"percent": 5, "zone_id": 1}).status_code == 422
    assert world.client.post(url, headers=tech, json={"device_ids": ["no-such-box"]}).status_code == 422

    canary = world.client.post(url, headers=tech, json={"percent": 1})
    assert canary.status_code == 201, canary.text
    [first] = [c["device_id"] for c in canary.json()]
    command = _updates(world)[first]
    args = decode(UpdateArgs, json.loads(command.args_json))
    sha = hashlib.sha256(wheels["9.1.0"]).hexdigest()
    assert (args.version, args.sha256, args.bytes, args.url) == (
        "9.1.0",
        sha,
        len(wheels["9.1.0"]),
        f"/media/{sha}",
    )
    assert command.expires_at - command.issued_at == UPDATE_TTL

    with world.session() as session:  # another box already reports the version
        done = next(b for b in BOXES if b != first)
        device = session.get(Device, done)
        assert device is not None
        device.status_json = json.dumps({"agent_version": "9.1.0"})
        session.add(device)
        session.commit()
    wider = world.client.post(url, headers=tech, json={"percent": 100})
    assert wider.status_code == 201
    rest = sorted(set(BOXES) - {first, done})
    assert [c["device_id"] for c in wider.json()] == rest, "not the canary again, not the box on 9.1.0"
    assert world.client.post(url, headers=tech, json={"percent": 100}).json() == []
    listed = world.client.get("/api/v1/agent-releases", headers=tech).json()
    assert listed[0]["running"] == 1


def test_a_zone_rollout_reaches_the_boxes_below_it(world: World, wheels: dict[str, bytes]) -> None:
    assert _add(world, wheels["9.1.0"]).status_code == 201
    sent = world.client.post(
        "/api/v1/agent-releases/9.1.0/rollout",
        headers=world.token("admin"),
        json={"zone_id": world.commune_a},
    )
    assert sent.status_code == 201, sent.text
    assert sorted(c["device_id"] for c in sent.json()) == ["box-a1", "box-a2"]


def test_an_update_cannot_be_typed_as_a_device_command(world: World) -> None:
    forged = world.client.post(
        "/api/v1/devices/box-a1/commands",
        headers=world.token("tech"),
        json={
            "name": "update",
            "args": {"version": "6.6.6", "url": "http://evil/", "sha256": "0" * 64, "bytes": 1},
        },
    )
    assert forged.status_code == 422, "a URL the box would fetch with its token is not for users to type"
    assert _updates(world) == {}


def test_the_command_line_adds_a_release(world: World, wheels: dict[str, bytes], tmp_path: Path) -> None:
    settings: Settings = world.services.settings
    wheel = tmp_path / "loa-9.1.0-py3-none-any.whl"
    wheel.write_bytes(wheels["9.1.0"])
    assert release_add(settings, wheel).startswith("agent 9.1.0 added")
    bad = tmp_path / "bad.whl"
    bad.write_bytes(b"junk")
    with pytest.raises(AdminError):
        release_add(settings, bad)
