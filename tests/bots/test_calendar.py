"""The calendar over HTTP: posts by month and week in the person's own time
zone (days start at their midnight), coloured by status with a legend, one
entry per thread, each linking to its post; filtered by account, and only the
person's own accounts unless they are a superuser."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from accounts.models import XAccount
from bots.models import Post
from tests.people import client_for, staff

pytestmark = pytest.mark.django_db

CALENDAR = "/admin/bots/postcalendar/"
NEW_YORK = ZoneInfo("America/New_York")
UTC = ZoneInfo("UTC")



@pytest.fixture
def nina(db):
    return staff("nina", "America/New_York")


@pytest.fixture
def nina_account(nina):
    return XAccount.objects.create(owner=nina, workspace=nina.workspace,
                                   x_user_id="2001", username="nina_bot", auth_method="oauth2")


@pytest.fixture
def nina_other(nina):
    return XAccount.objects.create(owner=nina, workspace=nina.workspace,
                                   x_user_id="2003", username="nina_news", auth_method="oauth2")


@pytest.fixture
def omar_account(db):
    omar = staff("omar", "Europe/Paris")
    return XAccount.objects.create(owner=omar, workspace=omar.workspace,
                                   x_user_id="2002", username="omar_bot", auth_method="oauth2")



def post(account, text, at, status=Post.Status.SCHEDULED, **fields) -> Post:
    extra = {"published_at": at, "x_post_url": "https://x.com/i/status/1"} if status == Post.Status.PUBLISHED else {}
    return Post.objects.create(account=account, text=text, scheduled_at=at, status=status, **extra, **fields)


def day_cell(html: str, day: date) -> str:
    """The HTML of one day's cell, up to the next cell."""
    cells = [cell for cell in html.split('<div class="calendar-day')[1:] if f'data-day="{day.isoformat()}"' in cell]
    assert cells, f"no cell for {day}"
    return cells[0]


