"""A person in New York writes a short thread in a real browser, watches X's
count change as they type, schedules it for 09:00 and finds it listed at 09:00
their time.

With SCREENSHOTS=1 in the environment the test also refreshes
docs/screenshots/schedule-post.png, the add-post page with its counter and
preview; otherwise the screenshot goes to a temporary directory, so a test run
leaves the work tree as it was.
"""

from __future__ import annotations

import os
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from bots.models import Post
from tests.bots.conftest import link_with_minted_tokens
from tests.browser.conftest import log_in

pytestmark = pytest.mark.django_db(transaction=True)

NEW_YORK = ZoneInfo("America/New_York")
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "schedule-post.png"


def test_schedule_a_thread_and_see_it_in_my_time_zone(new_york_page, live_server, sandbox, tmp_path):
    page = new_york_page
    nina = get_user_model().objects.create_user(
        "nina", "nina@example.com", "correct horse", is_staff=True, timezone="America/New_York"
    )
    account = link_with_minted_tokens(sandbox, nina, "nina_bot")
    day = (datetime.now(NEW_YORK) + timedelta(days=1)).date()

    log_in(page, live_server, "nina")
    page.goto(f"{live_server.url}/admin/bots/post/")
    page.click(".object-tools a.addlink")

    page.select_option("#id_account", str(account.pk))
    root = page.locator(".post-text", has=page.locator("#id_text"))
    counter = root.locator(".post-counter")
    expect(counter).to_have_text("0 / 280")
    page.locator("#id_text").press_sequentially("Morning walk, then coffee. ")
    expect(counter).to_have_text("27 / 280")
    page.locator("#id_text").press_sequentially("https://example.com/walks/central-park")
    # A link counts 23, however long it is.
    expect(counter).to_have_text("50 / 280")
    link = root.locator(".post-preview-text a")
    expect(link).to_have_text("example.com/walks/centra…")
    expect(link).to_have_attribute("href", "https://example.com/walks/central-park")
    expect(root.locator(".post-preview-handle")).to_have_text("@nina_bot")

    page.locator("#parts-group .add-row a").click()
    part = page.locator(".post-text", has=page.locator("#id_parts-0-text"))
    page.fill("#id_parts-0-text", "So much to say. " * 20)
    expect(part.locator(".post-counter")).to_have_text("320 / 280")
    expect(part.locator(".post-counter")).to_have_class("post-counter over")
    page.fill("#id_parts-0-text", "")
    page.locator("#id_parts-0-text").press_sequentially("Then the museum, and lunch by the river.")
    expect(part.locator(".post-counter")).to_have_text("40 / 280")
    expect(part.locator(".post-counter")).to_have_class("post-counter")

    page.fill("#id_scheduled_at_0", day.isoformat())
    page.fill("#id_scheduled_at_1", "09:00")
    expect(page.locator("#id_publish_0")).to_be_checked()
    shot = SCREENSHOT if os.environ.get("SCREENSHOTS") == "1" else tmp_path / SCREENSHOT.name
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot), full_page=True)

    page.click("input[name=_save]")

    page.wait_for_url(f"{live_server.url}/admin/bots/post/")
    row = page.locator("#result_list tbody tr", has_text="Morning walk")
    expect(row.locator(".post-status")).to_have_text("Scheduled · part 1 of 2")
    nine = datetime.combine(day, time(9, 0), tzinfo=NEW_YORK)
    expect(row.locator(".field-scheduled")).to_have_text(f"{nine:%a %d %b %Y}, 09:00 {nine.tzname()}")
    post = Post.objects.get(parent=None)
    assert post.scheduled_at == nine
    assert post.status == Post.Status.SCHEDULED
    assert list(post.parts.values_list("text", "status")) == [("Then the museum, and lunch by the river.", Post.Status.SCHEDULED)]
