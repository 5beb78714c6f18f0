"""A person puts drafts into an account's posting queue in a real browser and
re-orders it: each post takes the next free slot, and moving one swaps times."""

from __future__ import annotations

from datetime import time

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from accounts.models import XAccount
from bots.models import Post, PostingSlot
from tests.browser.conftest import log_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_add_drafts_to_the_queue_and_reorder_them(page, live_server):
    pia = get_user_model().objects.create_user("pia", "pia@example.com", "correct horse", is_staff=True,
                                               timezone="Europe/Paris")
    account = XAccount.objects.create(owner=pia, workspace=pia.workspace,
                                      x_user_id="1001", username="alice_bot", auth_method="oauth2")
    for weekday in range(7):
        PostingSlot.objects.create(account=account, weekday=weekday, time=time(9, 0))
        PostingSlot.objects.create(account=account, weekday=weekday, time=time(18, 30))
    first = Post.objects.create(account=account, text="The first draft")
    second = Post.objects.create(account=account, text="The second draft")

    log_in(page, live_server, "pia")
    page.goto(f"{live_server.url}/admin/bots/postingqueue/{account.pk}/queue/")
    for draft in (first, second):
        page.locator(f".queue-draft[data-post='{draft.pk}'] button.queue-add").click()
        expect(page.locator(".messagelist")).to_contain_text("is queued for")

    entries = page.locator("#queue .queue-entry")
    expect(entries).to_have_count(2)
    expect(entries.nth(0)).to_have_attribute("data-post", str(first.pk))
    times_before = [Post.objects.get(pk=p.pk).scheduled_at for p in (first, second)]
    assert times_before[0] < times_before[1]
    assert {t.astimezone(pia.timezone).time() for t in times_before} <= {time(9, 0), time(18, 30)}

    page.locator(f".queue-entry[data-post='{second.pk}'] button.queue-up").click()

    expect(entries.nth(0)).to_have_attribute("data-post", str(second.pk))
    first.refresh_from_db()
    second.refresh_from_db()
    assert (second.scheduled_at, first.scheduled_at) == tuple(times_before)
    assert first.status == second.status == Post.Status.SCHEDULED
