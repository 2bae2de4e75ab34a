"""Issue #7's journeys in a real browser (headless Debian Chromium driven by Playwright) against one
live ``loa demo``: real Mosquitto, controller, espeak-ng and ffmpeg, and three agent processes whose
file sinks record what went on air. Everything a user does is a click or a keystroke in the panel;
the database and the sinks are only read, to check.

The demo runs with the two-person rule for emergencies on. The bulletin scheduled "in 1 minute" in
the first journey airs while the other journeys run; the last test waits for it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from loa.demo import demo_password
from tests.e2e.browser_support import (
    WAIT_MS,
    Demo,
    Screenshots,
    eventually,
    launch_chromium,
    log_in,
    new_page,
    running_demo,
    sideways_overflow,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect
pytestmark = [pytest.mark.integration, pytest.mark.e2e]

TITLE = "Thông báo tiêm phòng"
BODY = "UBND xã thông báo: ngày 1/12 tiêm phòng cho trẻ em tại trạm y tế."
SPOKEN = "Ủy ban nhân dân xã thông báo: ngày mồng một tháng mười hai"  # how the machine reads BODY
EAST, WEST = "Xóm Đông Lộc", "Xóm Tây Lộc"  # the demo's villages: loa-01 and loa-02, and loa-03
SESSION_COOKIE = "loa_session"  # the demo serves plain HTTP: no __Host- prefix
RENDER_MS = 120_000  # espeak-ng and ffmpeg on a loaded machine


@dataclass(frozen=True)
class Scheduled:
    bulletin_id: int
    media_sha256: str
    schedule_id: int
    starts_at: datetime


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    settings = {"LOA_EMERGENCY_TWO_PERSON": "true", "LOA_ASRUN_FOLD_SECONDS": "5"}
    with running_demo(tmp_path_factory.mktemp("journeys") / "demo", settings=settings) as live:
        yield live


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    expect.set_options(timeout=WAIT_MS)  # 5 s by default: short for a loaded machine
    with sync_api.sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        try:
            yield chromium
        finally:
            chromium.close()
            expect.set_options(timeout=None)


@pytest.fixture(scope="module")
def screens(tmp_path_factory: pytest.TempPathFactory) -> Screenshots:
    return Screenshots.from_env(tmp_path_factory.mktemp("screenshots"))


@pytest.fixture(scope="module")
def scheduled(demo: Demo, browser: Browser, screens: Screenshots) -> Scheduled:
    """The editor writes and submits, the approver listens and approves, the editor schedules it for
    one village "in 1 minute": all in the panel. Shared, so that the wait for the broadcast overlaps
    the other journeys."""
    editor = log_in(browser, demo, "editor")
    editor.get_by_role("link", name="Bản tin", exact=True).click()
    editor.get_by_role("link", name="Soạn bản tin mới").click()
    editor.fill("#title", TITLE)
    editor.fill("#body", BODY)
    screens.take(editor, "desktop-bulletin-editor")
    editor.get_by_role("button", name="Lưu bản nháp").click()
    editor.wait_for_url(re.compile(r"/bulletins/\d+$"))
    bulletin_id = int(editor.url.rsplit("/", 1)[1])
    expect(editor.locator("main .badge").first).to_have_text("Bản nháp")
    # The editor sees how the machine will read it: abbreviation and date spelled out.
    expect(editor.locator("main")).to_contain_text(SPOKEN)
    editor.get_by_role("button", name="Gửi duyệt").click()
    expect(editor.locator("main .badge").first).to_have_text("Chờ duyệt")

    approver = log_in(browser, demo, "approver")
    waiting = approver.locator("section", has=approver.get_by_role("heading", name="Bản tin chờ duyệt"))
    waiting.get_by_role("link", name=TITLE).click()
    approver.wait_for_url(f"{demo.url}/bulletins/{bulletin_id}")
    approver.get_by_role("button", name="Tạo âm thanh nghe thử").click()
    preview = approver.locator("#nghe-thu audio")
    expect(preview).to_be_visible(timeout=RENDER_MS)
    heard = (preview.get_attribute("src") or "").rsplit("/", 1)[1]
    screens.take(approver, "desktop-approver-view")
    approver.get_by_role("button", name="Duyệt bản tin và âm thanh đã nghe").click()
    expect(approver.locator("main .badge").first).to_have_text("Đã duyệt", timeout=RENDER_MS)
    # What was approved is exactly what the approver heard.
    assert demo.rows("SELECT status, media_sha256 FROM bulletin WHERE id = ?", bulletin_id) == [
        ("approved", heard)
    ]

    editor.reload()
    form = editor.locator("form[action$='/schedule']")
    form.get_by_label("Phát tới").select_option(label=f"— {EAST}")
    form.get_by_label("Sau 1 phút nữa").check()
    form.get_by_role("button", name="Lên lịch").click()
    listed = editor.locator("section", has=editor.get_by_role("heading", name="Lịch phát của bản tin"))
    expect(listed).to_contain_text("Một lần, ")
    expect(listed).to_contain_text(f"· {EAST} · Thường")
    rows = demo.rows(
        "SELECT s.id, s.starts_at, z.name FROM schedule s JOIN zone z ON z.id = s.target_zone_id "
        "WHERE s.bulletin_id = ?",
        bulletin_id,
    )
    assert len(rows) == 1 and rows[0][2] == EAST, rows
    starts_at = datetime.fromisoformat(rows[0][1]).replace(tzinfo=UTC)
    return Scheduled(bulletin_id, heard, rows[0][0], starts_at)


def test_editor_writes_approver_approves_and_editor_schedules_in_the_panel(
    demo: Demo, scheduled: Scheduled
) -> None:
    decisions = demo.rows(
        'SELECT e.action, u.username FROM auditevent e JOIN "user" u ON u.id = e.actor_id '
        "WHERE (e.object_type = 'bulletin' AND e.object_id = ?) OR (e.object_type = 'schedule' AND "
        "e.object_id = ?) ORDER BY e.id",
        str(scheduled.bulletin_id),
        str(scheduled.schedule_id),
    )
    assert decisions == [
        ("bulletin.create", "editor"),
        ("bulletin.submit", "editor"),
        ("bulletin.approve", "approver"),
        ("schedule.create", "editor"),
    ]
    assert scheduled.media_sha256 in {row[0] for row in demo.rows("SELECT sha256 FROM media")}
    # "In 1 minute" is a minute after the click, not yet on air: the boxes have it in their timelines.
    assert not demo.played("loa-01")
    timelines = demo.rows("SELECT device_id, envelope FROM devicetimeline ORDER BY device_id")
    holding = sorted(d for d, envelope in timelines if f'"schedule_id":{scheduled.schedule_id}' in envelope)
    assert holding == ["loa-01", "loa-02"]


def test_emergency_needs_a_second_person_then_plays_and_stop_all_silences_it(
    demo: Demo, browser: Browser, scheduled: Scheduled
) -> None:
    approver = log_in(browser, demo, "approver")
    on_air = approver.locator("#now-playing")  # the home page's live "on air now" list
    expect(on_air).to_contain_text("Hiện không có cụm loa nào đang phát.")
    orders = approver.context.new_page()
    orders.goto(f"{demo.url}/")
    orders.get_by_role("link", name="Phát khẩn cấp").click()
    orders.get_by_label("Bản tin đã duyệt").select_option(label=TITLE)
    orders.get_by_label(f"— {WEST}").check()
    orders.get_by_label("Số lần phát").fill("3")  # long enough to be stopped while it plays
    orders.get_by_role("button", name="Tạo lệnh (chờ xác nhận)").click()
    row = orders.locator("table tbody tr").first
    expect(row).to_contain_text("Chờ người thứ hai xác nhận")
    expect(row.get_by_role("button", name="Xác nhận phát")).to_have_count(0)  # not by its creator
    ((emergency_id, status, sent_at),) = demo.rows("SELECT id, status, sent_at FROM emergency")
    assert not demo.played("loa-03")
    assert (status, sent_at) == ("pending", None)

    admin = log_in(browser, demo, "admin")
    admin.get_by_role("link", name="Phát khẩn cấp").click()
    pending = admin.locator("table tbody tr").first
    pending.get_by_role("button", name="Xác nhận phát").click()
    expect(admin.locator("table tbody tr").first).to_contain_text("Đã phát lệnh")

    # Live (server-sent events, no reload): the order's tally counts the box that started, and the
    # approver's home page shows it on air.
    tally = orders.locator(f'[data-tally="{emergency_id}"]')
    expect(tally).to_have_text("1/1 cụm loa đã bắt đầu phát", timeout=30_000)
    expect(on_air).to_contain_text(f"Khẩn cấp {TITLE}", timeout=30_000)
    expect(on_air).to_contain_text(f"Cụm loa 3 – {WEST}")
    item = f"e{emergency_id}"
    started = demo.rows("SELECT device_id FROM receipt WHERE item_id = ? AND event = 'started'", item)
    assert started == [("loa-03",)]

    orders.reload()
    orders.get_by_role("button", name="Dừng tất cả").click()
    expect(orders.locator("table tbody tr").first).to_contain_text("Đã dừng")
    expect(on_air).to_contain_text("Hiện không có cụm loa nào đang phát.", timeout=30_000)

    def interrupted() -> list[tuple[str, str]] | None:
        rows = demo.rows("SELECT device_id, event FROM receipt WHERE item_id = ? ORDER BY seq", item)
        return rows if ("loa-03", "interrupted") in rows else None

    events = eventually(
        interrupted,
        timeout=30,
        what="the emergency interrupted on loa-03",
    )
    assert ("loa-03", "completed") not in events
    assert [device for device, _event in events] == ["loa-03"] * len(events)  # the other village: nothing
    assert [p["sha256"] for p in demo.played("loa-03")] == [scheduled.media_sha256]
    assert demo.played("loa-03")[0]["interrupted"]
    actions = demo.rows("SELECT action FROM auditevent WHERE action LIKE 'emergency.%' ORDER BY id")
    assert actions == [("emergency.create",), ("emergency.send",), ("emergency.stop_all",)]


def test_five_wrong_passwords_lock_the_username_but_not_the_others(demo: Demo, browser: Browser) -> None:
    page = new_page(browser)
    page.goto(f"{demo.url}/login")
    statuses = []
    for attempt in range(5):
        page.fill("#username", "technician")
        page.fill("#password", f"sai-{attempt}")
        with page.expect_response(lambda r: r.request.method == "POST") as answer:
            page.click("button[type=submit]")
        statuses.append(answer.value.status)
        expect(page.locator("#username")).to_have_value("technician")  # nothing typed is lost
    assert statuses == [401, 401, 401, 401, 429]
    expect(page.locator(".error")).to_have_text(
        re.compile(r"Đăng nhập sai quá nhiều lần\. Vui lòng thử lại sau 1[45] phút\.")
    )
    page.fill("#password", demo_password("technician"))
    page.click("button[type=submit]")
    expect(page.locator(".error")).to_contain_text("Đăng nhập sai quá nhiều lần")
    assert page.url == f"{demo.url}/login"
    assert SESSION_COOKIE not in {c["name"] for c in page.context.cookies()}

    other = log_in(browser, demo, "auditor")  # from the same address, another username is not locked
    expect(other.locator("h1")).to_have_text("Xin chào, Lê Minh Đức")
    assert SESSION_COOKIE in {c["name"] for c in other.context.cookies()}


def test_on_a_phone_the_screens_fit_and_the_menu_reaches_them(
    demo: Demo, browser: Browser, screens: Screenshots
) -> None:
    page = new_page(browser, phone=True)
    page.goto(f"{demo.url}/")
    assert page.url == f"{demo.url}/login"
    assert sideways_overflow(page) == 0
    page.fill("#username", "editor")
    page.fill("#password", demo_password("editor"))
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(f"{demo.url}/")
    journey = [
        (None, "Xin chào, Nguyễn Thị Lan", "phone-home"),
        ("Bản tin", "Bản tin", "phone-bulletins"),
        ("Soạn bản tin mới", "Soạn bản tin", "phone-bulletin-editor"),
        ("Lịch phát", "Lịch phát", "phone-schedules"),
        ("Lên lịch mới", "Lên lịch phát", "phone-schedule-form"),
        ("Lịch tuần", "Lịch phát theo tuần", "phone-calendar"),
        ("Cụm loa", "Cụm loa", "phone-devices"),
        ("Trang chủ", "Xin chào, Nguyễn Thị Lan", None),
    ]
    for link, heading, name in journey:
        if link is not None:
            page.get_by_role("link", name=link, exact=True).first.click()
        expect(page.locator("h1")).to_contain_text(heading)
        assert sideways_overflow(page) == 0, f"{page.url} scrolls sideways on a 360 px phone"
        if name is not None:
            screens.take(page, name)


def test_screenshots_of_the_main_screens(
    demo: Demo, browser: Browser, scheduled: Scheduled, screens: Screenshots
) -> None:
    desktop = log_in(browser, demo, "approver")
    phone = log_in(browser, demo, "approver", phone=True)
    pages = [  # path, heading, something the screen shows, name, also on a phone
        ("/", "Xin chào, Trần Văn Hùng", TITLE, "home", False),
        ("/bulletins", "Bản tin", TITLE, "bulletins", False),
        ("/schedules/new", "Lên lịch phát", "Nội dung phát", "schedule-form", False),
        ("/calendar", "Lịch phát theo tuần: Xã Nghi Lộc", TITLE, "calendar", False),
        ("/devices", "Cụm loa", f"Cụm loa 3 – {WEST}", "devices", False),
        ("/reports", "Báo cáo thời lượng phát", "Xã Nghi Lộc", "reports", True),
        ("/emergency", "Phát khẩn cấp", "Dừng tất cả", "emergency", True),
    ]
    for path, heading, shows, name, on_phone_too in pages:
        for page, kind in [(desktop, "desktop"), *([(phone, "phone")] if on_phone_too else [])]:
            page.goto(f"{demo.url}{path}")
            expect(page.locator("h1")).to_contain_text(heading)
            expect(page.locator("main")).to_contain_text(shows)
            screens.take(page, f"{kind}-{name}")
        if on_phone_too:
            assert sideways_overflow(phone) == 0, f"{path} scrolls sideways on a 360 px phone"


def test_the_scheduled_bulletin_airs_on_the_village_boxes_and_the_panel_shows_it(
    demo: Demo, browser: Browser, scheduled: Scheduled, screens: Screenshots
) -> None:
    wait = (scheduled.starts_at - datetime.now(UTC)).total_seconds() + 120

    def completed() -> bool:
        rows = demo.rows(
            "SELECT device_id FROM receipt WHERE schedule_id = ? AND event = 'completed'",
            scheduled.schedule_id,
        )
        return sorted(device for (device,) in rows) == ["loa-01", "loa-02"]

    eventually(completed, timeout=wait, what=f"both boxes of {EAST} to play the bulletin to its end")
    for device_id in ("loa-01", "loa-02"):
        ours = [p for p in demo.played(device_id) if p["item_id"].startswith(f"s{scheduled.schedule_id}-")]
        assert [(p["sha256"], p["interrupted"]) for p in ours] == [(scheduled.media_sha256, False)]
    assert not [p for p in demo.played("loa-03") if p["item_id"].startswith("s")]  # the other village

    auditor = log_in(browser, demo, "auditor")
    auditor.get_by_role("link", name="Nhật ký phát", exact=True).click()
    aired = auditor.locator("tbody tr", has_text=TITLE).filter(has_text="Đã phát xong")
    expect(aired).to_have_count(2)
    expect(aired.filter(has_text=f"Cụm loa 1 – {EAST}")).to_have_count(1)
    expect(aired.filter(has_text=f"Cụm loa 2 – {EAST}")).to_have_count(1)
    screens.take(auditor, "desktop-asrun")

    # A villager who missed it finds it on the commune's public page, on a phone, without a login,
    # once the as-run fold has it (public pages are cached for minutes: open them after that).
    def folded() -> bool:
        rows = demo.rows(
            "SELECT device_id FROM occurrence "
            "WHERE source = 'schedule' AND source_id = ? AND state = 'aired'",
            scheduled.schedule_id,
        )
        return len(rows) == 2

    eventually(folded, timeout=60, what="the broadcast in the as-run log")
    villager = new_page(browser, phone=True)
    villager.goto(f"{demo.url}/p/")
    villager.get_by_role("link", name="Xã Nghi Lộc").click()
    expect(villager.locator("h1")).to_have_text("Bản tin truyền thanh Xã Nghi Lộc")
    expect(villager.locator("main")).to_contain_text(TITLE)
    expect(villager.locator("main audio").first).to_be_attached()
    assert sideways_overflow(villager) == 0
    screens.take(villager, "phone-public")
