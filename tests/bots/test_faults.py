"""Publishing through X's failures, injected by the sandbox: each post ends
published exactly once, or failed with words a person can act on."""

from __future__ import annotations

import requests
from django.test import Client

from accounts.models import XAccount
from bots.models import Post
from tests.accounts.linking import OAUTH2_START, link
from tests.conftest import TEST_CALLBACKS, register_callbacks
from tests.foundation.helpers import wait_until

from .conftest import link_with_minted_tokens, published, sandbox_posts, schedule, set_faults

CREATE = "POST /2/tweets"


def api_requests(sandbox: str, **params) -> dict:
    answer = requests.get(f"{sandbox}/_sandbox/requests", params=params, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_5xx_then_success_publishes_once(pipeline, sandbox, owner):
    account = link_with_minted_tokens(sandbox, owner, "alice_bot")
    set_faults(sandbox, {"endpoint": CREATE, "mode": "status", "status": 503, "count": 1})

    done = published(schedule(account, "Through a server error"), seconds=60)

    on_x = sandbox_posts(sandbox, username="alice_bot")
    assert [p["id"] for p in on_x] == [done.x_post_id]
    assert done.attempts == 1
    statuses = [r["status"] for r in api_requests(sandbox, endpoint=CREATE)["requests"]]
    assert statuses == [503, 201]


def test_commit_then_drop_is_reconciled_as_published(pipeline, sandbox, owner):
    account = link_with_minted_tokens(sandbox, owner, "alice_bot")
    set_faults(sandbox, {"endpoint": CREATE, "mode": "drop_after_commit", "count": 1})

    done = published(schedule(account, "Posted, answer lost"), seconds=60)

    (on_x,) = sandbox_posts(sandbox, username="alice_bot")
    assert on_x["id"] == done.x_post_id
    assert on_x["request_count"] == 1


def test_a_429_waits_for_the_reset_then_publishes(pipeline, sandbox, owner):
    account = link_with_minted_tokens(sandbox, owner, "alice_bot")
    set_faults(sandbox, {"endpoint": CREATE, "mode": "status", "status": 429, "reset_after_secs": 3, "count": 1})

    post = schedule(account, "After the rate limit")
    wait_until(lambda: XAccount.objects.get(pk=account.pk).rate_limited_until is not None, what="the 429")
    held = Post.objects.get(pk=post.pk)
    assert held.status == Post.Status.SCHEDULED
    assert "rate limit" in held.last_error
    done = published(post, seconds=60)

    log = api_requests(sandbox, endpoint=CREATE)
    first, second = log["requests"]
    assert first["status"] == 429 and second["status"] == 201
    assert second["arrived_at"] >= first["retry_at"]
    assert log["early_retries"] == []
    assert done.published_at.timestamp() >= first["retry_at"]


def test_an_expired_oauth2_token_is_refreshed_once_then_published(pipeline, sandbox, owner):
    account = link_with_minted_tokens(sandbox, owner, "alice_bot")
    old_token = account.oauth2_access_token
    requests.post(f"{sandbox}/_sandbox/users/{account.x_user_id}/expire-tokens", timeout=10)

    published(schedule(account, "With a fresh token"))

    assert len(api_requests(sandbox, endpoint="POST /2/oauth2/token")["requests"]) == 1
    assert XAccount.objects.get(pk=account.pk).oauth2_access_token != old_token


def test_a_revoked_account_fails_holds_its_posts_and_resumes_after_relinking(pipeline, sandbox, owner, http):
    alice = link_with_minted_tokens(sandbox, owner, "alice_bot")
    bob = link_with_minted_tokens(sandbox, owner, "bob_news")
    requests.post(f"{sandbox}/_sandbox/users/{alice.x_user_id}/revoke", timeout=10)

    first = schedule(alice, "Sent to a revoked account")
    wait_until(lambda: Post.objects.get(pk=first.pk).status == Post.Status.FAILED, what="the first post failing")
    later = schedule(alice, "Waits for reconnecting")
    other = published(schedule(bob, "Another account carries on"))

    assert Post.objects.get(pk=first.pk).last_error.startswith("Reconnect @alice_bot")
    assert XAccount.objects.get(pk=alice.pk).status == XAccount.Status.NEEDS_REAUTH
    assert Post.objects.get(pk=later.pk).is_held
    assert other.status == Post.Status.PUBLISHED
    assert sandbox_posts(sandbox, username="alice_bot") == []

    register_callbacks(sandbox, *TEST_CALLBACKS)
    client = Client()
    client.force_login(owner)
    link(client, http, sandbox, OAUTH2_START, "alice_bot")

    assert XAccount.objects.get(pk=alice.pk).status == XAccount.Status.ACTIVE
    resumed = published(later)
    assert [p["id"] for p in sandbox_posts(sandbox, username="alice_bot")] == [resumed.x_post_id]


def test_a_duplicate_on_a_first_attempt_fails_with_that_reason(pipeline, sandbox, owner):
    account = link_with_minted_tokens(sandbox, owner, "alice_bot")
    published(schedule(account, "Said once"))

    again = schedule(account, "Said once")
    wait_until(lambda: Post.objects.get(pk=again.pk).status == Post.Status.FAILED, what="the duplicate failing")

    assert "duplicate" in Post.objects.get(pk=again.pk).last_error
    assert len(sandbox_posts(sandbox, username="alice_bot")) == 1


def test_a_post_claimed_before_its_account_was_flagged_is_held_not_failed(sandbox, owner, fast_publishing):
    from bots.posting import publisher, scheduler

    account = link_with_minted_tokens(sandbox, owner, "alice_bot")
    post = schedule(account, "Claimed, then the account needs reconnecting")
    assert scheduler.claim_post(post_id=post.pk)
    account.mark_needs_reauth("X no longer accepts this account's authorization. Reconnect @alice_bot.")

    assert publisher.publish_post(post_id=post.pk) == "held"

    held = Post.objects.get(pk=post.pk)
    assert held.status == Post.Status.SCHEDULED and held.is_held
    assert sandbox_posts(sandbox) == []