def test_the_month_shows_posts_on_the_persons_local_days_coloured_by_status(nina, nina_account):
    # 03:30 UTC on 2 June is 23:30 on 1 June in New York: the day starts at her midnight.
    late = post(nina_account, "Late night thoughts", datetime(2031, 6, 2, 3, 30, tzinfo=UTC))
    published = post(nina_account, "Published already", datetime(2031, 6, 10, 14, 0, tzinfo=UTC),
                     Post.Status.PUBLISHED)
    failed = post(nina_account, "This one failed", datetime(2031, 6, 11, 14, 0, tzinfo=UTC), Post.Status.FAILED,
                  last_error="X refused it: duplicate")
    post(nina_account, "Just a draft", datetime(2031, 6, 12, 14, 0, tzinfo=UTC), Post.Status.DRAFT)
    post(nina_account, "Cancelled one", datetime(2031, 6, 12, 15, 0, tzinfo=UTC), Post.Status.CANCELLED)
    post(nina_account, "Next month", datetime(2031, 7, 2, 14, 0, tzinfo=UTC))

    response = client_for(nina).get(CALENDAR, {"view": "month", "day": "2031-06-15"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "June 2031" in html
    first = day_cell(html, date(2031, 6, 1))
    assert "Late night thoughts" in first and "23:30" in first
    assert f'href="/admin/bots/post/{late.pk}/change/"' in first
    assert "calendar-entry-scheduled" in first
    assert "Late night thoughts" not in day_cell(html, date(2031, 6, 2))
    assert f'calendar-entry calendar-entry-published" href="/admin/bots/post/{published.pk}/change/"' in html
    failed_cell = day_cell(html, date(2031, 6, 11))
    assert "calendar-entry-failed" in failed_cell and "X refused it: duplicate" in failed_cell
    assert f'href="/admin/bots/post/{failed.pk}/change/"' in failed_cell
    assert "Just a draft" not in html and "Cancelled one" not in html
    # The grid runs Monday to Sunday around the month: 30 June 2031 is a Monday, 6 July its Sunday.
    assert 'data-day="2031-05-26"' in html and 'data-day="2031-07-06"' in html
    assert "Next month" in day_cell(html, date(2031, 7, 2))
    assert 'class="calendar-day outside' in html
    for label in ("Scheduled", "Published", "Failed", "Checking on X", "Held: account needs reconnecting"):
        assert label in html.split('class="calendar-legend"', 1)[1].split("</ul>", 1)[0]
    assert "Times in America/New_York." in html


def test_the_week_view_navigates_and_highlights_today(nina, nina_account):
    now = timezone.now().astimezone(NEW_YORK)
    today = now.date()
    soon = post(nina_account, "Later today or tomorrow", now + timedelta(hours=1))
    response = client_for(nina).get(CALENDAR, {"view": "week"})
    html = response.content.decode()
    monday = today - timedelta(days=today.weekday())
    assert f"Week of {monday:%a %d %b %Y}" in html
    cells = re.findall(r'data-day="([\d-]+)"', html)
    assert cells == [(monday + timedelta(days=n)).isoformat() for n in range(7)]
    assert re.search(rf'class="calendar-day today"[^>]*data-day="{today.isoformat()}"[^>]*aria-current="date"', html)
    assert f"/admin/bots/post/{soon.pk}/change/" in html
    assert f'href="?view=week&amp;day={(today - timedelta(days=7)).isoformat()}"' in html
    assert f'href="?view=week&amp;day={(today + timedelta(days=7)).isoformat()}"' in html


def test_a_thread_is_one_entry_with_the_status_of_the_part_it_is_at(nina, nina_account):
    at = datetime(2031, 6, 5, 13, 0, tzinfo=UTC)
    root = post(nina_account, "Thread start", at, Post.Status.PUBLISHED)
    Post.objects.create(account=nina_account, parent=root, position=1, text="Part two", scheduled_at=at,
                        status=Post.Status.FAILED, last_error="X is down")
    Post.objects.create(account=nina_account, parent=root, position=2, text="Part three", scheduled_at=at,
                        status=Post.Status.SCHEDULED)
    html = client_for(nina).get(CALENDAR, {"day": "2031-06-05"}).content.decode()
    cell = day_cell(html, date(2031, 6, 5))
    assert cell.count('class="calendar-entry ') == 1
    assert "calendar-entry-failed" in cell and "thread of 3" in cell and "X is down" in cell
    assert "Part two" not in html


def test_filter_by_account_and_only_ones_own_accounts(nina, nina_account, nina_other, omar_account):
    at = datetime(2031, 6, 5, 13, 0, tzinfo=UTC)
    post(nina_account, "From nina_bot", at)
    post(nina_other, "From nina_news", at)
    post(omar_account, "From omar_bot", at)
    client = client_for(nina)

    html = client.get(CALENDAR, {"day": "2031-06-05"}).content.decode()
    assert "From nina_bot" in html and "From nina_news" in html and "From omar_bot" not in html
    assert "@omar_bot" not in html

    html = client.get(CALENDAR, {"day": "2031-06-05", "account": nina_other.pk}).content.decode()
    assert "From nina_news" in html and "From nina_bot" not in html
    assert f'<option value="{nina_other.pk}" selected>' in html
    assert re.search(rf'class="button calendar-next" href="\?view=month&amp;day=2031-07-01&amp;account={nina_other.pk}"',
                     html)

    response = client.get(CALENDAR, {"day": "2031-06-05", "account": omar_account.pk}, follow=True)
    html = response.content.decode()
    assert "There is no such account among yours" in html
    assert "From omar_bot" not in html and "From nina_bot" in html

    root = get_user_model().objects.create_superuser("root", "root@example.com", "pw", timezone="UTC")
    html = client_for(root).get(CALENDAR, {"day": "2031-06-05"}).content.decode()
    assert "From omar_bot" in html and "From nina_bot" in html


def test_a_held_post_and_a_busy_day(nina, nina_account):
    nina_account.mark_needs_reauth("X no longer accepts the tokens")
    at = datetime(2031, 6, 5, 13, 0, tzinfo=UTC)
    for n in range(8):
        post(nina_account, f"Busy post {n}", at + timedelta(minutes=n))
    html = client_for(nina).get(CALENDAR, {"day": "2031-06-05"}).content.decode()
    cell = day_cell(html, date(2031, 6, 5))
    assert cell.count("calendar-entry-held") == 6
    assert "Held: reconnect @nina_bot" in cell
    more = re.search(r'<a class="calendar-more" href="([^"]+)">\+ 2 more</a>', cell)
    assert more
    listed = client_for(nina).get(more.group(1).replace("&amp;", "&"))
    assert listed.status_code == 200
    assert listed.content.decode().count('name="_selected_action"') == 8
    week = client_for(nina).get(CALENDAR, {"day": "2031-06-05", "view": "week"}).content.decode()
    assert week.count("calendar-entry-held") == 8


def test_a_busy_day_shows_its_first_threads_by_time_whether_published_or_due(nina, nina_account):
    at = datetime(2031, 6, 5, 13, 0, tzinfo=UTC)
    for n in range(0, 10, 2):
        post(nina_account, f"Due {n}", at + timedelta(minutes=n))
        # Published a minute after its own time: the calendar places it when it went out.
        out = post(nina_account, f"Out {n + 1}", at + timedelta(minutes=n), status=Post.Status.PUBLISHED)
        Post.objects.filter(pk=out.pk).update(published_at=at + timedelta(minutes=n + 1))
    post(nina_account, "Next day", at + timedelta(days=1))
    html = client_for(nina).get(CALENDAR, {"day": "2031-06-05"}).content.decode()
    cell = day_cell(html, date(2031, 6, 5))
    assert re.findall(r"(Due \d|Out \d)", cell) == ["Due 0", "Out 1", "Due 2", "Out 3", "Due 4", "Out 5"]
    assert '<a class="calendar-more" href="' in cell and "+ 4 more</a>" in cell
    assert "Next day" in day_cell(html, date(2031, 6, 6))


def test_bad_requests_get_a_clear_error_and_the_default_view(nina, nina_account):
    client = client_for(nina)
    response = client.get(CALENDAR, {"view": "year", "day": "2031-13-40"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "There is no “year” view: choose month or week." in html
    assert "“2031-13-40” is not a date: give one as YYYY-MM-DD" in html
    assert f"{timezone.now().astimezone(NEW_YORK):%B %Y}" in html


def test_people_who_are_not_staff_cannot_see_it(nina_account):
    someone = get_user_model().objects.create_user("sam", "sam@example.com", "pw")
    response = client_for(someone).get(CALENDAR)
    assert response.status_code == 302 and "/login/" in response["Location"]
