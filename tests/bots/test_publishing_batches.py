"""Posts due at the same moment go out in batches: one task, one statement per
step, several requests to X at once. Each post still gets its own X id, a
post that cannot go with the others goes on its own, and one post's failure
is that post's alone."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
import requests
from django.db import connection
from django.utils import timezone

from accounts.models import XAccount
from accounts.services import xaccount_pause
from bots.models import Post
from bots.posting import publisher, scheduler, services
from tests.foundation.helpers import wait_until

from .conftest import link_with_minted_tokens, published, sandbox_posts, schedule, set_faults

S = Post.Status
CREATE = "POST /2/tweets"


def delivered_meanwhile(batch: list[int]) -> tuple[threading.Thread, list[Counter]]:
    """The batch's task, running in a thread of its own (joined by the test);
    what it did lands in the list once it is done."""
    outcome: list[Counter] = []

    def deliver() -> None:
        try:
            outcome.append(publisher.publish_posts(post_ids=batch))
        finally:
            connection.close()

    delivery = threading.Thread(target=deliver)
    delivery.start()
    return delivery, outcome


def held_by_x(sandbox: str) -> int:
    """How many requests the sandbox's latency faults have held so far."""
    rules = requests.get(f"{sandbox}/_sandbox/faults", timeout=10).json()["faults"]
    return sum(rule["applied"] for rule in rules if rule["mode"] == "latency")


def claim_now() -> list[list[int]]:
    """One dispatcher tick; the batches it hands on."""
    batches: list[list[int]] = []
    scheduler.claim_due_posts(enqueue=lambda ids, eta: batches.append(ids))
    return batches


def test_a_burst_goes_out_in_batches_and_each_post_keeps_its_own_id(pipeline, sandbox, owner, settings):
    settings.PUBLISH_BATCH_SIZE = 4
    accounts = [link_with_minted_tokens(sandbox, owner, name) for name in ("alice_bot", "bob_news", "carol_daily")]
    posts = [schedule(accounts[n % 3], f"Burst post {n}", in_seconds=2) for n in range(10)]

    done = [published(post) for post in posts]

    on_x = {p["text"]: p for p in sandbox_posts(sandbox)}
    assert len(on_x) == 10
    for post in done:
        sent = on_x[post.text]
        assert post.x_post_id == sent["id"], f"{post.text} has the id of another post"
        assert post.x_post_url == f"https://x.com/{post.account.username}/status/{sent['id']}"
        assert sent["author_id"] == post.account.x_user_id
        assert sent["request_count"] == 1
        assert sent["created_at"] >= post.scheduled_at.timestamp()
        # Recorded when X answered: after the request reached X, within the same few seconds.
        assert 0 <= post.published_at.timestamp() - sent["created_at"] < 5


def test_the_dispatcher_hands_on_posts_due_together_in_batches_of_the_configured_size(sandbox, owner, settings):
    settings.PUBLISH_BATCH_SIZE = 3
    account = link_with_minted_tokens(sandbox, owner, "alice_bot")
    late = [schedule(account, f"Due already {n}") for n in range(2)]
    Post.objects.filter(pk=late[1].pk).update(next_attempt_at=timezone.now() - timedelta(seconds=5))
    soon = schedule(account, "Due in a second", in_seconds=1)
    together = [schedule(account, f"Due together {n}", in_seconds=1.5) for n in range(7)]
    Post.objects.filter(pk__in=[p.pk for p in together]).update(next_attempt_at=together[0].next_attempt_at)
    batches: list[tuple[list[int], object]] = []

    scheduler.claim_due_posts(enqueue=lambda ids, eta: batches.append((ids, eta)),
                              lookahead=scheduler.DISPATCH_LOOKAHEAD)

    # Posts already due go at once, whatever their time; the others with their time as the ETA.
    assert [(sorted(ids), eta) for ids, eta in batches[:2]] == [
        (sorted(p.pk for p in late), None), ([soon.pk], soon.next_attempt_at)]
    assert [len(ids) for ids, _ in batches[2:]] == [3, 3, 1]
    assert {eta for _, eta in batches[2:]} == {together[0].next_attempt_at}
    assert sorted(pk for ids, _ in batches[2:] for pk in ids) == sorted(p.pk for p in together)


