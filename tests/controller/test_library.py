"""Playlists, saved groups and zone policies through the API, and schedules that use them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.controller.conftest import World, approved_bulletin
from tests.controller.test_timelines_and_receipts import _timelines


def _tomorrow() -> str:
    return ((datetime.now(UTC) + timedelta(hours=7)).date() + timedelta(days=1)).isoformat()


def test_a_playlist_with_silence_and_a_stream_relay_airs_as_consecutive_items(world: World) -> None:
    bulletin = approved_bulletin(world)
    ed = world.token("editor_a")
    created = world.client.post(
        "/api/v1/playlists",
        headers=ed,
        json={
            "name": "Bản tin sáng",
            "commune_id": world.commune_a,
            "entries": [
                {"kind": "bulletin", "bulletin_id": bulletin["id"]},
                {"kind": "silence", "duration_ms": 3000},
                {"kind": "stream", "stream_url": "http://radio.example/vov1", "duration_ms": 900_000},
            ],
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["duration_ms"] > 903_000
    saved = world.client.post(
        "/api/v1/schedules",
        headers=ed,
        json={
            "playlist_id": created.json()["id"],
            "target_zone_id": world.village_a1,
            "rule": {"kind": "daily", "start_date": _tomorrow(), "times": ["06:00"]},
        },
    )
    assert saved.status_code == 201, saved.text
    items = _timelines(world)["box-a1"].items
    assert [i.kind for i in items[:3]] == ["audio", "silence", "stream"]
    assert items[1].start_ms == items[0].start_ms + items[0].duration_ms


def test_a_playlist_with_an_unapproved_bulletin_cannot_be_scheduled(world: World) -> None:
    ed = world.token("editor_a")
    draft = world.client.post(
        "/api/v1/bulletins", headers=ed, json={"commune_id": world.commune_a, "title": "T", "body": "B"}
    ).json()
    playlist = world.client.post(
        "/api/v1/playlists",
        headers=ed,
        json={
            "name": "Nháp",
            "commune_id": world.commune_a,
            "entries": [{"kind": "bulletin", "bulletin_id": draft["id"]}],
        },
    ).json()
    assert playlist["duration_ms"] is None
    refused = world.client.post(
        "/api/v1/schedules",
        headers=ed,
        json={
            "playlist_id": playlist["id"],
            "target_zone_id": world.village_a1,
            "in_seconds": 120,
        },
    )
    assert refused.status_code == 422 and "chưa được duyệt" in refused.json()["detail"]


def test_playlists_refuse_cycles_and_other_communes_bulletins(world: World) -> None:
    bulletin = approved_bulletin(world, editor="editor_b", approver="approver_b", commune=world.commune_b)
    refused = world.client.post(
        "/api/v1/playlists",
        headers=world.token("editor_a"),
        json={
            "name": "x",
            "commune_id": world.commune_a,
            "entries": [{"kind": "bulletin", "bulletin_id": bulletin["id"]}],
        },
    )
    assert refused.status_code == 422
    missing = world.client.post(
        "/api/v1/playlists",
        headers=world.token("editor_a"),
        json={
            "name": "x",
            "commune_id": world.commune_a,
            "entries": [{"kind": "playlist", "playlist_id": 999}],
        },
    )
    assert missing.status_code == 422


def test_a_saved_group_targets_its_boxes_across_villages(world: World) -> None:
    bulletin = approved_bulletin(world)
    ed = world.token("editor_a")
    group = world.client.post(
        "/api/v1/groups",
        headers=ed,
        json={
            "name": "Ven sông Lam",
            "commune_id": world.commune_a,
            "device_ids": ["box-a1", "box-a2"],
        },
    )
    assert group.status_code == 201, group.text
    assert (
        world.client.post(
            "/api/v1/groups",
            headers=ed,
            json={
                "name": "x",
                "commune_id": world.commune_a,
                "device_ids": ["box-b1"],
            },
        ).status_code
        == 422
    )
    saved = world.client.post(
        "/api/v1/schedules",
        headers=ed,
        json={
            "bulletin_id": bulletin["id"],
            "target": {"kind": "group", "id": group.json()["id"]},
            "in_seconds": 300,
        },
    )
    assert saved.status_code == 201, saved.text
    assert {t.split("/")[3] for t, _p, _r in world.published} == {"box-a1", "box-a2"}


def test_zone_policies_are_set_by_approvers_of_the_commune_and_admins(world: World) -> None:
    policy = {"quiet_hours": [{"start": "11:30", "end": "13:30"}], "max_sessions_per_day": 3}
    ok = world.client.put(
        f"/api/v1/zones/{world.commune_a}/policy", headers=world.token("approver_a"), json=policy
    )
    assert ok.status_code == 200, ok.text
    assert (
        world.client.put(
            f"/api/v1/zones/{world.commune_a}/policy", headers=world.token("editor_a"), json=policy
        ).status_code
        == 403
    )
    assert (
        world.client.put(
            f"/api/v1/zones/{world.commune_a}/policy", headers=world.token("approver_b"), json=policy
        ).status_code
        == 403
    )
    bad = world.client.put(
        f"/api/v1/zones/{world.commune_a}/policy",
        headers=world.token("admin"),
        json={"quiet_hours": [{"start": "25:00", "end": "13:30"}]},
    )
    assert bad.status_code == 422
