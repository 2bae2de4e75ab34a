"""The public commune pages and podcast feed: only approved bulletins that aired on the commune's boxes
(as the as-run fold read them from signed receipts), everything escaped, nothing else reachable.

    aired     commune A, village a1, 3 Mar 06:00: box a1 completed          → public in A
    hostile   commune A, 4 Mar 06:00, a title and text full of markup       → public in A, escaped
    failed    commune A, 5 Mar 06:00: box a1 failed                          → not public
    pending   commune A, 1 Jan 2099: published, not yet due                  → not public
    other     commune B, village b1, 3 Mar 17:00: box b1 completed          → public in B only
    draft     commune A, never approved                                      → not public
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from defusedxml import ElementTree as SafeET
from sqlmodel import select

from controller import public
from controller.models import Bulletin, Media, User, Zone
from tests.controller.asrun_support import (
    Boxes,
    backdate_boxes,
    fold,
    item_id,
    local,
    publish_and_fold,
    schedule,
)
from tests.controller.conftest import World, make_world

HOSTILE_TITLE = '<script>alert("t")</script> & ]]> "Luật" \x0b'
HOSTILE_BODY = "<img src=x onerror=alert(1)>\n]]><![CDATA[ & &amp; <b>đậm</b>"
ITUNES = "{http://www.itunes.com/dtds/podcast-1.0.dtd}"


@dataclass
class Scenario:
    world: World
    code_a: str
    code_b: str
    name_a: str
    ids: dict[str, int]


def _bulletin(world: World, *, title: str, body: str, commune: int, status: str = "approved") -> int:
    """A bulletin with real audio bytes in the store (nothing rendered)."""
    with world.session() as session:
        admin = session.exec(select(User).where(User.username == "admin")).one()
        stored = world.services.store.put_bytes(b"OggS" + hashlib.sha256(title.encode()).digest() * 64)
        session.add(Media(sha256=stored.sha256, bytes=stored.bytes, duration_ms=90_000, mime="audio/ogg"))
        session.flush()
        row = Bulletin(
            commune_id=commune,
            title=title,
            body=body,
            status=status,
            author_id=admin.id or 0,
            media_sha256=stored.sha256 if status == "approved" else None,
        )
        session.add(row)
        session.commit()
        return row.id or 0


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    worlds = make_world(Path(tmp_path_factory.mktemp("public")))
    world = next(worlds)
    backdate_boxes(world, local(2026, 1, 1))
    a, b = world.commune_a, world.commune_b
    ids = {
        "aired": _bulletin(world, title="Luật Đất đai 2024", body="Kính thưa bà con.", commune=a),
        "hostile": _bulletin(world, title=HOSTILE_TITLE, body=HOSTILE_BODY, commune=a),
        "failed": _bulletin(world, title="Bản tin phát lỗi", body="Không phát được.", commune=a),
        "pending": _bulletin(world, title="Bản tin sắp phát", body="Chưa phát.", commune=a),
        "other": _bulletin(world, title="Tin của xã B", body="Chỉ xã B.", commune=b),
        "draft": _bulletin(world, title="Bản nháp bí mật", body="Chưa duyệt.", commune=a, status="draft"),
    }
    t1, t2, t3, t4 = local(2026, 3, 3, 6), local(2026, 3, 4, 6), local(2026, 3, 5, 6), local(2026, 3, 3, 17)
    s1 = schedule(world, bulletin_id=ids["aired"], zone_id=world.village_a1, at=t1)
    s2 = schedule(world, bulletin_id=ids["hostile"], zone_id=world.commune_a, at=t2)
    s3 = schedule(world, bulletin_id=ids["failed"], zone_id=world.village_a1, at=t3)
    s4 = schedule(world, bulletin_id=ids["other"], zone_id=world.village_b1, at=t4)
    boxes = Boxes(world)
    publish_and_fold(world, t1 - timedelta(hours=1))
    boxes.report("box-a1", "completed", item_id(s1, t1), at=t1, seconds=90)
    boxes.report("box-b1", "completed", item_id(s4, t4), at=t4, seconds=90)
    publish_and_fold(world, t2 - timedelta(hours=1))
    boxes.report("box-a2", "completed", item_id(s2, t2), at=t2, seconds=90)
    publish_and_fold(world, t3 - timedelta(hours=1))
    boxes.report("box-a1", "failed", item_id(s3, t3), at=t3, reason="media_missing")
    fold(world, local(2026, 3, 6))
    future = local(2099, 1, 1, 6)
    schedule(world, bulletin_id=ids["pending"], zone_id=world.village_a1, at=future)
    publish_and_fold(world, future - timedelta(hours=1))
    with world.session() as session:
        zone_a, zone_b = session.get(Zone, a), session.get(Zone, b)
        assert zone_a is not None and zone_b is not None
        yield Scenario(world, zone_a.code, zone_b.code, zone_a.name, ids)
    with contextlib.suppress(StopIteration):
        next(worlds)


def test_commune_page_lists_only_approved_bulletins_that_aired_there(scenario: Scenario) -> None:
    client, ids = scenario.world.client, scenario.ids
    client.cookies.clear()  # no login
    page = client.get(f"/p/{scenario.code_a}")
    assert page.status_code == 200 and '<html lang="vi">' in page.text
    assert "Luật Đất đai 2024" in page.text and "Kính thưa bà con." in page.text
    assert "03/03/2026 06:00" in page.text  # aired at, in Vietnam time
    assert f"/p/{scenario.code_a}/audio/{ids['aired']}.ogg" in page.text
    for hidden in ("Bản tin phát lỗi", "Bản tin sắp phát", "Tin của xã B", "Bản nháp bí mật"):
        assert hidden not in page.text
    for leak in ("box-a1", "box-a2", "approver_a", "editor_a", "/media/", "/bulletins/"):
        assert leak not in page.text
    # Newest airing first: the hostile bulletin (4 March) before the aired one (3 March).
    assert page.text.index("&lt;script&gt;") < page.text.index("Luật Đất đai 2024")
    other = client.get(f"/p/{scenario.code_b}")
    assert "Tin của xã B" in other.text and "Luật Đất đai 2024" not in other.text


def test_titles_and_texts_are_escaped_in_the_page(scenario: Scenario) -> None:
    client = scenario.world.client
    for url in (f"/p/{scenario.code_a}", f"/p/{scenario.code_a}/b/{scenario.ids['hostile']}"):
        page = client.get(url)
        assert page.status_code == 200
        assert "<script>alert" not in page.text and "<img src=x" not in page.text
        assert "<b>đậm</b>" not in page.text
        assert "&lt;script&gt;alert(&#34;t&#34;)&lt;/script&gt; &amp; ]]&gt;" in page.text
        assert "&lt;img src=x onerror=alert(1)&gt;" in page.text


def test_audio_is_served_only_for_bulletins_aired_in_the_commune(scenario: Scenario) -> None:
    client, ids, a = scenario.world.client, scenario.ids, scenario.code_a
    client.cookies.clear()
    audio = client.get(f"/p/{a}/audio/{ids['aired']}.ogg")
    assert audio.status_code == 200 and audio.content.startswith(b"OggS")
    assert audio.headers["content-type"] == "audio/ogg"
    assert "public" in audio.headers["cache-control"]
    part = client.get(f"/p/{a}/audio/{ids['aired']}.ogg", headers={"Range": "bytes=0-3"})
    assert part.status_code == 206 and part.content == b"OggS"
    for name in ("failed", "pending", "draft"):
        assert client.get(f"/p/{a}/audio/{ids[name]}.ogg").status_code == 404, name
    assert client.get(f"/p/{a}/audio/{ids['other']}.ogg").status_code == 404  # another commune's
    assert client.get(f"/p/{scenario.code_b}/audio/{ids['other']}.ogg").status_code == 200
    assert client.get(f"/p/{a}/audio/{ids['aired']}.mp3").status_code == 404
    assert client.get(f"/p/{a}/b/{ids['pending']}").status_code == 404
    with scenario.world.session() as session:
        sha = session.get(Bulletin, ids["aired"]).media_sha256  # type: ignore[union-attr]
    assert client.get(f"/media/{sha}").status_code == 401  # the boxes' media URL stays closed


def test_feed_is_valid_rss_with_enclosures_and_escaped_text(scenario: Scenario) -> None:
    client, ids, a = scenario.world.client, scenario.ids, scenario.code_a
    response = client.get(f"/p/{a}/feed.xml")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/rss+xml")
    root = SafeET.fromstring(response.content)
    assert root.tag == "rss" and root.get("version") == "2.0"
    channel = root.find("channel")
    assert channel is not None and scenario.name_a in (channel.findtext("title") or "")
    assert channel.findtext("language") == "vi"
    items = channel.findall("item")
    assert [i.findtext("title") for i in items] == [HOSTILE_TITLE.replace("\x0b", ""), "Luật Đất đai 2024"]
    assert items[0].findtext("description") == (  # HTML for readers that show it, markup still text
        "&lt;img src=x onerror=alert(1)&gt;<br>\n]]&gt;&lt;![CDATA[ &amp; &amp;amp; &lt;b&gt;đậm&lt;/b&gt;"
    )
    enclosure = items[1].find("enclosure")
    assert enclosure is not None and enclosure.get("type") == "audio/ogg"
    url = enclosure.get("url") or ""
    assert url.endswith(f"/p/{a}/audio/{ids['aired']}.ogg")
    audio = client.get(url)
    assert audio.status_code == 200 and int(enclosure.get("length") or 0) == len(audio.content)
    assert items[1].findtext(f"{ITUNES}duration") == "00:01:30"
    assert items[1].findtext("pubDate") == "Mon, 02 Mar 2026 23:00:00 GMT"
    assert b"<script>" not in response.content and b"box-a1" not in response.content


def test_pages_and_feed_can_be_cached_and_revalidated(scenario: Scenario) -> None:
    client = scenario.world.client
    for url in (f"/p/{scenario.code_a}", f"/p/{scenario.code_a}/feed.xml", "/p/"):
        first = client.get(url)
        assert first.status_code == 200 and first.headers["cache-control"].startswith("public, max-age=")
        again = client.get(url, headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
    page = client.get(f"/p/{scenario.code_a}").headers["cache-control"]
    assert int(page.split("max-age=")[1]) <= 60  # what just aired shows within a minute
    assert client.head(f"/p/{scenario.code_a}/feed.xml").status_code == 200


def test_commune_list_shows_communes_with_broadcasts_and_finds_them_without_marks(scenario: Scenario) -> None:
    client = scenario.world.client
    listed = client.get("/p/")
    assert listed.status_code == 200
    codes = set(re.findall(r'href="/p/([^"/]+)"', listed.text))
    assert codes == {scenario.code_a, scenario.code_b}
    unaccented = public.fold_text(scenario.name_a).split()[-1]
    found = client.get("/p/", params={"q": unaccented})
    assert f'href="/p/{scenario.code_a}"' in found.text
    nothing = client.get("/p/", params={"q": "<zzz>"})
    assert re.findall(r'href="/p/([^"/]+)"', nothing.text) == [] and "&lt;zzz&gt;" in nothing.text


def test_pages_split_the_list_and_unknown_communes_are_not_found(scenario: Scenario) -> None:
    with scenario.world.session() as session:
        commune = public.commune_by_code(session, scenario.code_a)
        first = public.aired_bulletins(session, commune=commune, page=1, per_page=1)
        second = public.aired_bulletins(session, commune=commune, page=2, per_page=1)
    assert (first.total, first.pages) == (2, 2)
    assert [b.id for b in first.items + second.items] == [scenario.ids["hostile"], scenario.ids["aired"]]
    assert scenario.world.client.get("/p/no-such-commune").status_code == 404
    assert scenario.world.client.get(f"/p/{scenario.code_a}?page=0").status_code == 422
