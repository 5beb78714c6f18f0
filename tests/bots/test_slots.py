"""Posting slots and the queue: "Add to queue" takes the account's next free
slot in the workspace's time zone, and re-ordering moves posts through the times."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from accounts.models import XAccount
from bots.models import Post, PostingSlot
from bots.planning import slots
from bots.planning.slots import QueueError

# Tuesday 2026-11-24, 12:00 UTC (13:00 in Paris).
TUESDAY_NOON = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
Weekday = PostingSlot.Weekday


@pytest.fixture
def account(db) -> XAccount:
    owner = get_user_model().objects.create_user("alice", "alice@example.com", "pw", timezone="Europe/Paris")
    account = XAccount.objects.create(owner=owner, workspace=owner.workspace,
                                      x_user_id="1001", username="alice_bot", auth_method="oauth2")
    PostingSlot.objects.create(account=account, weekday=Weekday.MONDAY, time=time(9, 0))
    PostingSlot.objects.create(account=account, weekday=Weekday.WEDNESDAY, time=time(13, 0))
    PostingSlot.objects.create(account=account, weekday=Weekday.WEDNESDAY, time=time(9, 0))
    return account


def draft(account: XAccount, text: str, **fields) -> Post:
    return Post.objects.create(account=account, text=text, **fields)


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo("Europe/Paris")).astimezone(UTC)


def test_drafts_take_the_next_free_slots_in_the_workspaces_zone(account):
    taken = [slots.queue_add(post=draft(account, f"Post {i}"), now=TUESDAY_NOON) for i in range(4)]

    assert taken == [paris(2026, 11, 25, 9), paris(2026, 11, 25, 13), paris(2026, 11, 30, 9), paris(2026, 12, 2, 9)]
    first = Post.objects.get(text="Post 0")
    assert first.status == Post.Status.SCHEDULED
    assert first.scheduled_at == first.next_attempt_at == paris(2026, 11, 25, 9)


def test_a_slot_is_taken_by_scheduled_claimed_or_sending_posts_only(account):
    for status, at in [(Post.Status.SCHEDULED, paris(2026, 11, 25, 9)), (Post.Status.SENDING, paris(2026, 11, 25, 13)),
                       (Post.Status.CANCELLED, paris(2026, 11, 30, 9)), (Post.Status.FAILED, paris(2026, 11, 30, 9))]:
        draft(account, f"Already {status}", status=status, scheduled_at=at)

    assert slots.queue_add(post=draft(account, "New"), now=TUESDAY_NOON) == paris(2026, 11, 30, 9)


def test_another_accounts_posts_do_not_take_this_accounts_slots(account):
    other = XAccount.objects.create(owner=account.owner, workspace=account.owner.workspace,
                                    x_user_id="1002", username="bob_news", auth_method="oauth2")
    draft(other, "Bob's", status=Post.Status.SCHEDULED, scheduled_at=paris(2026, 11, 25, 9))

    assert slots.queue_add(post=draft(account, "Alice's"), now=TUESDAY_NOON) == paris(2026, 11, 25, 9)


def test_slots_follow_the_workspaces_time_zone_not_the_linkers(account):
    # The person who linked the account moves to New York: the team's slots stay in Paris.
    account.owner.timezone = "America/New_York"
    account.owner.save()
    assert slots.queue_add(post=draft(account, "Still in Paris"), now=TUESDAY_NOON) == paris(2026, 11, 25, 9)

    account.workspace.time_zone = "America/New_York"
    account.workspace.save()
    account.refresh_from_db()

    taken = slots.queue_add(post=draft(account, "In New York"), now=TUESDAY_NOON)

    assert taken == datetime(2026, 11, 25, 14, 0, tzinfo=UTC)  # 09:00 EST


def test_a_thread_is_queued_whole_and_its_parts_wait_for_the_part_before(account):
    root = draft(account, "A thread 1/2")
    part = draft(account, "and 2/2", parent=root, position=1)

    slots.queue_add(post=part, now=TUESDAY_NOON)

    root.refresh_from_db()
    part.refresh_from_db()
    assert root.scheduled_at == part.scheduled_at == paris(2026, 11, 25, 9)
    assert part.status == Post.Status.SCHEDULED and part.next_attempt_at is None


def test_a_scheduled_post_added_again_moves_to_the_next_free_slot_without_taking_its_own(account):
    early = draft(account, "Early", status=Post.Status.SCHEDULED, scheduled_at=paris(2026, 11, 25, 13))

    assert slots.queue_add(post=early, now=TUESDAY_NOON) == paris(2026, 11, 25, 9)


@pytest.mark.parametrize("status", [Post.Status.PUBLISHED, Post.Status.SENDING, Post.Status.CANCELLED])
def test_only_drafts_and_scheduled_posts_can_be_queued(account, status):
    post = draft(account, "Not queueable", status=status)

    with pytest.raises(QueueError, match=f"is {Post.Status(status).label.lower()}: only a draft or a scheduled"):
        slots.queue_add(post=post, now=TUESDAY_NOON)

    post.refresh_from_db()
    assert post.status == status and post.scheduled_at is None


def test_a_post_x_would_refuse_is_not_queued(account):
    post = draft(account, "x" * 281)

    with pytest.raises(QueueError, match="cannot be queued: The text is 281 characters long .* the limit is 280"):
        slots.queue_add(post=post, now=TUESDAY_NOON)

    assert Post.objects.get(pk=post.pk).status == Post.Status.DRAFT


def test_an_account_without_slots_says_so(account):
    account.posting_slots.all().delete()

    with pytest.raises(QueueError, match="@alice_bot has no posting slots: add weekly times under Posting queues."):
        slots.queue_add(post=draft(account, "Nowhere to go"), now=TUESDAY_NOON)


def queue_texts(account: XAccount, now: datetime = TUESDAY_NOON) -> list[tuple[str, datetime]]:
    return [(p.text, p.scheduled_at) for p in slots.queued(account=account, now=now)]


def test_moving_a_post_up_or_down_swaps_it_with_its_neighbours_time(account):
    for text in ("A", "B", "C"):
        slots.queue_add(post=draft(account, text), now=TUESDAY_NOON)
    times = [at for _, at in queue_texts(account)]

    slots.queue_move(post=Post.objects.get(text="C"), direction="up", now=TUESDAY_NOON)
    assert queue_texts(account) == list(zip(["A", "C", "B"], times))

    slots.queue_move(post=Post.objects.get(text="A"), direction="down", now=TUESDAY_NOON)
    assert queue_texts(account) == list(zip(["C", "A", "B"], times))
    c = Post.objects.get(text="C")
    assert c.next_attempt_at == c.scheduled_at == times[0]


def test_a_moved_thread_takes_its_parts_along(account):
    slots.queue_add(post=draft(account, "Alone"), now=TUESDAY_NOON)
    root = draft(account, "Thread")
    part = draft(account, "part", parent=root, position=1)
    slots.queue_add(post=root, now=TUESDAY_NOON)

    slots.queue_move(post=root, direction="up", now=TUESDAY_NOON)

    part.refresh_from_db()
    assert part.scheduled_at == paris(2026, 11, 25, 9) and part.next_attempt_at is None


def test_the_ends_of_the_queue_and_posts_not_in_it_cannot_move(account):
    first = draft(account, "First")
    slots.queue_add(post=first, now=TUESDAY_NOON)
    slots.queue_add(post=draft(account, "Last"), now=TUESDAY_NOON)
    gone = draft(account, "Published", status=Post.Status.PUBLISHED)

    with pytest.raises(QueueError, match="already first in the queue"):
        slots.queue_move(post=first, direction="up", now=TUESDAY_NOON)
    with pytest.raises(QueueError, match="already last in the queue"):
        slots.queue_move(post=Post.objects.get(text="Last"), direction="down", now=TUESDAY_NOON)
    with pytest.raises(QueueError, match="is published, not waiting in the queue"):
        slots.queue_move(post=gone, direction="up", now=TUESDAY_NOON)
    with pytest.raises(QueueError, match="move it up or down"):
        slots.queue_move(post=first, direction="sideways", now=TUESDAY_NOON)


def test_a_post_claimed_for_sending_leaves_the_queue_and_keeps_its_time(account):
    first, second = draft(account, "First"), draft(account, "Second")
    for post in (first, second):
        slots.queue_add(post=post, now=TUESDAY_NOON)
    Post.objects.filter(pk=first.pk).update(status=Post.Status.CLAIMED)

    with pytest.raises(QueueError, match="already first in the queue"):
        slots.queue_move(post=second, direction="up", now=TUESDAY_NOON)

    assert Post.objects.get(pk=first.pk).scheduled_at == paris(2026, 11, 25, 9)


@pytest.mark.django_db(transaction=True)
def test_two_adds_at_once_take_two_different_slots():
    owner = get_user_model().objects.create_user("alice", "alice@example.com", "pw", timezone="Europe/Paris")
    account = XAccount.objects.create(owner=owner, workspace=owner.workspace,
                                      x_user_id="1001", username="alice_bot", auth_method="oauth2")
    PostingSlot.objects.create(account=account, weekday=Weekday.WEDNESDAY, time=time(9, 0))
    posts = [draft(account, f"Racer {i}") for i in range(4)]
    start = threading.Barrier(len(posts))
    taken: list[datetime] = []

    def add(post: Post) -> None:
        start.wait()
        try:
            taken.append(slots.queue_add(post=post, now=TUESDAY_NOON))
        finally:
            connection.close()

    threads = [threading.Thread(target=add, args=(post,)) for post in posts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(taken) == 4
    assert len(set(taken)) == 4
