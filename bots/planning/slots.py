"""Posting slots: each account's weekly times, and its queue of posts waiting
for them (Buffer-style).

Slots are wall-clock times in the time zone of the account's workspace (set
on the workspace's page). On a day the clocks change:

- a slot inside the spring-forward gap (02:30 when 02:00 jumps to 03:00) is
  moved forward by the jump, to 03:30; if another slot is already at that
  instant, the two are one slot that day;
- a slot in the repeated autumn hour (01:30 happening twice) is taken the
  first time, before the clocks go back.

A slot is free when no scheduled, claimed or sending post of the account is
at that instant. Re-ordering the queue swaps the times of two neighbouring
posts, so the times stay where they were and the posts move through them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta, tzinfo
from typing import Any, Literal

from django.db import transaction
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import XAccount
from bots.planning.models import PostingSlot
from bots.posting import services
from bots.posting.models import Post
from bots.posting.validation import MediaSpec, validate_post
from bots.zones import local_instant

Status = Post.Status

# Posts that hold their instant: a slot with one of them is taken.
OCCUPYING = (Status.SCHEDULED, Status.CLAIMED, Status.SENDING)
# Posts that "Add to queue" may (re)schedule.
QUEUEABLE = (Status.DRAFT, Status.SCHEDULED)

SLOT_HELP = (
    "Weekly times in the workspace's time zone. On the night clocks go forward, a time that does not exist "
    "(02:30 when 02:00 jumps to 03:00) is moved forward by the jump, to 03:30; on the night they go back, a "
    "time that happens twice is taken the first time."
)


class QueueError(Exception):
    """A queue action that cannot be done; the message says why and what to do."""


def account_zone(account: XAccount) -> tzinfo:
    return account.workspace.time_zone


def free_slots(*, account: XAccount, after: datetime | None = None, ignore: Post | None = None,
               slots: Iterable[PostingSlot] | None = None) -> Iterator[datetime]:
    """The account's free slot instants after ``after`` (default now), in
    order, without end. Each one yielded counts as taken for the rest of the
    iteration, so taking n of them places n posts. ``ignore`` is a post whose
    own time does not count as taken (it is the one being placed). ``slots``
    are the account's slots when the caller has them already (a list page
    prefetches them for every row)."""
    after = after or timezone.now()
    slots = list(PostingSlot.objects.filter(account=account) if slots is None else slots)
    if not slots:
        raise QueueError(f"@{account.username} has no posting slots: add weekly times under Posting queues.")
    zone = account_zone(account)
    by_weekday: dict[int, list[PostingSlot]] = defaultdict(list)
    for slot in slots:
        by_weekday[slot.weekday].append(slot)
    taken_posts = Post.objects.filter(account=account, parent__isnull=True, status__in=OCCUPYING,
                                      scheduled_at__gt=after)
    if ignore is not None:
        taken_posts = taken_posts.exclude(pk=ignore.pk)
    taken = set(taken_posts.values_list("scheduled_at", flat=True))
    day = after.astimezone(zone).date()
    # Ends: every week has at least one slot, and finitely many are taken.
    while True:
        for instant in sorted({local_instant(day, slot.time, zone) for slot in by_weekday[day.weekday()]}):
            if instant > after and instant not in taken:
                taken.add(instant)
                yield instant
        day += timedelta(days=1)


def queued_count() -> Subquery:
    """How many posts wait in each account's queue, as an annotation of
    accounts (read through the queue index, one account at a time)."""
    waiting = queued(account=OuterRef("pk")).order_by().values("account").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(waiting), 0)


def queued(*, account: XAccount, now: datetime | None = None) -> QuerySet[Post]:
    """The account's queue: posts (thread roots) scheduled for later, in the order they go out."""
    return Post.objects.filter(
        account=account, parent__isnull=True, status=Status.SCHEDULED, scheduled_at__gt=now or timezone.now()
    ).order_by("scheduled_at", "pk")


