"""Through the publisher: an answer from X that cannot be read never fails a
post that X may have published, and a spent daily limit makes the post (and
its account) wait for that limit's own reset, not for the 15-minute one."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from accounts.models import XAccount
from bots.models import Post
from bots.posting import publisher, scheduler

from .conftest import link_with_minted_tokens, sandbox_posts, schedule, set_faults

CREATE = "POST /2/tweets"


@pytest.mark.parametrize("fault", [
    {"mode": "garbled_body"},
    {"mode": "garbled_body", "body": '{"data": {"text": "no id here"}}'},
    {"mode": "truncated_body"},
])
def test_an_unreadable_answer_is_checked_on_x_and_published_once(sandbox, owner, fast_publishing, fault):
    account = link_with_minted_tokens(sandbox, owner, "alice_bot")
    set_faults(sandbox, {"endpoint": CREATE, "count": 1, **fault})
    post = schedule(account, "X has it, but its answer is unreadable")
    assert scheduler.claim_post(post_id=post.pk)

    assert publisher.publish_post(post_id=post.pk) == "unknown"
    checking = Post.objects.get(pk=post.pk)
    assert checking.status == Post.Status.UNKNOWN
    assert "checking on X" in checking.last_error
    assert publisher.reconcile_unknown_posts(now=checking.next_attempt_at)["published"] == 1

    (on_x,) = sandbox_posts(sandbox, username="alice_bot")
    assert Post.objects.get(pk=post.pk).x_post_id == on_x["id"]


def test_a_spent_daily_limit_waits_for_the_daily_reset(sandbox, owner, fast_publishing):
    account = link_with_minted_tokens(sandbox, owner, "alice_bot")
    limits = {CREATE: {"user_24h": {"limit": 1, "window_secs": 6 * 3600}}}
    assert requests.put(f"{sandbox}/_sandbox/rate-limits", json=limits, timeout=10).status_code == 200
    first = schedule(account, "The one post of the day")
    assert scheduler.claim_post(post_id=first.pk)
    assert publisher.publish_post(post_id=first.pk) == "published"
    second = schedule(account, "One too many for today")
    assert scheduler.claim_post(post_id=second.pk)

    assert publisher.publish_post(post_id=second.pk) == "rate limited"

    waiting = Post.objects.get(pk=second.pk)
    paused_until = XAccount.objects.get(pk=account.pk).rate_limited_until
    assert waiting.status == Post.Status.SCHEDULED
    assert paused_until > timezone.now() + timedelta(hours=5, minutes=50)
    assert waiting.next_attempt_at >= paused_until
    assert "daily limit" in waiting.last_error
    assert waiting.attempts == 0, "a 429 applied nothing: it is no failed attempt"
    # The dispatcher leaves the account alone until then: no request every 15 minutes.
    assert scheduler.claim_due_posts(enqueue=lambda *a: None, now=timezone.now() + timedelta(minutes=16)) == []
    assert len(sandbox_posts(sandbox, username="alice_bot")) == 1
