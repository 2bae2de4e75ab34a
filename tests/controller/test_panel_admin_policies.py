"""The broadcast-rules page: a zone's policy shown and edited in the panel, checked as the API checks it."""

from __future__ import annotations

import re

import pytest

from controller.models import Zone
from controller.policy_form import PolicyInvalid, form_of, policy_from_form
from playlists.policy import ZonePolicy
from tests.controller.conftest import World
from tests.controller.test_device_pages import panel_login


def _policy(world: World, zone_id: int) -> ZonePolicy | None:
    with world.session() as session:
        zone = session.get(Zone, zone_id)
        assert zone is not None
        return ZonePolicy.model_validate_json(zone.policy_json) if zone.policy_json else None


def _field_error(html: str, field: str) -> str:
    match = re.search(rf'<p class="error small" id="{field}-error" role="alert">([^<]*)</p>', html)
    assert match, f"no error beside {field}"
    return match.group(1)


def test_form_text_reads_into_a_policy_and_back() -> None:
    form = {
        "quiet_hours": "21:00-05:30, 11:30 – 13:30",
        "max_sessions_per_day": "4",
        "max_minutes_per_day": "",
        "volume_limits": "22:00-05:00 = 40\n5:00-6:00 60%",
    }
    policy = policy_from_form(form, timezone="Asia/Ho_Chi_Minh")
    assert [w.label() for w in policy.quiet_hours] == ["21:00–05:30", "11:30–13:30"]
    assert policy.max_sessions_per_day == 4 and policy.max_minutes_per_day is None
    assert [(v.window.label(), v.max_volume) for v in policy.volume_limits] == [
        ("22:00–05:00", 40),
        ("05:00–06:00", 60),
    ]
    assert policy_from_form(form_of(policy), timezone="Asia/Ho_Chi_Minh") == policy


def test_every_wrong_field_is_named_at_once() -> None:
    form = {"quiet_hours": "21h-5h", "max_sessions_per_day": "-1", "volume_limits": "22:00-05:00 = 150"}
    with pytest.raises(PolicyInvalid) as caught:
        policy_from_form(form, timezone="Asia/Ho_Chi_Minh")
    assert set(caught.value.errors) == {"quiet_hours", "max_sessions_per_day", "volume_limits"}
    with pytest.raises(PolicyInvalid) as caught:
        policy_from_form({"quiet_hours": "06:00-06:00, 24:00-01:00"}, timezone="Asia/Ho_Chi_Minh")
    assert set(caught.value.errors) == {"quiet_hours"}


def test_an_approver_sets_the_rules_of_a_commune_and_its_village_follows_them(world: World) -> None:
    csrf = panel_login(world, "approver_a")
    page = world.client.get(f"/policies?zone_id={world.commune_a}")
    assert page.status_code == 200 and "Quy tắc phát" in page.text
    saved = world.client.post(
        f"/policies/{world.commune_a}",
        data={
            "csrf_token": csrf,
            "op": "save",
            "quiet_hours": "21:00-05:30",
            "max_sessions_per_day": "3",
            "max_minutes_per_day": "90",
            "volume_limits": "22:00-05:00 = 40",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    policy = _policy(world, world.commune_a)
    assert policy is not None and policy.max_sessions_per_day == 3 and policy.max_minutes_per_day == 90
    assert policy.volume_limits[0].max_volume == 40 and policy.timezone == "Asia/Ho_Chi_Minh"
    assert "Đã lưu quy tắc" in world.client.get(saved.headers["location"]).text
    village = world.client.get(f"/policies?zone_id={world.village_a1}").text
    assert "Chưa có quy tắc riêng" in village and "21:00–05:30" in village
    cleared = world.client.post(
        f"/policies/{world.commune_a}", data={"csrf_token": csrf, "op": "clear"}, follow_redirects=False
    )
    assert cleared.status_code == 303 and _policy(world, world.commune_a) is None


def test_wrong_rules_are_explained_beside_their_fields_and_nothing_typed_is_lost(world: World) -> None:
    csrf = panel_login(world, "admin")
    typed = {
        "quiet_hours": "21:00-05:30",
        "max_sessions_per_day": "-2",
        "max_minutes_per_day": "nhiều",
        "volume_limits": "22:00-05:00 = 150",
    }
    response = world.client.post(f"/policies/{world.commune_b}", data={"csrf_token": csrf, **typed})
    assert response.status_code == 422
    html = response.text
    assert "số nguyên" in _field_error(html, "max_sessions_per_day")
    assert "số nguyên" in _field_error(html, "max_minutes_per_day")
    assert "0 đến 100" in _field_error(html, "volume_limits")
    assert (
        'value="21:00-05:30"' in html and 'value="nhiều"' in html and ">22:00-05:00 = 150</textarea>" in html
    )
    assert _policy(world, world.commune_b) is None


def test_a_commune_role_reaches_only_its_own_communes_rules(world: World) -> None:
    csrf = panel_login(world, "approver_a")
    assert world.client.get(f"/policies?zone_id={world.commune_b}").status_code == 404
    other = world.client.post(
        f"/policies/{world.commune_b}", data={"csrf_token": csrf, "max_sessions_per_day": "1"}
    )
    assert other.status_code == 404 and _policy(world, world.commune_b) is None
    listed = world.client.get("/policies").text
    assert f'value="{world.village_a1}"' in listed and f'value="{world.commune_b}"' not in listed
    panel_login(world, "editor_a")
    assert world.client.get("/policies").status_code == 403
