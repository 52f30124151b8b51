"""Browser tests: Debian's Chromium driven by Playwright (one browser for the
run), against the real application served on loopback by uvicorn, whose
e-mails reach a real SMTP server.

Chromium must be installed (``make test`` installs it); without it these
tests fail, they never skip.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import (
    Browser,
    Locator,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

from sceau.runtime import Runtime
from tests.people.conftest import mailbox
from tests.support.events import Mailbox, event_settings
from tests.support.servers import LiveApp, free_port, live_app

__all__ = ["mailbox"]

# `make screenshots` points this at docs/screenshots; an ordinary run still
# takes every screenshot (a page that cannot be drawn fails the test) but keeps
# them out of the working tree, since their dates and QR codes change each run.
SCREENSHOTS = Path(
    os.environ.get("SCREENSHOTS_DIR")
    or Path(tempfile.gettempdir()) / "pixel-sceau-screenshots"
)
WIDTHS = (360, 1280)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


# One browser for all the tests of this package, closed after the last one:
# Playwright's synchronous API runs an event loop on the main thread while it
# lives, and code that calls asyncio.run() there (pyHanko's time-stamper, in
# later test packages) would find it running.
@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def chromium(playwright: Playwright) -> Iterator[Browser]:
    executable = shutil.which("chromium")
    assert executable, "Debian's chromium is required (apt-get install chromium)"
    browser = playwright.chromium.launch(
        executable_path=executable, headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


@pytest.fixture
def database_url(data_dir: Path) -> str:
    # The pages' logic is tested on both databases in tests/web; one is enough
    # to drive a browser through them.
    return f"sqlite:///{data_dir / 'sceau.db'}"


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def runtime(
    data_dir: Path, database_url: str, mailbox: Mailbox, port: int
) -> Iterator[Runtime]:
    settings = event_settings(
        data_dir,
        database_url,
        smtp_host="127.0.0.1",
        smtp_port=mailbox.port,
        public_base_url=f"http://127.0.0.1:{port}",
        person_argon2_memory_kib=19456,
        person_argon2_time_cost=2,
    )
    made = Runtime(settings)
    made.prepare()
    yield made
    made.close()


@pytest.fixture
def server(runtime: Runtime, port: int) -> Iterator[LiveApp]:
    with live_app(runtime.settings, runtime, port=port) as app:
        yield app


@pytest.fixture
def page(chromium: Browser, server: LiveApp) -> Iterator[Page]:
    context = chromium.new_context(
        base_url=server.base_url,
        viewport={"width": 1280, "height": 800},
        locale="fr-FR",
        accept_downloads=True,
    )
    opened = context.new_page()
    yield opened
    context.close()


def screenshot(page: Page, name: str) -> None:
    """The page at phone and desktop widths, for docs/web-signer.md."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 800})
        shot = page.screenshot(path=SCREENSHOTS / f"{name}-{width}.png", full_page=True)
        # A PNG of at least the viewport's size: the page was drawn.
        assert shot[:8] == b"\x89PNG\r\n\x1a\n"
        assert int.from_bytes(shot[16:20], "big") == width
    page.set_viewport_size({"width": 1280, "height": 800})


def expect_drawn(images: Locator, count: int) -> None:
    """``count`` images, each loaded and decoded (lazy ones once scrolled to);
    waits for them rather than reading ``complete`` while one is in flight."""
    expect(images).to_have_count(count)
    for index in range(count):
        image = images.nth(index)
        image.scroll_into_view_if_needed()
        expect(image).to_have_js_property("complete", True)
        assert image.evaluate("img => img.naturalWidth") > 0


@dataclass
class Authenticator:
    """The person's phone: codes for steps the server has not seen yet.

    The server accepts the current step and the one either side, and never a
    step at or before the last it accepted; so a fresh code is the current
    step's, or the next one's, and only when both are used do we wait.
    """

    secret: str
    used: set[int] = field(default_factory=set)

    def fresh(self) -> str:
        totp = pyotp.TOTP(self.secret)
        while True:
            current = totp.timecode(_at(time.time()))
            last = max(self.used, default=-1)
            for step in (current, current + 1):
                if step > last:
                    self.used.add(step)
                    return totp.generate_otp(step)
            time.sleep(max(0.05, totp.interval - time.time() % totp.interval))

    def last_code(self) -> str:
        return pyotp.TOTP(self.secret).generate_otp(max(self.used))


def _at(moment: float) -> datetime:
    return datetime.fromtimestamp(moment, UTC)
