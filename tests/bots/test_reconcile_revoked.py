"""A post whose answer was lost, on an account revoked before the reconciler
could look for it, waits until the account is reconnected and is then found
on X, instead of failing while it is on X (found by the chaos run: a post
committed on X, then the account revoked, was reported failed)."""

from __future__ import annotations

from datetime import timedelta

import requests
from django.utils import timezone

from accounts.models import XAccount
from bots.models import Post
from bots.posting import publisher, scheduler

from .conftest import link_with_minted_tokens, sandbox_posts, schedule, set_faults

CREATE = "POST /2/tweets"


def reconnect(sandbox: str, account: XAccount) -> None:
    """New tokens from X and the account active again, as linking it again leaves it
    (the linking flow itself is tested in tests/accounts)."""
    minted = requests.post(f"{sandbox}/_sandbox/users/{account.x_user_id}/tokens", json={"oauth2": {}}, timeout=10)
    assert minted.status_code == 201, minted.text
    tokens = minted.json()["oauth2"]
    account.refresh_from_db()
    account.oauth2_access_token = tokens["access_token"]
    account.oauth2_refresh_token = tokens["refresh_token"]
    account.token_expires_at = timezone.now() + timedelta(seconds=tokens["expires_in"])
    account.status, account.status_reason = XAccount.Status.ACTIVE, ""
    account.save()


def test_a_lost_answer_on_a_revoked_account_waits_for_reconnecting_then_is_found(sandbox, owner, fast_publishing):
    account = link_with_minted_tokens(sandbox, owner, "alice_bot")
    set_faults(sandbox, {"endpoint": CREATE, "mode": "drop_after_commit", "count": 1})
    post = schedule(account, "On X, answer lost")
    assert scheduler.claim_post(post_id=post.pk)
    assert publisher.publish_post(post_id=post.pk) == "unknown"
    assert requests.post(f"{sandbox}/_sandbox/users/{account.x_user_id}/revoke", timeout=10).status_code == 200

    later = timezone.now() + timedelta(seconds=5)
    publisher.reconcile_unknown_posts(now=later)

    waiting = Post.objects.get(pk=post.pk)
    assert waiting.status == Post.Status.UNKNOWN
    assert waiting.last_error.startswith("Reconnect @alice_bot to find out whether X published this post")
    assert XAccount.objects.get(pk=account.pk).status == XAccount.Status.NEEDS_REAUTH
    # Held: the reconciler leaves it alone (and X unasked) until then.
    assert not any(publisher.reconcile_unknown_posts(now=later).values())

    reconnect(sandbox, account)
    assert publisher.reconcile_unknown_posts(now=later + timedelta(seconds=1))["published"] == 1

    (on_x,) = sandbox_posts(sandbox)
    found = Post.objects.get(pk=post.pk)
    assert (found.status, found.x_post_id) == (Post.Status.PUBLISHED, on_x["id"])
