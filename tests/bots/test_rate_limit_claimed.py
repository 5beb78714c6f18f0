"""A post claimed in the same tick as another post of its account, which then
got X's 429, waits for the reset instead of reaching X before it (found by the
chaos run: ``python -m bench chaos`` counted requests in ``early_retries``)."""

from __future__ import annotations

from datetime import timedelta

import requests
from django.utils import timezone

from accounts.models import XAccount
from bots.models import Post
from bots.posting import publisher, scheduler

from .conftest import link_with_minted_tokens, sandbox_posts, schedule

CREATE = "POST /2/tweets"


def api_requests(sandbox: str) -> dict:
    answer = requests.get(f"{sandbox}/_sandbox/requests", params={"endpoint": CREATE}, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_second_claimed_post_waits_for_the_reset_its_sibling_was_told(sandbox, owner, fast_publishing):
    account = link_with_minted_tokens(sandbox, owner, "alice_bot")
    limits = {CREATE: {"rate": {"limit": 1, "window_secs": 30}}}
    assert requests.put(f"{sandbox}/_sandbox/rate-limits", json=limits, timeout=10).status_code == 200
    first, second, third = (schedule(account, f"Post {n} of the tick") for n in (1, 2, 3))
    for post in (first, second, third):
        assert scheduler.claim_post(post_id=post.pk)

    assert publisher.publish_post(post_id=first.pk) == "published"
    assert publisher.publish_post(post_id=second.pk) == "rate limited"  # X's 429
    assert publisher.publish_post(post_id=third.pk) == "rate limited"  # never sent

    log = api_requests(sandbox)
    assert [r["status"] for r in log["requests"]] == [201, 429]
    assert log["early_retries"] == []
    reset = XAccount.objects.get(pk=account.pk).rate_limited_until
    waiting = Post.objects.get(pk=third.pk)
    assert waiting.status == Post.Status.SCHEDULED and waiting.claim_token == ""
    assert waiting.next_attempt_at >= reset
    assert "Waiting for X's rate limit on @alice_bot to reset at" in waiting.last_error
    assert [p["submitted_text"] for p in sandbox_posts(sandbox)] == ["Post 1 of the tick"]


def test_a_rate_limit_that_has_passed_does_not_hold_the_post(sandbox, owner, fast_publishing):
    account = link_with_minted_tokens(sandbox, owner, "alice_bot")
    XAccount.objects.filter(pk=account.pk).update(rate_limited_until=timezone.now() - timedelta(seconds=1))
    post = schedule(account, "After the reset")
    assert scheduler.claim_post(post_id=post.pk)

    assert publisher.publish_post(post_id=post.pk) == "published"
