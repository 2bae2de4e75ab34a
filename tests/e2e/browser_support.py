"""What the browser journeys share: a live ``loa demo`` (Mosquitto, controller, three agent
processes), headless Debian Chromium driven by Playwright, logins through the login page, the
no-sideways-scrolling check and the screenshots.

Screenshots go to ``$E2E_ARTIFACTS`` (default: a pytest temporary folder); with
``E2E_UPDATE_SCREENSHOTS=1`` the ones named in ``DOCS_SCREENSHOTS`` are also written to
``docs/screenshots/``. (Not ``LOA_*`` names: the controller refuses unknown ``LOA_`` variables.)
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from loa.demo import demo_password
from loa.mosquitto import free_port

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Playwright, ViewportSize

T = TypeVar("T")
CHROMIUM = Path("/usr/bin/chromium")
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 360, "height": 740}
WAIT_MS = 20_000  # for a page or an assertion on it; rendering audio gets its own, longer one
REPO = Path(__file__).resolve().parents[2]
DOCS_SCREENSHOTS = REPO / "docs" / "screenshots"
# The screenshots kept in docs/ (the rest stay test artefacts).
DOCS_NAMES = frozenset(
    {
        "phone-home",
        "desktop-approver-view",
        "phone-schedule-form",
        "desktop-calendar",
        "desktop-emergency",
        "phone-public",
    }
)


@dataclass
class Demo:
    url: str
    data_dir: Path
    process: subprocess.Popen[bytes]

    def token(self, username: str) -> dict[str, str]:
        response = httpx.post(
            f"{self.url}/api/v1/auth/token",
            json={"username": username, "password": demo_password(username)},
        )
        response.raise_for_status()
        return {"Authorization": f"Bearer {response.json()['token']}"}

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.data_dir / "controller" / "loa.db")

    def rows(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        """Rows of a read on the demo's SQLite database."""
        with sqlite3.connect(self.data_dir / "controller" / "loa.db") as db:
            return db.execute(sql, args).fetchall()

    def played(self, device_id: str) -> list[dict[str, Any]]:
        """What the box's file sink says it put on air, in order."""
        path = self.data_dir / "agents" / device_id / "sink" / "played.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def eventually(check: Callable[[], T | None], *, timeout: float, what: str) -> T:
    """Poll ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.25)


@contextmanager
def running_demo(data_dir: Path, *, settings: Mapping[str, str]) -> Iterator[Demo]:
    """``loa demo`` on a free port with extra ``LOA_*`` settings, until every box is online; stopped
    (and checked to leave nothing running) afterwards."""
    port = free_port()
    log_path = data_dir.parent / f"{data_dir.name}.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **settings}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "loa", "demo", "--data-dir", str(data_dir), "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        demo = Demo(f"http://127.0.0.1:{port}", data_dir, process)

        def ready() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"loa demo exited: {log_path.read_text()}")
            try:
                health = httpx.get(f"{demo.url}/healthz", timeout=1).json()
            except httpx.HTTPError:
                return False
            if not health["mqtt"]:
                return False
            devices = httpx.get(f"{demo.url}/api/v1/devices", headers=demo.token("admin")).json()
            return len(devices) == 3 and all(d["state"] == "online" for d in devices)

        try:
            eventually(ready, timeout=90, what="the demo with three online boxes")
            yield demo
        finally:
            process.send_signal(signal.SIGTERM)  # as systemd or a closing terminal stops it
            try:
                process.wait(timeout=30)
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
    assert "stopped everything it started" in log_path.read_text()
    leftovers = subprocess.run(["pgrep", "-af", str(data_dir)], capture_output=True, text=True).stdout
    assert leftovers == "", leftovers


def launch_chromium(playwright: Playwright) -> Browser:
    """Debian's Chromium, headless, with nothing that reaches the network on its own."""
    assert CHROMIUM.exists(), "apt-get install chromium"
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM),
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    )


def new_page(browser: Browser, *, phone: bool = False) -> Page:
    """A page in a fresh browser context (its own cookies), as a Vietnamese official's device."""
    context = browser.new_context(
        viewport=PHONE if phone else DESKTOP,
        is_mobile=phone,
        has_touch=phone,
        locale="vi-VN",
        timezone_id="Asia/Ho_Chi_Minh",
    )
    context.set_default_timeout(WAIT_MS)
    return context.new_page()


def log_in(browser: Browser, demo: Demo, username: str, *, phone: bool = False) -> Page:
    """Log in through the login page; returns the home page."""
    page = new_page(browser, phone=phone)
    page.goto(f"{demo.url}/login")
    page.fill("#username", username)
    page.fill("#password", demo_password(username))
    page.click("button[type=submit]")
    page.wait_for_url(f"{demo.url}/")
    return page


def sideways_overflow(page: Page) -> int:
    """How many pixels the page scrolls sideways past its viewport (0 on a page that fits)."""
    width = page.evaluate("document.scrollingElement.scrollWidth")
    viewport = page.viewport_size
    assert viewport is not None
    return max(0, int(width) - viewport["width"] - 1)  # one pixel of sub-pixel rounding


class Screenshots:
    """Saves full-page screenshots as test artefacts (and, when asked, the chosen ones into docs/)."""

    def __init__(self, folder: Path, *, update_docs: bool) -> None:
        self.folder, self.update_docs = folder, update_docs
        folder.mkdir(parents=True, exist_ok=True)

    @classmethod
    def from_env(cls, default: Path) -> Screenshots:
        folder = os.environ.get("E2E_ARTIFACTS")
        return cls(
            Path(folder) if folder else default,
            update_docs=os.environ.get("E2E_UPDATE_SCREENSHOTS") == "1",
        )

    def take(self, page: Page, name: str) -> Path:
        """``name`` is ``phone-…`` or ``desktop-…`` and the screen; returns the artefact's path."""
        page.wait_for_load_state("load")  # not "networkidle": live pages keep an event stream open
        path = self.folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True, animations="disabled", caret="hide")
        assert path.stat().st_size > 5_000, f"{name}: an empty screenshot"
        if self.update_docs and name in DOCS_NAMES:
            DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            (DOCS_SCREENSHOTS / path.name).write_bytes(path.read_bytes())
        return path
