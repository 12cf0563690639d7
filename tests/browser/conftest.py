"""Browser fixtures: the app served over real HTTP from a thread on a free loopback port (on the
test session's database), and Debian's Chromium driven headless through Playwright."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.browser.steps import DESKTOP, PHONE

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
AXE = ROOT / "static" / "vendor" / "axe.min.js"


def missing(reason: str) -> None:
    """Fail in CI, which must provide what the browser tests need; elsewhere skip, saying why."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must provide it: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator:
    """Headless Chromium (Debian's, never a downloaded one), shared by the session."""
    if not os.access(CHROMIUM, os.X_OK):
        missing(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def live_server(app) -> Iterator[str]:
    """The session's app answering HTTP and WebSockets on 127.0.0.1; its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="browser-app", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.port}"
    server.shutdown()
    thread.join(timeout=5)
    server.server_close()


@pytest.fixture
def new_context(browser, live_server) -> Iterator[Callable]:
    """Open browser contexts (each a separate visitor with its own cookies); closed afterwards.

    ``new_context(width=375, javascript=False)`` gives a phone-sized visitor without scripts.
    """
    opened = []

    def open_context(width: int = DESKTOP, javascript: bool = True):
        context = browser.new_context(
            base_url=live_server,
            viewport={"width": width, "height": 900 if width > PHONE else 740},
            java_script_enabled=javascript,
            locale="en-IN",
            timezone_id="Asia/Kolkata",
        )
        context.set_default_timeout(10_000)
        # Every page must live with the Content-Security-Policy: the browser says what it refused.
        context.on("console", lambda message: _note_csp_refusal(message, refused))
        opened.append(context)
        return context

    refused: list[str] = []
    yield open_context
    for context in opened:
        context.close()
    assert not refused, f"the Content-Security-Policy refused: {refused}"


def _note_csp_refusal(message, refused: list[str]) -> None:
    """Keep a console error that is the CSP refusing something."""
    if message.type == "error" and "Content Security Policy" in message.text:
        refused.append(message.text)


@pytest.fixture
def page(new_context):
    """One desktop page with JavaScript."""
    return new_context().new_page()


@pytest.fixture
def shoot() -> Callable:
    """Save a full-page screenshot as test-artifacts/browser/<name>-<width>.png (for a person to
    look at; nothing compares pixels)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        width = page.viewport_size["width"]
        path = ARTIFACTS / f"{re.sub(r'[^a-z0-9-]+', '-', name.lower())}-{width}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core's script (copied into static/vendor by .ci/setup from npm's axe-core)."""
    if not AXE.exists():
        missing(f"{AXE.relative_to(ROOT)} is missing: run `bash .ci/setup`")
    return AXE.read_text(encoding="utf-8")