def post_problems(root: Post) -> list[str]:
    """What X would refuse in a post and its thread parts, as sentences."""
    messages: list[str] = []
    for part in [root, *root.parts.order_by("position")]:
        media = [
            MediaSpec(name=m.file.name, content_type=m.content_type, size=m.size, alt_text=m.alt_text)
            for m in part.media.all()
        ]
        problems = validate_post(
            text=part.text, media=media, poll_options=part.poll_options,
            poll_duration_minutes=part.poll_duration_minutes, reply_settings=part.reply_settings,
            is_thread_part=part.parent_id is not None,
        )
        messages += [m for field_messages in problems.errors.values() for m in field_messages]
    return messages


def lock_queues(account_ids: Iterable[int]) -> None:
    """One queue change per account at a time: two "Add to queue" at once
    must not both take the same free slot. The lock (FOR NO KEY UPDATE, held
    until the transaction ends) leaves new posts for the accounts free to be
    created meanwhile."""
    list(XAccount.objects.select_for_update(no_key=True).filter(pk__in=account_ids).order_by("pk")
         .values_list("pk", flat=True))


def _lock_queue(account: XAccount) -> None:
    # Nothing is queued for an unlinked account.
    status = (XAccount.objects.select_for_update(no_key=True).filter(pk=account.pk)
              .values_list("status", flat=True).first())
    if status == XAccount.Status.DISCONNECTED:
        raise QueueError(f"@{account.username} is unlinked: link it again before changing its queue.")


@transaction.atomic
def queue_add(*, post: Post, by: Any = None, now: datetime | None = None) -> datetime:
    """Schedule a draft (or re-place a scheduled post) into the account's next
    free slot, with its thread; returns the slot's time. Where the workspace
    asks ``by`` for approval, the thread waits for it, with the slot's time."""
    now = now or timezone.now()
    _lock_queue(post.account)
    # Locked, a scheduled post cannot be claimed under us (the dispatcher skips
    # locked rows, or waits for SQLite's write lock).
    root = Post.objects.select_for_update(of=("self",)).select_related("account__workspace").get(pk=post.thread_root.pk)
    if root.status not in QUEUEABLE:
        raise QueueError(f"Post {root.pk} is {root.get_status_display().lower()}: only a draft or a scheduled "
                         "post can be added to the queue.")
    problems = post_problems(root)
    if problems:
        raise QueueError(f"Post {root.pk} cannot be queued: {' '.join(problems)}")
    at = next(free_slots(account=root.account, after=now, ignore=root))
    services.post_schedule(post=root, at=at, by=by)
    post.refresh_from_db()
    return at


@transaction.atomic
def queue_move(*, post: Post, direction: Literal["up", "down"], now: datetime | None = None) -> Post:
    """Move a queued post one place earlier ("up") or later ("down"): it and
    its neighbour swap times."""
    if direction not in ("up", "down"):
        raise QueueError(f"Cannot move a post “{direction}”: move it up or down.")
    _lock_queue(post.account)
    entries = list(queued(account=post.account, now=now).select_for_update())
    index = next((i for i, entry in enumerate(entries) if entry.pk == post.pk), None)
    if index is None:
        post.refresh_from_db()
        raise QueueError(f"Post {post.pk} is {post.get_status_display().lower()}, not waiting in the queue: "
                         "only scheduled posts still to come can be moved.")
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(entries):
        raise QueueError(f"Post {post.pk} is already {'first' if direction == 'up' else 'last'} in the queue.")
    mine, theirs = entries[index], entries[other]
    mine_at, theirs_at = mine.scheduled_at, theirs.scheduled_at
    if mine_at == theirs_at:
        raise QueueError(f"Posts {mine.pk} and {theirs.pk} are both scheduled for the same time: give one of them "
                         "another time to order them.")
    services.post_schedule(post=mine, at=theirs_at)
    services.post_schedule(post=theirs, at=mine_at)
    post.refresh_from_db()
    return post
