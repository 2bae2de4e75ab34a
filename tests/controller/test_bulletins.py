"""The approval workflow, scoping by commune and the media endpoint."""

from __future__ import annotations

import hashlib

from sqlmodel import select

from controller.models import AuditEvent, Media
from tests.controller.conftest import World, approved_bulletin


def test_approval_renders_audio_frozen_by_hash(world: World) -> None:
    bulletin = approved_bulletin(world)
    assert bulletin["status"] == "approved"
    sha = bulletin["media_sha256"]
    assert isinstance(sha, str) and len(sha) == 64
    assert bulletin["text_sha256"]
    with world.session() as session:
        assert session.get(Media, sha) is not None
        events = session.exec(select(AuditEvent).order_by(AuditEvent.id)).all()
    actions = [e.action for e in events if e.object_type == "bulletin"]  # logins are audited too
    assert actions == ["bulletin.create", "bulletin.submit", "bulletin.approve"]


def test_media_is_served_to_a_box_token_with_ranges_and_matches_its_hash(world: World) -> None:
    sha = approved_bulletin(world)["media_sha256"]
    headers = {"Authorization": f"Bearer {world.device_tokens['box-a1']}"}
    whole = world.client.get(f"/media/{sha}", headers=headers)
    assert whole.status_code == 200
    assert hashlib.sha256(whole.content).hexdigest() == sha
    part = world.client.get(f"/media/{sha}", headers={**headers, "Range": "bytes=10-"})
    assert part.status_code == 206
    assert part.content == whole.content[10:]


def test_media_refuses_missing_or_wrong_token(world: World) -> None:
    sha = approved_bulletin(world)["media_sha256"]
    assert world.client.get(f"/media/{sha}").status_code == 401
    assert world.client.get(f"/media/{sha}", headers={"Authorization": "Bearer nope"}).status_code == 401
    bad = world.client.get(
        "/media/..%2F..%2Fetc%2Fpasswd", headers={"Authorization": f"Bearer {world.device_tokens['box-a1']}"}
    )
    assert bad.status_code == 404


def test_a_commune_s_users_hear_only_their_communes_audio(world: World) -> None:
    """Another commune's audio is not found for a commune's user (its hash may be seen in a link or a
    log); the province's users and the boxes fetch any; the same audio made for both is both's."""
    own = str(approved_bulletin(world)["media_sha256"])
    other = str(
        approved_bulletin(
            world, editor="editor_b", approver="approver_b", commune=world.commune_b, body="Xã B họp dân."
        )["media_sha256"]
    )
    assert own != other

    def status(who: str, sha: str) -> int:
        return world.client.get(f"/media/{sha}", headers=world.token(who)).status_code

    assert (status("editor_a", own), status("approver_a", own)) == (200, 200)
    assert (status("editor_a", other), status("approver_a", other)) == (404, 404)
    assert status("editor_b", own) == 404
    assert (status("admin", own), status("auditor", other)) == (200, 200)
    box = {"Authorization": f"Bearer {world.device_tokens['box-a1']}"}
    assert world.client.get(f"/media/{other}", headers=box).status_code == 200

    # A draft's preview is heard in its commune at once; the same text in commune B makes the same
    # audio, which B's people may then hear too.
    def preview(editor: str, commune: int) -> dict[str, str]:
        headers = world.token(editor)
        draft = world.client.post(
            "/api/v1/bulletins",
            json={"commune_id": commune, "title": "Họp", "body": "Họp thôn."},
            headers=headers,
        ).json()["id"]
        made = world.client.post(f"/api/v1/bulletins/{draft}/preview", headers=headers)
        assert made.status_code == 200, made.text
        return dict(made.json())

    heard = preview("editor_a", world.commune_a)
    assert world.client.get(heard["url"], headers=world.token("editor_a")).status_code == 200
    assert status("editor_b", heard["media_sha256"]) == 404
    assert preview("editor_b", world.commune_b)["media_sha256"] == heard["media_sha256"]
    assert status("editor_b", heard["media_sha256"]) == 200


def test_editor_cannot_approve_and_approver_cannot_write(world: World) -> None:
    ed, ap = world.token("editor_a"), world.token("approver_a")
    bid = world.client.post(
        "/api/v1/bulletins", json={"commune_id": world.commune_a, "title": "T", "body": "B"}, headers=ed
    ).json()["id"]
    world.client.post(f"/api/v1/bulletins/{bid}/submit", headers=ed)
    refused = world.client.post(f"/api/v1/bulletins/{bid}/approve", headers=ed)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "quyền" in refused.json()["detail"]
    assert (
        world.client.post(
            "/api/v1/bulletins", json={"commune_id": world.commune_a, "title": "T", "body": "B"}, headers=ap
        ).status_code
        == 403
    )


def test_other_communes_bulletins_are_invisible(world: World) -> None:
    bid = approved_bulletin(world)["id"]
    other = world.token("editor_b")
    assert world.client.get(f"/api/v1/bulletins/{bid}", headers=other).status_code == 404
    assert world.client.get("/api/v1/bulletins", headers=other).json() == []
    assert (
        world.client.post(f"/api/v1/bulletins/{bid}/approve", headers=world.token("approver_b")).status_code
        == 404
    )
    created = world.client.post(
        "/api/v1/bulletins", json={"commune_id": world.commune_a, "title": "T", "body": "B"}, headers=other
    )
    assert created.status_code == 422
    auditor = world.token("auditor")
    assert world.client.get(f"/api/v1/bulletins/{bid}", headers=auditor).status_code == 200


def test_rejection_needs_a_reason_and_allows_resubmission(world: World) -> None:
    ed, ap = world.token("editor_a"), world.token("approver_a")
    bid = world.client.post(
        "/api/v1/bulletins", json={"commune_id": world.commune_a, "title": "T", "body": "B"}, headers=ed
    ).json()["id"]
    world.client.post(f"/api/v1/bulletins/{bid}/submit", headers=ed)
    assert (
        world.client.post(f"/api/v1/bulletins/{bid}/reject", json={"comment": " "}, headers=ap).status_code
        == 422
    )
    rejected = world.client.post(
        f"/api/v1/bulletins/{bid}/reject", json={"comment": "Sai số liệu"}, headers=ap
    )
    assert rejected.json()["status"] == "rejected"
    assert world.client.post(f"/api/v1/bulletins/{bid}/approve", headers=ap).status_code == 409
    assert world.client.post(f"/api/v1/bulletins/{bid}/submit", headers=ed).json()["status"] == "submitted"


def test_empty_title_is_refused_with_a_vietnamese_message(world: World) -> None:
    response = world.client.post(
        "/api/v1/bulletins",
        json={"commune_id": world.commune_a, "title": "  ", "body": "B"},
        headers=world.token("editor_a"),
    )
    assert response.status_code == 422
    assert response.json()["field"] == "title"
    assert "tiêu đề" in response.json()["detail"]
