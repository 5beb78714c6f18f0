"""The dashboard as a browser lays it out: on a phone's width and on a desktop
its table's headers wrap between words, never inside one, and on the phone the
table scrolls sideways within its own region; the chart names its peak and
writes days under its bars."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from accounts.models import XAccount
from tests import posts
from tests.browser.conftest import _page_in, log_in

pytestmark = pytest.mark.django_db(transaction=True)

# For each header of the accounts' table, its words that the browser laid out
# over more than one line (a word split inside itself).
SPLIT_WORDS = """() => [...document.querySelectorAll('.dashboard-accounts thead th')].flatMap(th => {
    const text = th.firstChild, words = [], range = document.createRange();
    for (const match of text.data.matchAll(/\\S+/g)) {
        range.setStart(text, match.index);
        range.setEnd(text, match.index + match[0].length);
        const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
        if (tops.size > 1) words.push(match[0]);
    }
    return words;
})"""


@pytest.mark.parametrize("width", [390, 1280])
def test_the_accounts_table_never_splits_a_word_and_scrolls_on_a_phone(browser, live_server, width):
    lea = get_user_model().objects.create_user("lea", "lea@example.com", "correct horse", is_staff=True,
                                               timezone="Europe/Berlin")
    for n, name in enumerate(("lea_news", "lea_weekly_digest")):
        account = XAccount.objects.create(owner=lea, workspace=lea.workspace, x_user_id=f"900{n}", username=name,
                                          auth_method="oauth2")
        at = timezone.now() - timedelta(days=3 * n + 1)
        posts.published(account, f"Published by @{name} a while ago", at=at, url=f"https://x.com/{name}/status/{n + 1}")
    context, page = _page_in(browser, "Europe/Berlin", viewport={"width": width, "height": 900})
    try:
        log_in(page, live_server, "lea")
        page.wait_for_selector(".dashboard-accounts")

        assert page.evaluate(SPLIT_WORDS) == []
        region = page.locator(".dashboard-scroll")
        sideways = region.evaluate("el => el.scrollWidth > el.clientWidth")
        assert sideways == (width == 390)
        assert region.evaluate("el => getComputedStyle(el).overflowX") == "auto"
        assert region.get_attribute("tabindex") == "0" and region.get_attribute("role") == "region"
        chart = page.locator(".dashboard-chart svg")
        assert chart.get_attribute("role") == "img"
        assert chart.locator(".chart-peak").text_content() == "1"
        assert chart.locator(".chart-label").count() == 7  # 0, the peak, the first day, three weeks, today
    finally:
        context.close()
