"""The first-run checklist on the admin's home page: link an account,
schedule a post, see it on the timeline, set up a queue. Each step ticks
itself off from what the workspace has, the next step's link stands out, the
timeline step opens the X in use (the sandbox's page for the account in
development), and the list goes once every step is done."""

from __future__ import annotations

import re
from datetime import time, timedelta

import pytest
from django.utils import timezone

from accounts import x_hosts
from bots.models import PostingSlot
from bots.posting import services
from tests import posts
from tests.bots.csv_support import account_of, client_for, staff

pytestmark = pytest.mark.django_db

INDEX = "/admin/"


def steps(user) -> dict[str, tuple[bool, str, bool]]:
    """Each step's key: (done, its link, whether it is the next step); {} when the list is gone."""
    html = client_for(user).get(INDEX).content.decode()
    found = {}
    for done, key, body in re.findall(
            r'<li class="first-run-step( done)?" data-step="(\w+)">(.*?)</li>', html, re.S):
        link = re.search(r'<a href="([^"]+)"[^>]*?( class="first-run-next")?>', body)
        found[key] = (bool(done), link.group(1), bool(link.group(2)))
    return found


def test_each_step_ticks_itself_off_and_the_list_goes_when_all_are_done(settings):
    settings.X_API_BASE = "http://127.0.0.1:8765"  # the sandbox as the X in use
    lea = staff("lea", "Europe/Berlin")

    first = steps(lea)
    assert list(first) == ["link", "schedule", "timeline", "queue"]
    assert [done for done, _, _ in first.values()] == [False] * 4
    assert first["link"] == (False, "/accounts/x/link/oauth2/", True)
    assert "0 of 4 done" in client_for(lea).get(INDEX).content.decode()

    account = account_of(lea, "lea_news", "8001")
    linked = steps(lea)
    assert linked["link"][0] and linked["schedule"] == (False, "/admin/bots/post/add/", True)
    # Before anything is published, the timeline step already opens the account's page.
    assert linked["timeline"] == (False, "http://127.0.0.1:8765/lea_news", False)

    draft = services.post_create(account=account, text="Only a draft", by=lea, schedule=False)
    assert not steps(lea)["schedule"][0]
    services.post_schedule(post=draft, at=timezone.now() + timedelta(hours=2), by=lea)
    assert steps(lea)["schedule"][0] and steps(lea)["timeline"][2]

    posts.published(account, "Out now", at=timezone.now(), url=x_hosts.post_url("lea_news", "5"))
    published = steps(lea)
    assert published["timeline"] == (True, "http://127.0.0.1:8765/lea_news", False)
    assert published["queue"] == (False, "/admin/bots/postingqueue/", True)
    assert "3 of 4 done" in client_for(lea).get(INDEX).content.decode()

    PostingSlot.objects.create(account=account, weekday=0, time=time(9))
    assert steps(lea) == {}


def test_the_timeline_step_opens_x_itself_when_x_is_in_use(settings):
    settings.X_API_BASE = x_hosts.API
    lea = staff("lea", "UTC")
    account_of(lea, "lea_news", "8001")
    assert steps(lea)["timeline"][1] == "https://x.com/lea_news"


def test_each_workspace_has_its_own_checklist():
    lea, omar = staff("lea", "UTC"), staff("omar", "UTC")
    account = account_of(omar, "omar_bot", "8003")
    PostingSlot.objects.create(account=account, weekday=0, time=time(9))
    assert not any(done for done, _, _ in steps(lea).values())
    assert steps(omar)["queue"][0]
