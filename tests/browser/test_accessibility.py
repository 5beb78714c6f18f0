"""axe-core (axe-playwright-python, in a real browser) finds no serious or
critical accessibility violation on the main pages, each with content in it:
the home page with its checklist and dashboard, the post list and a post's
form, the calendar, the posting queues and a queue, the bots and a bot's
form, the X accounts, the CSV import and the sign-in page; in the light
scheme and in the dark one, which the admin follows from the system's
setting."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.contrib.auth import get_user_model
from django.utils import timezone

from bots.models import PostingSlot
from bots.recurring import services as recurring
from tests import posts
from tests.bots.conftest import link_with_minted_tokens, schedule
from tests.browser.conftest import _page_in, log_in

pytestmark = pytest.mark.django_db(transaction=True)

SERIOUS = ("serious", "critical")


def violations(page) -> list[str]:
    found = Axe().run(page).response["violations"]
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join((node["target"][0] if isinstance(node["target"][0], str) else str(node["target"]))
                    + (f" ({node['any'][0]['message']})" if node.get("any") else "")
                    for node in v["nodes"][:5])
        for v in found if v["impact"] in SERIOUS
    ]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_main_pages_have_no_serious_or_critical_violations(browser, live_server, sandbox, scheme):
    lea = get_user_model().objects.create_user("lea", "lea@example.com", "correct horse", is_staff=True,
                                               timezone="Europe/Berlin")
    account = link_with_minted_tokens(sandbox, lea, "lea_news")
    post = schedule(account, "Tomorrow's news, with a thread", in_seconds=86_400, parts=("and its second part",))
    posts.published(account, "Yesterday's news", at=timezone.now() - timezone.timedelta(days=1),
                    url="https://x.com/lea_news/status/1")
    PostingSlot.objects.create(account=account, weekday=0, time=timezone.datetime(2026, 1, 1, 9).time())
    bot = recurring.bot_create(account=account, name="Morning", by=lea, schedule_kind="cron", cron="0 9 * * *",
                               timezone="Europe/Berlin", source="template", template="Hello {n}")
    context, page = _page_in(browser, "Europe/Berlin", viewport={"width": 1280, "height": 900}, color_scheme=scheme)
    try:
        page.goto(f"{live_server.url}/admin/login/")
        found = {"/admin/login/": violations(page)}
        log_in(page, live_server, "lea")
        for path in ("/admin/", "/admin/bots/post/", "/admin/bots/post/add/", f"/admin/bots/post/{post.pk}/change/",
                     "/admin/bots/postcalendar/", "/admin/bots/postingqueue/",
                     f"/admin/bots/postingqueue/{account.pk}/queue/", "/admin/bots/bot/",
                     "/admin/bots/bot/add/", f"/admin/bots/bot/{bot.pk}/change/", "/admin/accounts/xaccount/",
                     "/admin/bots/importjob/add/"):
            page.goto(f"{live_server.url}{path}")
            page.wait_for_load_state("networkidle")
            found[path] = violations(page)
        problems = [f"{path}: {problem}" for path, found_there in found.items() for problem in found_there]
        assert not problems, "\n".join(problems)
    finally:
        context.close()
