"""Times in the admin are the signed-in person's: entered and shown in their own
time zone, stored in UTC."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from bots.models import Post

from .admin_pages import ADD, CHANGELIST, change_url, post_form
from .conftest import link_with_minted_tokens


def _person(username: str, zone: str, **fields) -> Client:
    user = get_user_model().objects.create_user(
        username, f"{username}@example.com", "pw", is_staff=True, timezone=zone, **fields
    )
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def new_yorker(db) -> Client:
    return _person("nina", "America/New_York")


@pytest.fixture
def account(sandbox, new_yorker):
    return link_with_minted_tokens(sandbox, get_user_model().objects.get(username="nina"), "nina_bot")


def test_nine_in_new_york_in_winter_is_stored_as_fourteen_utc_and_shown_as_nine(new_yorker, account):
    new_yorker.post(ADD, post_form(account, "Good morning, New York", day="2030-01-15", time="09:00"))

    post = Post.objects.get()
    listing = new_yorker.get(CHANGELIST).content.decode()
    form = new_yorker.get(change_url(post.pk)).content.decode()

    assert post.scheduled_at == datetime(2030, 1, 15, 14, 0, tzinfo=UTC)
    assert "Tue 15 Jan 2030, 09:00 EST" in listing
    assert 'name="scheduled_at_1" value="09:00:00"' in form
    assert "In your time zone, <strong>America/New_York</strong>." in form


def test_the_posts_page_the_list_and_the_dashboard_show_a_time_in_one_format(new_yorker, account):
    at = datetime(2030, 1, 15, 14, 0, tzinfo=UTC)
    post = Post.objects.create(account=account, text="Out in the morning", status=Post.Status.PUBLISHED,
                               scheduled_at=at, sending_since=at, published_at=at,
                               x_post_url="https://x.com/nina_bot/status/5")

    listing = new_yorker.get(CHANGELIST).content.decode()
    page = new_yorker.get(change_url(post.pk)).content.decode()
    dashboard = new_yorker.get("/admin/").content.decode()

    shown = "Tue 15 Jan 2030, 09:00 EST"
    assert shown in listing
    published_at = re.search(r'field-published_at.*?<div class="readonly">(.*?)</div>', page, re.S)
    assert published_at and published_at.group(1) == shown
    assert re.search(rf'class="x-post-link">{shown} ↗</a>', dashboard)


def test_in_summer_the_same_hour_is_thirteen_utc(new_yorker, account):
    new_yorker.post(ADD, post_form(account, "Summer morning", day="2030-07-15", time="09:00"))

    assert Post.objects.get().scheduled_at == datetime(2030, 7, 15, 13, 0, tzinfo=UTC)


def test_each_person_sees_the_time_in_their_own_zone(new_yorker, account):
    new_yorker.post(ADD, post_form(account, "Seen from Tokyo", day="2030-01-15", time="09:00"))
    tokyo = _person("taro", "Asia/Tokyo", is_superuser=True)

    in_tokyo = tokyo.get(CHANGELIST).content.decode()
    in_new_york = new_yorker.get(CHANGELIST).content.decode()

    assert "Tue 15 Jan 2030, 23:00 JST" in in_tokyo
    assert "Tue 15 Jan 2030, 09:00 EST" in in_new_york


def test_a_time_that_does_not_exist_in_the_zone_is_refused(new_yorker, account):
    # Clocks in New York jump from 02:00 to 03:00 on 10 March 2030.
    response = new_yorker.post(ADD, post_form(account, "In the gap", day="2030-03-10", time="02:30"))

    assert "couldn’t be interpreted in time zone America/New_York" in response.content.decode()
    assert not Post.objects.exists()
