"""Pages that keep themselves up to date, in a real browser while the real
worker and beat publish to the sandbox: the post list, the post's own page,
the dashboard and the calendar show a post go from scheduled to published
without a reload, each change marked for a moment; a page with nothing in
flight asks the server nothing; the first-run checklist on the home page
ticks its steps off as the newcomer takes them."""

from __future__ import annotations

import re
from datetime import time

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from playwright.sync_api import expect

from bots.models import PostingSlot
from tests import posts
from tests.bots.conftest import fast_publishing, link_with_minted_tokens, pipeline, published, schedule  # noqa: F401  (fixtures these tests use)
from tests.browser.conftest import _page_in, log_in

pytestmark = pytest.mark.django_db(transaction=True)

# Collects, in the page, the live regions the page marked as changed (the
# mark itself lasts a moment only).
WATCH_CHANGES = """() => {
    window.changedRegions = [];
    window.changes = [];
    window.notReloaded = true;
    new MutationObserver((records) => {
        for (const record of records) {
            for (const node of record.addedNodes) {
                if (node.nodeType === 1 && node.classList.contains("live-changed")) {
                    window.changedRegions.push(node.dataset.live);
                    window.changes.push([node.dataset.live, node.textContent.trim()]);
                }
            }
        }
    }).observe(document.body, {childList: true, subtree: true});
}"""


def test_a_post_going_out_shows_on_every_open_page_without_a_reload(browser, live_server, pipeline, sandbox):
    lea = get_user_model().objects.create_user("lea", "lea@example.com", "correct horse", is_staff=True,
                                               timezone="Europe/Berlin")
    account = link_with_minted_tokens(sandbox, lea, "lea_news")
    post = schedule(account, "Live: watched as it goes out", in_seconds=12)
    context, page = _page_in(browser, "Europe/Berlin", viewport={"width": 1280, "height": 900})
    try:
        log_in(page, live_server, "lea")
        pages = {"dashboard": page}
        for name, path in (("list", "/admin/bots/post/"), ("post", f"/admin/bots/post/{post.pk}/change/"),
                           ("calendar", "/admin/bots/postcalendar/")):
            pages[name] = context.new_page()
            pages[name].goto(f"{live_server.url}{path}")
        page.goto(f"{live_server.url}/admin/")
        status = f'[data-live="post-{post.pk}-status"]'
        for name in ("list", "post"):
            expect(pages[name].locator(status)).to_contain_text("Scheduled")
        expect(page.locator('[data-account="lea_news"] .dashboard-last')).to_contain_text("none yet")
        expect(pages["calendar"].locator(f'[data-post="{post.pk}"]')).to_have_class(re.compile("calendar-entry-scheduled"))
        for watched in pages.values():
            watched.evaluate(WATCH_CHANGES)

        done = published(post, seconds=60)

        for name in ("list", "post"):
            expect(pages[name].locator(status)).to_contain_text("Published", timeout=15_000)
            link = pages[name].locator(f'[data-live="post-{post.pk}-on-x"] a')
            expect(link).to_have_text("View on X ↗")
            assert link.get_attribute("href").endswith(f"/lea_news/status/{done.x_post_id}")
            # Each status the page went through (it may catch claimed or
            # sending on the way) was put in once, ending at the last one.
            seen = [text for key, text in pages[name].evaluate("window.changes") if key == f"post-{post.pk}-status"]
            assert seen and seen[-1] == "Published"
            assert all(before != after for before, after in zip(seen, seen[1:])), seen
        expect(page.locator('[data-account="lea_news"] .dashboard-last')).to_contain_text(
            "Live: watched as it goes out", timeout=15_000)
        assert "dashboard" in page.evaluate("window.changedRegions")
        entry = pages["calendar"].locator(f'[data-post="{post.pk}"]')
        expect(entry).to_have_class(re.compile("calendar-entry-published"), timeout=15_000)
        assert "calendar" in pages["calendar"].evaluate("window.changedRegions")
        # The same documents all along: updated in place, not reloaded.
        assert all(watched.evaluate("window.notReloaded === true") for watched in pages.values())
    finally:
        context.close()


def test_a_list_with_nothing_in_flight_asks_nothing(browser, live_server, sandbox):
    lea = get_user_model().objects.create_user("lea", "lea@example.com", "correct horse", is_staff=True)
    account = link_with_minted_tokens(sandbox, lea, "lea_news")
    later = schedule(account, "Tomorrow, not now", in_seconds=86_400)
    context, page = _page_in(browser, "UTC")
    try:
        log_in(page, live_server, "lea")
        asked: list[str] = []
        page.goto(f"{live_server.url}/admin/bots/post/")
        expect(page.locator(f'[data-live="post-{later.pk}-status"]')).to_contain_text("Scheduled")
        assert page.locator("[data-live-poll]").count() == 0
        page.on("request", lambda request: asked.append(request.url))
        page.wait_for_timeout(9_000)  # more than two of the live pages' intervals
        assert asked == []
    finally:
        context.close()


def test_the_checklist_ticks_itself_off_as_the_newcomer_goes(browser, live_server, sandbox):
    lea = get_user_model().objects.create_user("lea", "lea@example.com", "correct horse", is_staff=True)
    context, page = _page_in(browser, "UTC")
    try:
        log_in(page, live_server, "lea")
        page.evaluate(WATCH_CHANGES)
        checklist = page.locator(".first-run")
        expect(checklist).to_contain_text("0 of 4 done")
        expect(page.locator(".first-run-next")).to_have_text("Link an account")

        account = link_with_minted_tokens(sandbox, lea, "lea_news")
        expect(checklist).to_contain_text("1 of 4 done", timeout=15_000)
        expect(page.locator(".first-run-next")).to_have_text("Write a post")

        post = schedule(account, "My first post", in_seconds=3600)
        expect(checklist).to_contain_text("2 of 4 done", timeout=15_000)
        posts.published(account, "My first post, out", at=timezone.now(),
                        url=f"https://x.com/lea_news/status/{post.pk}")
        expect(checklist).to_contain_text("3 of 4 done", timeout=15_000)
        expect(page.locator('[data-step="timeline"]')).to_have_class(re.compile("done"))
        expect(page.locator(".first-run-next")).to_have_text("Choose weekly times")

        # The timeline step opens the account's timeline on the X in use: the sandbox.
        with context.expect_page() as opened:
            page.locator('[data-step="timeline"] a').click()
        timeline = opened.value
        timeline.wait_for_load_state()
        assert timeline.url == f"{sandbox}/lea_news"
        expect(timeline.locator("body")).to_contain_text("@lea_news")

        PostingSlot.objects.create(account=account, weekday=0, time=time(9))
        expect(checklist).to_have_count(0, timeout=15_000)
        assert page.evaluate("window.notReloaded === true")
    finally:
        context.close()
