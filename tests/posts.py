"""Posts that went out some time ago, taken through the state machine
(scheduled, claimed, sending, published) at the time they went out, exactly
as a worker takes them, so that everything the transitions keep alongside the
post (the dashboard's tally) is kept for these too."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from bots.posting import transitions
from bots.posting.models import Post


def published(account, text: str, *, at: datetime, url: str, price: str = "0.015") -> Post:
    post = Post.objects.create(account=account, text=text, status=Post.Status.SCHEDULED, scheduled_at=at)
    token = f"published-{post.pk}"
    assert transitions.claim([post.pk], token=token, lease_until=at, price=Decimal(price)) == 1
    assert transitions.send(post.pk, token=token, now=at)
    assert transitions.published(post.pk, token=token, x_id=url.rsplit("/", 1)[-1], url=url, now=at)
    post.refresh_from_db()
    return post
