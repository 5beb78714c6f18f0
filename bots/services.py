"""What people do with posts, shared by the admin, the commands and importers:
schedule, cancel, retry, duplicate, publish now."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from .models import Post, PostMedia


class PostActionError(Exception):
    """An action that cannot apply to a post in its current state; the message says why."""


def _thread(post: Post) -> list[Post]:
    root = post.thread_root
    return [root, *root.parts.order_by("position")]


@transaction.atomic
def post_schedule(*, post: Post, at: datetime | None = None) -> Post:
    """Put a post (and its thread's later parts) in the queue for ``at``, its
    own ``scheduled_at``, or now. A time in the past means as soon as possible."""
    root = post.thread_root
    when = at or root.scheduled_at or timezone.now()
    Post.objects.filter(pk=root.pk).update(
        status=Post.Status.SCHEDULED, scheduled_at=when, next_attempt_at=when, attempts=0, last_error=""
    )
    # Later parts wait (no next_attempt_at) until the part before is published.
    root.parts.filter(status__in=[Post.Status.DRAFT, Post.Status.SCHEDULED, Post.Status.FAILED,
                                  Post.Status.CANCELLED]).update(
        status=Post.Status.SCHEDULED, scheduled_at=when, next_attempt_at=None, attempts=0, last_error=""
    )
    post.refresh_from_db()
    return post


def post_publish_now(*, post: Post) -> Post:
    if post.thread_root.status not in (Post.Status.DRAFT, Post.Status.SCHEDULED):
        raise PostActionError(f"Post {post.pk} is {post.thread_root.get_status_display().lower()}: only a draft or "
                              "scheduled post can be published now.")
    return post_schedule(post=post, at=timezone.now())


@transaction.atomic
def post_cancel(*, post: Post) -> int:
    """Cancel a post and the thread parts after it that are not sent yet."""
    if post.status not in Post.CANCELLABLE:
        raise PostActionError(
            f"Post {post.pk} is {post.get_status_display().lower()}: only posts not yet being sent can be cancelled."
        )
    ids = [p.pk for p in _thread(post) if p.position >= post.position]
    return Post.objects.filter(pk__in=ids, status__in=Post.CANCELLABLE).update(
        status=Post.Status.CANCELLED, next_attempt_at=None, claim_token="", lease_expires_at=None
    )


@transaction.atomic
def post_retry(*, post: Post) -> Post:
    """Send a failed or cancelled post again, now; later failed parts of its
    thread follow it. ``maybe_sent`` stays: if an earlier attempt reached X,
    X's "duplicate" answer is then reconciled instead of reported."""
    if post.status not in (Post.Status.FAILED, Post.Status.CANCELLED):
        raise PostActionError(
            f"Post {post.pk} is {post.get_status_display().lower()}: only failed or cancelled posts can be retried."
        )
    now = timezone.now()
    ready = not post.parent_id or _previous_published(post)
    Post.objects.filter(pk=post.pk).update(
        status=Post.Status.SCHEDULED, attempts=0, last_error="", next_attempt_at=now if ready else None,
    )
    Post.objects.filter(
        parent_id=post.parent_id or post.pk, position__gt=post.position,
        status__in=(Post.Status.FAILED, Post.Status.CANCELLED),
    ).update(status=Post.Status.SCHEDULED, attempts=0, last_error="", next_attempt_at=None)
    post.refresh_from_db()
    return post


def _previous_published(post: Post) -> bool:
    previous = post.parent if post.position <= 1 else post.parent.parts.filter(position=post.position - 1).first()
    return previous is not None and previous.status == Post.Status.PUBLISHED


@transaction.atomic
def post_duplicate(*, post: Post, by=None) -> Post:
    """A draft copy of a post (its whole thread, with media), to edit and schedule."""
    copies: dict[int, Post] = {}
    for original in _thread(post.thread_root):
        copy = Post.objects.create(
            account=original.account,
            parent=copies.get(original.parent_id) if original.parent_id else None,
            position=original.position,
            text=original.text,
            poll_options=original.poll_options,
            poll_duration_minutes=original.poll_duration_minutes,
            reply_settings=original.reply_settings,
            scheduled_at=original.scheduled_at,
            created_by=by or original.created_by,
        )
        copies[original.pk] = copy
        for media in original.media.all():
            PostMedia.objects.create(
                post=copy, file=media.file.name, content_type=media.content_type, size=media.size,
                alt_text=media.alt_text, position=media.position,
            )
    return copies[post.thread_root.pk]


@transaction.atomic
def post_make_draft(*, post: Post) -> int:
    """Take a thread out of the queue, back to draft, until it is scheduled
    again. Posts that are claimed, being sent, being checked on X or published
    keep their status: the state machine owns them."""
    ids = [p.pk for p in _thread(post)]
    return Post.objects.filter(
        pk__in=ids, status__in=(Post.Status.DRAFT, Post.Status.SCHEDULED, Post.Status.FAILED, Post.Status.CANCELLED)
    ).update(status=Post.Status.DRAFT, next_attempt_at=None, attempts=0, last_error="")
