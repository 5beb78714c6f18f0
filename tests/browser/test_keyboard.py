"""The newcomer's first post with the keyboard alone, in a real browser:
sign in, follow the checklist's next step, choose the account, write the
post, give its time and save it, with Tab, the arrow keys, typing and Enter;
every element reached shows where the focus is."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from bots.models import Post
from tests.bots.conftest import link_with_minted_tokens
from tests.browser.conftest import _page_in

pytestmark = pytest.mark.django_db(transaction=True)

# Where the focus is: the element, and whether it is drawn as focused (an
# outline or a box shadow under :focus-visible).
FOCUSED = """() => {
    const element = document.activeElement;
    const style = getComputedStyle(element);
    const shown = element.matches(":focus-visible")
        && (style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0 || style.boxShadow !== "none");
    return {id: element.id, tag: element.tagName, name: element.getAttribute("name") || "",
            text: element.textContent.trim(), shown};
}"""


def tab_to(page, wanted, *, most: int = 80) -> dict:
    """Press Tab until ``wanted`` (a test on FOCUSED's answer) holds, unless
    it holds already (a page may put the focus on its first field); each stop
    on the way is drawn focused."""
    focused = page.evaluate(FOCUSED)
    if focused["tag"] != "BODY" and wanted(focused):
        return focused
    for _ in range(most):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        assert focused["shown"], f"the focus on {focused} is not drawn"
        if wanted(focused):
            return focused
    raise AssertionError(f"Tab never reached the element wanted in {most} presses")


def test_a_first_post_with_the_keyboard_alone(browser, live_server, sandbox):
    nina = get_user_model().objects.create_user("nina", "nina@example.com", "correct horse", is_staff=True,
                                                timezone="UTC")
    account = link_with_minted_tokens(sandbox, nina, "nina_bot")
    context, page = _page_in(browser, "UTC")
    try:
        page.goto(f"{live_server.url}/admin/")
        # The sign-in page puts the focus on the username.
        page.keyboard.type("nina")
        page.keyboard.press("Tab")
        page.keyboard.type("correct horse")
        page.keyboard.press("Enter")
        expect(page.locator(".first-run")).to_be_visible()

        tab_to(page, lambda f: f["text"] == "Write a post")
        page.keyboard.press("Enter")
        page.wait_for_url("**/admin/bots/post/add/")

        # The page puts the focus on its first field, the account.
        assert tab_to(page, lambda f: f["id"] == "id_account", most=0)
        page.keyboard.press("ArrowDown")
        expect(page.locator("#id_account")).to_have_value(str(account.pk))
        tab_to(page, lambda f: f["id"] == "id_text")
        page.keyboard.type("Typed without a mouse")
        expect(page.locator(".post-counter").first).to_have_text("21 / 280")
        tab_to(page, lambda f: f["id"] == "id_scheduled_at_0")
        day = (datetime.now() + timedelta(days=1)).date().isoformat()
        page.keyboard.type(day)
        # Past the date's "Today" and calendar links to the time.
        tab_to(page, lambda f: f["id"] == "id_scheduled_at_1")
        page.keyboard.type("09:00")
        tab_to(page, lambda f: f["name"] == "_save")
        page.keyboard.press("Enter")

        expect(page.locator(".messagelist")).to_contain_text("Typed without a mouse")
        post = Post.objects.get(text="Typed without a mouse")
        assert post.status == Post.Status.SCHEDULED and post.account == account
        assert post.scheduled_at.date().isoformat() == day and post.scheduled_at.strftime("%H:%M") == "09:00"
    finally:
        context.close()
