"""The dashboard on the admin index: per account its status, next post, last
published post, failures in the last 24 hours (linked to the filtered post
list), posts and estimated X spend this month against the budget, and an
accessible inline SVG chart of posts per day; in a fixed number of queries."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import x_hosts
from bots.models import Post
from bots.planning import costs
from tests import posts
from tests.bots.csv_support import account_of, client_for, staff

pytestmark = pytest.mark.django_db

INDEX = "/admin/"


@pytest.fixture
def lea(db):
    return staff("lea", "Europe/Berlin")


def published(account, text: str, days_ago: float, price: str = "0.015", url: str = "") -> Post:
    at = timezone.now() - timedelta(days=days_ago)
    return posts.published(account, text, at=at, price=price,
                           url=url or f"https://x.com/{account.username}/status/{int(at.timestamp() * 1000)}")


def row_of(html: str, username: str) -> str:
    match = re.search(rf'<tr class="dashboard-account" data-account="{username}">(.*?)</tr>', html, re.S)
    assert match, f"no dashboard row for @{username}"
    return match.group(1)


def test_each_account_with_its_figures(settings, lea):
    settings.X_API_BASE = x_hosts.API  # X itself, whose page for the post the link opens
    news = account_of(lea, "lea_news", "8001")
    quiet = account_of(lea, "lea_quiet", "8002")
    quiet.mark_needs_reauth("X no longer accepts the tokens")
    costs.budget_set(account=news, amount="1")
    published(news, "Old news", days_ago=0.5)
    latest = published(news, "Latest: see example.com/a", days_ago=0.1, price="0.20",
                       url="https://x.com/lea_news/status/99")
    upcoming = Post.objects.create(account=news, text="Tomorrow's headline, coming soon",
                                   scheduled_at=timezone.now() + timedelta(days=1), status=Post.Status.SCHEDULED)
    Post.objects.create(account=news, text="Later still", scheduled_at=timezone.now() + timedelta(days=2),
                        status=Post.Status.SCHEDULED)
    for n in range(2):
        Post.objects.create(account=news, text=f"Failed {n}", status=Post.Status.FAILED, last_error="refused")
    old_failure = Post.objects.create(account=news, text="Failed long ago", status=Post.Status.FAILED)
    Post.objects.filter(pk=old_failure.pk).update(updated_at=timezone.now() - timedelta(days=2))

    html = client_for(lea).get(INDEX).content.decode()
    row = row_of(html, "lea_news")
    assert '<span class="x-status x-status-active">Active</span>' in row
    assert f'href="/admin/bots/post/{upcoming.pk}/change/"' in row and "Tomorrow&#x27;s headline" in row
    assert 'href="https://x.com/lea_news/status/99"' in row and "Latest: see example.com/a" in row
    assert (f'<a class="dashboard-failed" href="/admin/bots/post/?status=failed&amp;account__id__exact={news.pk}">'
            "2 failed</a>") in row
    assert '<td class="dashboard-count">2</td>' in row
    assert '<td class="dashboard-spend">$0.215</td>' in row
    assert "$1.00 <span class=\"dashboard-left\">($0.785 left)</span>" in row
    assert latest.x_post_url in row

    other = row_of(html, "lea_quiet")
    assert "Needs reconnecting" in other and "nothing scheduled" in other and "none yet" in other
    assert '<td class="dashboard-spend">$0.00</td>' in other and ">none<" in other

    failed_list = client_for(lea).get(f"/admin/bots/post/?status=failed&account__id__exact={news.pk}")
    assert failed_list.content.decode().count('name="_selected_action"') == 3


def test_the_chart_counts_published_posts_per_day_and_is_accessible(lea):
    news = account_of(lea, "lea_news", "8001")
    for _ in range(3):
        published(news, "Today", days_ago=0)
    published(news, "Five days ago", days_ago=5)
    published(news, "Too old for the chart", days_ago=40)
    html = client_for(lea).get(INDEX).content.decode()
    svg = html.split('<figure class="dashboard-chart">', 1)[1].split("</figure>", 1)[0]
    assert 'role="img" aria-labelledby="chart-title chart-desc"' in svg
    assert '<title id="chart-title">Posts published per day, last 30 days</title>' in svg
    assert "4 posts in 30 days, at most 3 on one day." in svg
    bars = re.findall(r'data-day="([\d-]+)" data-count="(\d+)"', svg)
    assert len(bars) == 30
    today = timezone.localtime(timezone.now(), news.owner.timezone).date()
    assert bars[-1] == (today.isoformat(), "3")
    assert bars[-6] == ((today - timedelta(days=5)).isoformat(), "1")
    assert sum(int(count) for _, count in bars) == 4


def test_only_ones_own_accounts(lea):
    account_of(lea, "lea_news", "8001")
    account_of(staff("omar", "UTC"), "omar_bot", "8003")
    html = client_for(lea).get(INDEX).content.decode()
    assert 'data-account="lea_news"' in html and "omar_bot" not in html


def test_someone_without_accounts_is_told_to_link_one(lea):
    html = client_for(lea).get(INDEX).content.decode()
    assert "You have no X account yet" in html and "/accounts/x/link/oauth2/" in html


def test_the_dashboard_costs_the_same_queries_for_two_or_twenty_accounts(lea, django_assert_max_num_queries):
    def add_accounts(start: int, count: int) -> None:
        for n in range(start, start + count):
            account = account_of(lea, f"lea_{n}", str(9000 + n))
            costs.budget_set(account=account, amount="2")
            published(account, f"Published {n}", days_ago=1)
            Post.objects.create(account=account, text=f"Next {n}", status=Post.Status.SCHEDULED,
                                scheduled_at=timezone.now() + timedelta(hours=n + 1))
            Post.objects.create(account=account, text=f"Failed {n}", status=Post.Status.FAILED)

    client = client_for(lea)
    add_accounts(0, 2)
    client.get(INDEX)
    with CaptureQueriesContext(connection) as two:
        assert client.get(INDEX).status_code == 200
    add_accounts(2, 18)
    with django_assert_max_num_queries(len(two.captured_queries)):
        html = client.get(INDEX).content.decode()
    assert html.count('class="dashboard-account"') == 20
    print(f"\nthe admin index takes {len(two.captured_queries)} queries with 2 or 20 accounts")


def test_accounts_come_a_page_at_a_time_those_needing_a_person_first(lea):
    from bots.planning.dashboard import ACCOUNTS_PER_PAGE

    count = ACCOUNTS_PER_PAGE + 5
    accounts = [account_of(lea, f"lea_{n:02}", str(9100 + n)) for n in range(count)]
    accounts[-1].mark_needs_reauth("X no longer accepts the tokens")
    Post.objects.create(account=accounts[3], text="Failed", status=Post.Status.FAILED, last_error="refused")
    client = client_for(lea)

    first = client.get(INDEX).content.decode()
    shown = re.findall(r'data-account="(lea_\d+)"', first)
    assert len(shown) == ACCOUNTS_PER_PAGE
    assert shown[0] == f"lea_{count - 1:02}" and shown[1:] == [f"lea_{n:02}" for n in range(ACCOUNTS_PER_PAGE - 1)]
    assert (f'<p class="dashboard-totals" role="status">{count} accounts, '
            '<a href="/admin/accounts/xaccount/?status__exact=needs_reauth">1 needs reconnecting</a> · '
            '<a class="dashboard-failed" href="/admin/bots/post/?status=failed">1 post failed in the last 24 hours</a>'
            '</p>') in first
    assert f"accounts 1–{ACCOUNTS_PER_PAGE} of {count}, those needing a person first" in first
    assert 'href="?accounts=2#dashboard" rel="next"' in first and 'rel="prev"' not in first

    second = client.get(INDEX, {"accounts": 2}).content.decode()
    assert re.findall(r'data-account="(lea_\d+)"', second) == [
        f"lea_{n:02}" for n in range(ACCOUNTS_PER_PAGE - 1, count - 1)]
    assert 'href="?accounts=1#dashboard" rel="prev"' in second and 'rel="next"' not in second
    # The chart and the totals are the whole workspace's on every page.
    assert f"{count} accounts" in second

    # Not a page number: the first page; past the last: the last.
    assert re.findall(r'data-account="(lea_\d+)"', client.get(INDEX, {"accounts": "x"}).content.decode()) == shown
    assert client.get(INDEX, {"accounts": 99}).content.decode().count('class="dashboard-account"') == 5
    # The totals' link lists just the accounts to reconnect.
    listed = client.get("/admin/accounts/xaccount/", {"status__exact": "needs_reauth"}).content.decode()
    assert f"@lea_{count - 1:02}" in listed and "@lea_00" not in listed
