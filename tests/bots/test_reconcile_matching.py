"""The reconciler recognises a post whose answer was lost the way X changed
it: bare domains and full links wrapped in t.co URLs, HTML-escaped characters,
other Unicode normalization forms; and it looks from the first attempt, not
only from the latest."""

from __future__ import annotations

import unicodedata
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from django.utils import timezone

from accounts import gateway
from bots.models import Post
from bots.posting import publisher, scheduler

from .conftest import link_with_minted_tokens, sandbox_posts, schedule, set_faults

CREATE = "POST /2/tweets"


def lose_the_answer(account, text: str) -> Post:
    """X publishes the post and the connection drops before its answer."""
    post = schedule(account, text)
    assert scheduler.claim_post(post_id=post.pk)
    assert publisher.publish_post(post_id=post.pk) == "unknown"
    return Post.objects.get(pk=post.pk)


TEXTS = [
    "Notes from today: example.com/notes",
    "Read https://example.com/a?b=1 and docs.example.org/guide too",
    "Fish & chips <tonight> at example.co.uk",
    unicodedata.normalize("NFD", "Café crème at www.example.com"),
    "Ampersand written out: &amp; stays as typed",
]


@pytest.mark.parametrize("text", TEXTS)
def test_a_lost_answer_is_found_on_x_whatever_x_did_to_the_text(
    sandbox, owner, fast_publishing, no_duplicate_rule, text
):
    account = link_with_minted_tokens(sandbox, owner, "alice_bot")
    set_faults(sandbox, {"endpoint": CREATE, "mode": "drop_after_commit", "count": 1})
    post = lose_the_answer(account, text)
    past_grace = post.sending_since + timedelta(seconds=fast_publishing.POST_UNKNOWN_GRACE_SECONDS + 1)

    outcome = publisher.reconcile_unknown_posts(now=past_grace)

    (on_x,) = sandbox_posts(sandbox, username="alice_bot")
    assert outcome["published"] == 1, Post.objects.get(pk=post.pk).last_error
    done = Post.objects.get(pk=post.pk)
    assert (done.status, done.x_post_id) == (Post.Status.PUBLISHED, on_x["id"])
    (as_read,) = gateway.recent_posts(account, since=post.sending_since - timedelta(minutes=1))
    assert as_read.text != text, "X changed the text, and it was still recognised"


def test_the_search_starts_at_the_first_attempt(sandbox, owner, fast_publishing, no_duplicate_rule):
    """X applied the first attempt; a later attempt's answer was lost too. The
    post is looked for from the first attempt, where it is, instead of from the
    latest, where it is not, which would send it again."""
    account = link_with_minted_tokens(sandbox, owner, "alice_bot")
    set_faults(sandbox, {"endpoint": CREATE, "mode": "drop_after_commit", "count": 1})
    post = lose_the_answer(account, "Sent once, at the first attempt")
    later_attempt = post.first_sent_at + timedelta(minutes=10)
    Post.objects.filter(pk=post.pk).update(sending_since=later_attempt, next_attempt_at=later_attempt)

    outcome = publisher.reconcile_unknown_posts(
        now=later_attempt + timedelta(seconds=fast_publishing.POST_UNKNOWN_GRACE_SECONDS + 1)
    )

    assert outcome["published"] == 1
    (on_x,) = sandbox_posts(sandbox, username="alice_bot")
    assert Post.objects.get(pk=post.pk).x_post_id == on_x["id"]


def test_a_post_really_not_on_x_is_sent_again_after_the_grace_period(
    sandbox, owner, fast_publishing, no_duplicate_rule
):
    account = link_with_minted_tokens(sandbox, owner, "alice_bot")
    set_faults(sandbox, {"endpoint": CREATE, "mode": "drop_before_commit", "count": 1})
    post = schedule(account, "Lost before X had it: example.com/lost")
    assert scheduler.claim_post(post_id=post.pk)
    outcome = publisher.publish_post(post_id=post.pk)
    post.refresh_from_db()
    assert outcome == "unknown", post.last_error

    assert publisher.reconcile_unknown_posts(now=post.next_attempt_at)["waiting"] == 1
    past_grace = post.sending_since + timedelta(seconds=fast_publishing.POST_UNKNOWN_GRACE_SECONDS + 1)
    assert publisher.reconcile_unknown_posts(now=past_grace)["rescheduled"] == 1

    assert sandbox_posts(sandbox, username="alice_bot") == []
    assert Post.objects.get(pk=post.pk).status == Post.Status.SCHEDULED


def test_a_rate_limited_lookup_waits_for_its_reset(sandbox, owner, fast_publishing):
    account = link_with_minted_tokens(sandbox, owner, "alice_bot")
    set_faults(sandbox, {"endpoint": CREATE, "mode": "drop_after_commit", "count": 1})
    post = lose_the_answer(account, "Looked for while reads are limited")
    set_faults(sandbox, {"endpoint": "GET /2/users/:id/tweets", "mode": "status", "status": 429,
                         "reset_after_secs": 600, "count": 1})

    assert publisher.reconcile_unknown_posts(now=post.next_attempt_at)["waiting"] == 1

    waiting = Post.objects.get(pk=post.pk)
    assert waiting.status == Post.Status.UNKNOWN
    assert waiting.next_attempt_at >= timezone.now() + timedelta(seconds=590)
    assert "rate limit" in waiting.last_error
    assert publisher.reconcile_unknown_posts(now=timezone.now() + timedelta(seconds=60))["waiting"] == 0


def test_one_post_that_cannot_be_looked_at_does_not_stop_the_others(sandbox, owner, fast_publishing, settings):
    alice = link_with_minted_tokens(sandbox, owner, "alice_bot")
    bob = link_with_minted_tokens(sandbox, owner, "bob_news")
    set_faults(sandbox, {"endpoint": CREATE, "mode": "drop_after_commit", "count": 2})
    stuck = lose_the_answer(alice, "Its account's tokens cannot be read any more")
    fine = lose_the_answer(bob, "Found all the same")
    # A new key comes in and Bob's tokens are re-encrypted with it; the old
    # key, Alice's, is then taken out: her row can no longer be used to ask X
    # anything.
    new_key = Fernet.generate_key().decode()
    settings.TOKEN_ENCRYPTION_KEYS = [new_key, *settings.TOKEN_ENCRYPTION_KEYS]
    type(bob).objects.get(pk=bob.pk).save()
    settings.TOKEN_ENCRYPTION_KEYS = [new_key]
    due = max(stuck.next_attempt_at, fine.next_attempt_at)

    outcome = publisher.reconcile_unknown_posts(now=due)

    assert outcome["published"] == 1
    assert Post.objects.get(pk=fine.pk).status == Post.Status.PUBLISHED
    assert Post.objects.get(pk=stuck.pk).status == Post.Status.UNKNOWN
    assert type(alice).objects.get(pk=alice.pk).status == type(alice).Status.NEEDS_REAUTH


def test_gateway_is_the_x_that_the_sandbox_answers(sandbox, owner):
    """The matching above is against what X really stores: the sandbox's
    rendering of a bare domain is a t.co link."""
    account = link_with_minted_tokens(sandbox, owner, "alice_bot")
    gateway.create_post(account, text="Plain example.com/notes")
    (on_x,) = sandbox_posts(sandbox, username="alice_bot")
    assert "example.com/notes" not in on_x["text"] and "https://t.co/" in on_x["text"]
