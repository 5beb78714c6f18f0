"""A person in Paris signs in to the dashboard of their two accounts, then views
the calendar in a real browser: the month with
their posts across two accounts coloured by status, today marked, then one
account's week, and a click on a post opens it.

With SCREENSHOTS=1 in the environment the test also refreshes
docs/screenshots/calendar.png and docs/screenshots/dashboard.png; otherwise the screenshot goes to a temporary
directory, so a test run leaves the work tree as it was.
"""

from __future__ import annotations

import os
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import XAccount
from bots.models import Post
from bots.planning import costs
from tests import posts
from tests.browser.conftest import log_in

pytestmark = pytest.mark.django_db(transaction=True)

PARIS = ZoneInfo("Europe/Paris")
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "calendar.png"
DASHBOARD = SCREENSHOT.with_name("dashboard.png")

TEXTS = (
    "Good morning! Today's tip: back up your notes.",
    "New article: planning a month of posts in an afternoon",
    "Thread: five things we learned shipping the beta",
    "Weekly recap — what happened on the project",
    "Reminder: community call on Thursday at 18:00",
    "Photo of the day from the workshop",
)



def at(day, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=PARIS)


def test_view_the_calendar_by_month_and_week(paris_page, live_server, tmp_path):
    page = paris_page
    pia = get_user_model().objects.create_user("pia", "pia@example.com", "correct horse", is_staff=True,
                                               timezone="Europe/Paris")
    blog = XAccount.objects.create(owner=pia, workspace=pia.workspace,
                                   x_user_id="3001", username="pia_blog", auth_method="oauth2")
    tips = XAccount.objects.create(owner=pia, workspace=pia.workspace,
                                   x_user_id="3002", username="pia_tips", auth_method="oauth2")
    today = timezone.now().astimezone(PARIS).date()
    first = today.replace(day=1)
    statuses = {
        "past": (Post.Status.PUBLISHED, Post.Status.PUBLISHED, Post.Status.FAILED),
        "future": (Post.Status.SCHEDULED, Post.Status.SCHEDULED, Post.Status.SCHEDULED),
    }
    created = []
    for offset in range(0, 28, 2):
        day = first + timedelta(days=offset)
        when = "past" if day < today else "future"
        for n, hour in enumerate((9, 13, 18)):
            status = statuses[when][n]
            account = blog if (offset + n) % 2 else tips
            moment = at(day, hour, 15 * n)
            text = TEXTS[(offset + n) % len(TEXTS)]
            if status == Post.Status.PUBLISHED:
                # Through the state machine, as a worker publishes: the dashboard's chart counts it.
                created.append(posts.published(account, text, at=moment, price=str(costs.post_price(text)),
                                               url=f"https://x.com/{account.username}/status/{offset}{n}"))
                continue
            created.append(Post.objects.create(
                account=account, text=text, scheduled_at=moment, status=status,
                last_error="X refused the post: duplicate content" if status == Post.Status.FAILED else "",
            ))
    costs.budget_set(account=blog, amount="2")
    todays = Post.objects.create(account=blog, text="Launch day: the calendar is here", scheduled_at=at(today, 23, 30),
                                 status=Post.Status.SCHEDULED)

    log_in(page, live_server, "pia")
    expect(page.locator("#dashboard .dashboard-account")).to_have_count(2)
    expect(page.locator('#dashboard tr[data-account="pia_blog"] .dashboard-budget')).to_contain_text("$2.00")
    expect(page.locator("#dashboard svg title").first).to_have_text("Posts published per day, last 30 days")
    charted = sum(1 for post in created if post.status == Post.Status.PUBLISHED
                  and post.published_at.astimezone(PARIS).date() > today - timedelta(days=30))
    expect(page.locator("#dashboard figcaption")).to_have_text(
        f"Posts published per day, last 30 days ({charted} in all).")
    dashboard_shot = DASHBOARD if os.environ.get("SCREENSHOTS") == "1" else tmp_path / DASHBOARD.name
    dashboard_shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(dashboard_shot), full_page=True)
    page.get_by_role("link", name="Calendar").first.click()

    expect(page.locator(".calendar-title")).to_have_text(f"{today:%B %Y}")
    today_cell = page.locator(".calendar-day.today")
    expect(today_cell).to_have_count(1)
    expect(today_cell).to_have_attribute("data-day", today.isoformat())
    expect(today_cell.locator(f'a[data-post="{todays.pk}"] .calendar-time')).to_have_text("23:30")
    expect(page.locator(".calendar-legend")).to_contain_text("Published")
    shown = page.locator("a.calendar-entry")
    expect(shown).to_have_count(len(created) + 1)

    shot = SCREENSHOT if os.environ.get("SCREENSHOTS") == "1" else tmp_path / SCREENSHOT.name
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot), full_page=True)

    page.select_option("#calendar-account", str(blog.pk))
    page.click(".calendar-filter button")
    page.click(".calendar-view-week")
    monday = today - timedelta(days=today.weekday())
    expect(page.locator(".calendar-title")).to_have_text(f"Week of {monday:%a %d %b %Y}")
    expect(page.locator(".calendar-handle", has_text="@pia_tips")).to_have_count(0)
    expect(page.locator(f'a[data-post="{todays.pk}"]')).to_be_visible()
    page.click(".calendar-next")
    expect(page.locator(".calendar-title")).to_have_text(f"Week of {monday + timedelta(days=7):%a %d %b %Y}")
    page.click(".calendar-prev")
    page.click(f'a[data-post="{todays.pk}"]')
    page.wait_for_url(f"{live_server.url}/admin/bots/post/{todays.pk}/change/")
    expect(page.locator("#id_text")).to_have_value("Launch day: the calendar is here")