def test_posts_that_cannot_go_with_the_others_go_on_their_own(sandbox, owner, fast_publishing):
    alice = link_with_minted_tokens(sandbox, owner, "alice_bot")
    bob = link_with_minted_tokens(sandbox, owner, "bob_news")
    plain = [schedule(alice, "Plain one"), schedule(alice, "Plain two")]
    thread = schedule(alice, "A thread 1/2", parts=("and 2/2",))
    limited = schedule(bob, "On a rate-limited account")
    cancelled = schedule(alice, "Cancelled after it was claimed")
    (batch,) = claim_now()
    # Between the claim and the delivery: X paused bob's account, a person cancelled a post.
    until = timezone.now() + timedelta(minutes=10)
    XAccount.objects.filter(pk=bob.pk).update(rate_limited_until=until)
    services.post_cancel(post=Post.objects.get(pk=cancelled.pk))

    outcome = publisher.publish_posts(post_ids=batch)

    assert outcome == {"published": 3, "rate limited": 1, "skipped": 1}
    assert sorted(p["text"] for p in sandbox_posts(sandbox)) == ["A thread 1/2", "Plain one", "Plain two"]
    waiting = Post.objects.get(pk=limited.pk)
    assert (waiting.status, waiting.next_attempt_at >= until) == (S.SCHEDULED, True)
    assert "rate limit on @bob_news" in waiting.last_error
    assert Post.objects.get(pk=cancelled.pk).status == S.CANCELLED
    assert [Post.objects.get(pk=p.pk).status for p in plain] == [S.PUBLISHED, S.PUBLISHED]
    # The thread's root went on its own, and released its next part.
    part = thread.parts.get()
    assert (part.status, part.next_attempt_at is not None) == (S.SCHEDULED, True)


def test_one_posts_failure_in_a_batch_is_that_posts_alone(sandbox, owner, fast_publishing, settings):
    settings.PUBLISH_CONCURRENCY = 1
    account = link_with_minted_tokens(sandbox, owner, "alice_bot")
    posts = [schedule(account, f"Batch member {n}") for n in range(3)]
    (batch,) = claim_now()
    # X refuses the batch's first request, for good.
    set_faults(sandbox, {"endpoint": CREATE, "mode": "status", "status": 400, "count": 1})

    outcome = publisher.publish_posts(post_ids=batch)

    assert outcome == {"published": 2, "failed": 1}
    first, *others = (Post.objects.get(pk=p.pk) for p in posts)
    assert first.status == S.FAILED and first.last_error
    assert [p.status for p in others] == [S.PUBLISHED, S.PUBLISHED]
    assert sorted(p["text"] for p in sandbox_posts(sandbox)) == ["Batch member 1", "Batch member 2"]


def test_an_account_told_to_wait_sends_nothing_more_of_its_batch_before_the_reset(
        sandbox, owner, fast_publishing, settings):
    settings.PUBLISH_CONCURRENCY = 1
    account = link_with_minted_tokens(sandbox, owner, "alice_bot")
    posts = [schedule(account, f"One of a busy account's batch {n}") for n in range(3)]
    (batch,) = claim_now()
    # X takes one post per 5 minutes from the account: the second is answered 429.
    requests.put(f"{sandbox}/_sandbox/rate-limits", timeout=10,
                 json={CREATE: {"rate": {"limit": 1, "window_secs": 300}}}).raise_for_status()
    began = timezone.now()

    outcome = publisher.publish_posts(post_ids=batch)

    assert outcome == {"published": 1, "rate limited": 2}
    creates = [r for r in requests.get(f"{sandbox}/_sandbox/requests", timeout=10).json()["requests"]
               if r["endpoint"] == CREATE]
    # The third post never reached X: the 429 had told the account to wait.
    assert [r["status"] for r in creates] == [201, 429]
    first, *held = (Post.objects.get(pk=p.pk) for p in posts)
    reset = XAccount.objects.get(pk=account.pk).rate_limited_until
    assert first.status == S.PUBLISHED and reset > began + timedelta(minutes=4)
    for post in held:
        assert post.status == S.SCHEDULED and post.attempts == 0 and post.next_attempt_at >= reset
        assert "rate limit" in post.last_error
    assert [p["text"] for p in sandbox_posts(sandbox)] == ["One of a busy account's batch 0"]


