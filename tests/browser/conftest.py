"""Browser tests: Playwright driving Debian's Chromium, headless, against the
platform served by Django's live server."""

from __future__ import annotations

import os
import shutil

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# Flags the machine's closed network needs: no background calls to Google.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM):
        pytest.fail(f"Chromium is not installed at {CHROMIUM}: run `make test`, which installs it")
    # Playwright's sync API runs an event loop in this thread; the ORM calls the
    # tests make between browser steps are still plain synchronous code.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _page_in(browser, zone: str | None = None, **options):
    context = browser.new_context(timezone_id=zone, **options) if zone else browser.new_context(**options)
    page = context.new_page()
    page.set_default_timeout(15_000)
    return context, page


@pytest.fixture
def paris_page(browser):
    """A browser whose clock is in Paris, as the person's is."""
    context, page = _page_in(browser, "Europe/Paris", viewport={"width": 1400, "height": 1000})
    yield page
    context.close()


@pytest.fixture
def new_york_page(browser):
    """A browser whose clock is in New York, as the person's is."""
    context, page = _page_in(browser, "America/New_York", viewport={"width": 1400, "height": 900})
    yield page
    context.close()


@pytest.fixture
def page(browser):
    context, page = _page_in(browser)
    yield page
    context.close()


def log_in(page, live_server, username: str, password: str = "correct horse") -> None:
    """Sign in on the admin's login page, as a person does."""
    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
