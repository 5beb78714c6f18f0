"""What people do with posts, shared by the admin, the commands and importers:
schedule, cancel, retry, duplicate, publish now."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from . import transitions
from .models import Post, PostMedia


class PostActionError(Exception):
    """An action that cannot apply to a post in its current state; the message says why."""


def _thread(post: Post) -> list[Post]:
    root = post.thread_root
    return [root, *root.parts.order_by("position")]


def _refused(post_id: int, action: str, allowed: str) -> PostActionError:
    """The refusal, in the words of the post's status as it is now in the
    database (the page the person acted from may show an older one)."""
    current = Post.objects.filter(pk=post_id).first()
    if current is None:
        return PostActionError(f"Post {post_id} no longer exists.")
    return PostActionError(
        f"Post {post_id} is {current.get_status_display().lower()}: only {allowed} can be {action}."
    )


def _schedule_thread(post: Post, *, at: datetime | None, transition: transitions.Transition, action: str,
                     allowed: str) -> Post:
    root = post.thread_root
    when = at or root.scheduled_at or timezone.now()
    # The statuses are checked by the UPDATE itself, not by the object in
    # memory: the page may be older than the worker's last move.
    if not transitions.schedule(root.pk, at=when, due=True, transition=transition):
        raise _refused(root.pk, action, allowed)
    transitions.schedule(root.parts.values_list("pk", flat=True), at=when, due=False, transition=transitions.SCHEDULE)
    post.refresh_from_db()
    return post


@transaction.atomic
def post_schedule(*, post: Post, at: datetime | None = None) -> Post:
    """Put a post (and its thread's later parts) in the queue for ``at``, its
    own ``scheduled_at``, or now. A time in the past means as soon as possible."""
    return _schedule_thread(post, at=at, transition=transitions.SCHEDULE, action="scheduled",
                            allowed="a draft, scheduled, failed or cancelled post")


@transaction.atomic
def post_publish_now(*, post: Post) -> Post:
    return _schedule_thread(post, at=timezone.now(), transition=transitions.PUBLISH_NOW, action="published now",
                            allowed="a draft or scheduled post")


@transaction.atomic
def post_cancel(*, post: Post) -> int:
    """Cancel a post and the thread parts after it that are not sent yet."""
    ids = [p.pk for p in _thread(post) if p.position >= post.position]
    if not transitions.cancel([post.pk]):
        raise _refused(post.pk, "cancelled", "posts not yet being sent")
    return 1 + transitions.cancel([pk for pk in ids if pk != post.pk])


@transaction.atomic
def post_retry(*, post: Post) -> Post:
    """Send a failed or cancelled post again, now; later failed parts of its
    thread follow it. ``maybe_sent`` stays: if an earlier attempt reached X,
    X's "duplicate" answer is then reconciled instead of reported."""
    ready = not post.parent_id or _previous_published(post)
    if not transitions.retry(post.pk, at=timezone.now() if ready else None):
        raise _refused(post.pk, "retried", "failed or cancelled posts")
    later = Post.objects.filter(parent_id=post.parent_id or post.pk, position__gt=post.position)
    transitions.retry(later.values_list("pk", flat=True), at=None)
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
    return transitions.make_draft([p.pk for p in _thread(post)])