def test_a_429_another_worker_is_answered_mid_batch_stops_the_rest_of_the_batch(
        sandbox, owner, fast_publishing, settings):
    settings.PUBLISH_CONCURRENCY = 1
    account = link_with_minted_tokens(sandbox, owner, "alice_bot")
    posts = [schedule(account, f"A batch that X holds up {n}") for n in range(3)]
    (batch,) = claim_now()
    # X holds the batch's first request for a second and a half.
    set_faults(sandbox, {"endpoint": CREATE, "mode": "latency", "seconds": 1.5, "count": 1})
    delivery, outcome = delivered_meanwhile(batch)

    wait_until(lambda: held_by_x(sandbox) == 1, seconds=10, what="X holding the batch's first request")
    # Meanwhile another worker is answered 429 for the account, and records it.
    reset = timezone.now() + timedelta(minutes=10)
    xaccount_pause(account_id=account.pk, until=reset)
    delivery.join(15)

    assert outcome == [{"published": 1, "rate limited": 2}]
    creates = [r for r in requests.get(f"{sandbox}/_sandbox/requests", timeout=10).json()["requests"]
               if r["endpoint"] == CREATE]
    # The batch's later posts never reached X: the account was waiting for its reset.
    assert len(creates) == 1
    first, *held = (Post.objects.get(pk=p.pk) for p in posts)
    assert first.status == S.PUBLISHED
    for post in held:
        assert post.status == S.SCHEDULED and post.attempts == 0 and post.next_attempt_at >= reset
        assert "Waiting for X's rate limit on @alice_bot" in post.last_error


def test_a_batchs_requests_to_x_are_in_flight_together(sandbox, owner, fast_publishing, settings):
    settings.PUBLISH_CONCURRENCY = 3
    accounts = [link_with_minted_tokens(sandbox, owner, name) for name in ("alice_bot", "bob_news", "carol_daily")]
    for account in accounts:
        schedule(account, f"In flight with the others, from @{account.username}")
    (batch,) = claim_now()
    # X holds each of the next three requests for two seconds before creating the post.
    set_faults(sandbox, {"endpoint": CREATE, "mode": "latency", "seconds": 2, "count": 3})

    delivery, outcome = delivered_meanwhile(batch)

    wait_until(lambda: held_by_x(sandbox) == 3, seconds=10, what="three requests reaching X")
    # All three arrived while X still held the first: none is created yet.
    assert sandbox_posts(sandbox) == []
    delivery.join(15)
    assert outcome == [{"published": 3}]
    assert len(sandbox_posts(sandbox)) == 3


@pytest.mark.parametrize("concurrency", [1, 4])
def test_publish_posts_skips_what_is_not_claimed(sandbox, owner, fast_publishing, settings, concurrency):
    settings.PUBLISH_CONCURRENCY = concurrency
    account = link_with_minted_tokens(sandbox, owner, "alice_bot")
    scheduled = schedule(account, "Scheduled, never claimed", in_seconds=3600)

    assert publisher.publish_posts(post_ids=[scheduled.pk, 10**9]) == {"skipped": 2}
    assert sandbox_posts(sandbox) == []
