"""Editing a bulletin keeps every version; its page shows who did what when, and a word-level diff."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import col, select

from controller.bulletin_versions import Piece, word_diff
from controller.models import Bulletin, BulletinVersion, User
from tests.controller.conftest import PASSWORD, World, make_world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    worlds = make_world(Path(tmp_path_factory.mktemp("versions")))
    yield next(worlds)
    with contextlib.suppress(StopIteration):
        next(worlds)


def _login(world: World, username: str) -> str:
    """Log the test client in to the panel as ``username``; returns the CSRF token."""
    world.client.cookies.clear()
    response = world.client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code in (200, 303), response.text
    match = re.search(r'name="csrf_token" value="([^"]+)"', world.client.get("/").text)
    assert match
    return match.group(1)


def _draft(world: World, csrf: str, *, title: str, body: str) -> int:
    response = world.client.post(
        "/bulletins/new",
        data={"csrf_token": csrf, "commune_id": world.commune_a, "title": title, "body": body},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return int(response.headers["location"].rsplit("/", 1)[1])


def _edit(world: World, csrf: str, bulletin_id: int, base: int, **changes: str) -> tuple[int, str]:
    form = {"csrf_token": csrf, "base_version": str(base), "category": "legal", **changes}
    response = world.client.post(f"/bulletins/{bulletin_id}/edit", data=form, follow_redirects=False)
    return response.status_code, response.text


def _versions(world: World, bulletin_id: int) -> list[BulletinVersion]:
    with world.session() as session:
        query = select(BulletinVersion).where(BulletinVersion.bulletin_id == bulletin_id)
        return list(session.exec(query.order_by(col(BulletinVersion.number))).all())


def test_every_edit_keeps_a_version_and_the_history_says_who_did_what(world: World) -> None:
    csrf = _login(world, "editor_a")
    bid = _draft(world, csrf, title="Tiêm phòng", body="Kính thưa bà con,\nngày mai tiêm phòng cho chó.")
    form = world.client.get(f"/bulletins/{bid}/edit")
    assert form.status_code == 200 and 'name="base_version" value="1"' in form.text
    body2 = "Kính thưa bà con,\nthứ Hai tiêm phòng dại cho chó."
    assert _edit(world, csrf, bid, 1, title="Tiêm phòng", body=body2)[0] == 303
    assert _edit(world, csrf, bid, 2, title="Tiêm phòng dại", body=body2, speed="170")[0] == 303
    assert _edit(world, csrf, bid, 3, title="Tiêm phòng dại", body=body2, speed="170")[0] == 303  # no change
    rows = _versions(world, bid)
    assert [(v.number, v.title, v.speed) for v in rows] == [
        (1, "Tiêm phòng", 150),
        (2, "Tiêm phòng", 150),
        (3, "Tiêm phòng dại", 170),
    ]
    assert rows[0].body.endswith("ngày mai tiêm phòng cho chó.") and rows[2].body == body2
    part = world.client.get(f"/bulletins/{bid}/_history").text
    assert part.count("Đã sửa") == 2 and "Đã soạn" in part and "editor_a" in part
    assert "phiên bản 3" in part and "Từ phiên bản 2 đến phiên bản 3" in part  # the last two by default
    assert re.search(r"Tốc độ đọc: <del>150</del> → <ins>170</ins>", part)
    page = world.client.get(f"/bulletins/{bid}/versions", params={"old": 1, "new": 2}).text
    assert re.search(r"<del>(?:(?!</del>).)*ngày mai(?:(?!</del>).)*</del>", page)
    assert re.search(r"<ins>(?:(?!</ins>).)*thứ Hai(?:(?!</ins>).)*</ins>", page)
    assert re.search(r"<ins>(?:(?!</ins>).)*dại(?:(?!</ins>).)*</ins>", page)
    assert "bà con," in page and not re.search(r"<(del|ins)>[^<]*bà con", page)  # unchanged words stay plain
    detail = world.client.get(f"/bulletins/{bid}").text
    assert f'href="/bulletins/{bid}/edit"' in detail and f'hx-get="/bulletins/{bid}/_history"' in detail


def test_an_edit_made_from_an_old_version_is_refused_and_keeps_what_was_typed(world: World) -> None:
    csrf = _login(world, "editor_a")
    bid = _draft(world, csrf, title="Họp dân", body="Họp dân tối thứ Bảy.")
    assert _edit(world, csrf, bid, 1, title="Họp dân", body="Họp dân tối Chủ nhật.")[0] == 303
    status, text = _edit(world, csrf, bid, 1, title="Họp dân", body="Họp dân sáng thứ Hai <b>gấp</b>.")
    assert status == 409 and "Một người khác đã lưu bản tin này" in text
    assert "Họp dân sáng thứ Hai &lt;b&gt;gấp&lt;/b&gt;." in text  # nothing typed is lost
    assert [v.body for v in _versions(world, bid)] == ["Họp dân tối thứ Bảy.", "Họp dân tối Chủ nhật."]


def test_only_drafts_and_rejected_bulletins_of_ones_communes_can_be_edited(world: World) -> None:
    csrf = _login(world, "editor_a")
    bid = _draft(world, csrf, title="Phòng cháy", body="Phòng cháy rừng mùa khô.")
    assert world.client.post(f"/bulletins/{bid}/submit", data={"csrf_token": csrf}).status_code == 200
    assert _edit(world, csrf, bid, 1, title="Phòng cháy", body="Khác.")[0] == 409
    assert world.client.get(f"/bulletins/{bid}/edit").status_code == 409
    csrf_b = _login(world, "editor_b")
    assert _edit(world, csrf_b, bid, 1, title="Phòng cháy", body="Khác.")[0] == 404
    assert world.client.get(f"/bulletins/{bid}/_history").status_code == 404
    csrf_ap = _login(world, "approver_a")
    assert world.client.get(f"/bulletins/{bid}/edit").status_code == 403
    assert _edit(world, csrf_ap, bid, 1, title="Phòng cháy", body="Khác.")[0] == 403
    rejected = world.client.post(
        f"/bulletins/{bid}/reject", data={"csrf_token": csrf_ap, "comment": "Sai <mùa>"}
    )
    assert rejected.status_code == 200
    csrf = _login(world, "editor_a")
    assert _edit(world, csrf, bid, 1, title="Phòng cháy", body="Phòng cháy rừng mùa hè.")[0] == 303
    assert world.client.post(f"/bulletins/{bid}/submit", data={"csrf_token": csrf}).status_code == 200
    approved = world.client.post(f"/api/v1/bulletins/{bid}/approve", headers=world.token("approver_a"))
    assert approved.status_code == 200, approved.text
    part = world.client.get(f"/bulletins/{bid}/_history").text
    steps = re.findall(r"· (Đã soạn|Đã sửa|Đã gửi duyệt|Bị từ chối|Đã duyệt)", part)
    assert steps == ["Đã soạn", "Đã gửi duyệt", "Bị từ chối", "Đã sửa", "Đã gửi duyệt", "Đã duyệt"]
    assert "“Sai &lt;mùa&gt;”" in part and "approver_a" in part
    assert re.search(r"Phiên bản 2</strong> <span class=\"badge approved\">", part)  # the version approved
    assert [v.body for v in _versions(world, bid)][-1] == "Phòng cháy rừng mùa hè."


def test_a_bulletin_from_before_versions_keeps_its_old_content_as_version_one(world: World) -> None:
    with world.session() as session:
        author = session.exec(select(User).where(User.username == "editor_a")).one()
        row = Bulletin(commune_id=world.commune_a, title="Cũ", body="Nội dung cũ.", author_id=author.id or 0)
        session.add(row)
        session.commit()
        bid = row.id or 0
    csrf = _login(world, "editor_a")
    part = world.client.get(f"/bulletins/{bid}/_history")
    assert part.status_code == 200 and "Cũ" in part.text
    assert world.client.get(f"/bulletins/{bid}/edit").text.count('name="base_version" value="0"') == 1
    assert _edit(world, csrf, bid, 0, title="Mới", body="Nội dung mới <script>x</script>.")[0] == 303
    assert [(v.number, v.title, v.body) for v in _versions(world, bid)] == [
        (1, "Cũ", "Nội dung cũ."),
        (2, "Mới", "Nội dung mới <script>x</script>."),
    ]
    page = world.client.get(f"/bulletins/{bid}/versions").text
    assert "<script>x" not in page and "&lt;script&gt;x&lt;/script&gt;" in page


def test_word_diff_marks_the_words_removed_and_added() -> None:
    assert word_diff("Kính thưa bà con.", "Kính gửi bà con thôn A.") == [
        Piece("same", "Kính "),
        Piece("del", "thưa"),
        Piece("ins", "gửi"),
        Piece("same", " bà con"),
        Piece("ins", " thôn A"),
        Piece("same", "."),
    ]
    old = "Điều 1. Phạm vi.\nĐiều 2. Đối tượng áp dụng là hộ gia đình.\n\nĐiều 3. Hiệu lực."
    new = "Điều 1. Phạm vi điều chỉnh.\nĐiều 2. Đối tượng áp dụng là cá nhân.\n\nĐiều 3. Hiệu lực."
    pieces = word_diff(old, new)
    assert "".join(p.text for p in pieces if p.op != "ins") == old
    assert "".join(p.text for p in pieces if p.op != "del") == new
    assert [p.text for p in pieces if p.op != "same"] == [" điều chỉnh", "hộ gia đình", "cá nhân"]
