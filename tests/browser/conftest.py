"""Browser fixtures: a real `livecart serve` subprocess and Debian's headless Chromium.

Without /usr/bin/chromium the browser tests are skipped locally and fail in CI (CI=true).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IN_CI, fresh_database
from tests.servers import serve

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python -m livecart serve --no-demo` on free ports over a database of its own."""
    data_dir = tmp_path_factory.mktemp("browser-server")
    with fresh_database(data_dir) as database_url, serve(database_url, data_dir) as server:
        yield server.base


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium for one test module (module scope keeps Playwright's own event loop away
    from the async tests in other folders)."""
    if not CHROMIUM.exists():
        if IN_CI:
            pytest.fail(f"{CHROMIUM} is missing and CI is set")
        pytest.skip(f"{CHROMIUM} is missing; CI=true makes this a failure")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser: Any, live_server: str) -> Iterator[Callable[..., Any]]:
    """Opens a page in a fresh context (its own cookies) at a phone viewport. Script errors on any
    page fail the test."""
    contexts: list[Any] = []
    errors: list[str] = []

    def open_page(locale: str = "zh-CN", timezone_id: str = "Asia/Shanghai") -> Any:
        context = browser.new_context(
            base_url=live_server, viewport=PHONE, locale=locale, timezone_id=timezone_id
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert not errors, f"script errors in the page: {errors}"


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), animations="disabled")
    return path
