"""At a phone's width (390 px) the compose form, a posting queue and the
calendar fit the screen: nothing makes the page scroll sideways (a wide table
scrolls in its own region), every field of the compose form is on screen and
big enough to tap, and a post is written and scheduled there.

With SCREENSHOTS=1 in the environment the test also refreshes
docs/screenshots/phone-compose.png, the compose form at that width; otherwise
the screenshot goes to a temporary directory."""

from __future__ import annotations

import os
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from bots.models import Post, PostingSlot
from tests.bots.conftest import link_with_minted_tokens, schedule
from tests.browser.conftest import _page_in, log_in

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844}
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "phone-compose.png"

# What sticks out of the screen's width (elements inside a region that
# scrolls sideways on its own are in that region, not out of the page).
WIDER_THAN_THE_SCREEN = """() => {
    const width = document.documentElement.clientWidth;
    const inScroller = (element) => {
        for (let node = element.parentElement; node; node = node.parentElement) {
            const style = getComputedStyle(node);
            if (["auto", "scroll"].includes(style.overflowX) && node.scrollWidth > node.clientWidth) {
                return true;
            }
        }
        return false;
    };
    const out = [];
    for (const element of document.querySelectorAll("body *")) {
        const box = element.getBoundingClientRect();
        if (box.width && box.right > width + 1 && !inScroller(element)) {
            out.push(`${element.tagName.toLowerCase()}#${element.id}.${[...element.classList].join(".")} right=${Math.round(box.right)}`);
        }
    }
    return {scrolls: document.documentElement.scrollWidth > width, out: out.slice(0, 10)};
}"""


def fits(page) -> None:
    found = page.evaluate(WIDER_THAN_THE_SCREEN)
    assert found == {"scrolls": False, "out": []}, found


def test_compose_a_post_on_a_phone(browser, live_server, sandbox, tmp_path):
    nina = get_user_model().objects.create_user("nina", "nina@example.com", "correct horse", is_staff=True,
                                                timezone="Europe/Paris")
    account = link_with_minted_tokens(sandbox, nina, "nina_bot")
    schedule(account, "Already in the queue", in_seconds=86_400)
    PostingSlot.objects.create(account=account, weekday=0, time=time(9))
    context, page = _page_in(browser, "Europe/Paris", viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        log_in(page, live_server, "nina")
        page.goto(f"{live_server.url}/admin/bots/post/add/")
        fits(page)
        for field in ("#id_account", "#id_text", "#id_scheduled_at_0", "#id_scheduled_at_1"):
            box = page.locator(field).bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (field, box)
            assert box["height"] >= 24, (field, box)
        page.select_option("#id_account", str(account.pk))
        page.locator("#id_text").press_sequentially("Written on a phone")
        expect(page.locator(".post-counter").first).to_have_text("18 / 280")
        tomorrow = (datetime.now() + timedelta(days=2)).date().isoformat()
        page.fill("#id_scheduled_at_0", tomorrow)
        page.fill("#id_scheduled_at_1", "09:00")
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(SCREENSHOT if os.environ.get("SCREENSHOTS") == "1" else tmp_path / SCREENSHOT.name))
        page.locator("input[name=_save]").tap()
        expect(page.locator(".messagelist")).to_contain_text("Written on a phone")
        assert Post.objects.get(text="Written on a phone").status == Post.Status.SCHEDULED

        for path in (f"/admin/bots/postingqueue/{account.pk}/queue/", "/admin/bots/postcalendar/",
                     "/admin/bots/postcalendar/?view=week", "/admin/bots/post/"):
            page.goto(f"{live_server.url}{path}")
            fits(page)
    finally:
        context.close()
