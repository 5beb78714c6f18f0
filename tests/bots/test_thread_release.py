"""A thread's next part is released in the same transaction that records the
part before it as published. Found by the chaos run: PostgreSQL shut down
between the two statements left the first part published and the second
scheduled with no time, waiting for ever."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from bots.models import Post
from bots.posting import publisher, scheduler

from .conftest import link_with_minted_tokens, sandbox_posts, schedule


@contextmanager
def database_lost_when_releasing_a_part() -> Iterator[None]:
    """The database refuses the statement that gives a thread part its time,
    as a database shutting down after the statement before would."""
    table = connection.ops.quote_name(Post._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("CREATE FUNCTION test_database_lost() RETURNS trigger AS $$ BEGIN "
                           "RAISE EXCEPTION 'the database went away'; END $$ LANGUAGE plpgsql")
            cursor.execute(f"CREATE TRIGGER test_database_lost BEFORE UPDATE OF next_attempt_at ON {table} "
                           "FOR EACH ROW WHEN (NEW.parent_id IS NOT NULL) EXECUTE FUNCTION test_database_lost()")
        else:
            cursor.execute(f"CREATE TRIGGER test_database_lost BEFORE UPDATE OF next_attempt_at ON {table} "
                           "WHEN NEW.parent_id IS NOT NULL BEGIN SELECT RAISE(ABORT, 'the database went away'); END")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(f"DROP TRIGGER test_database_lost ON {table}")
                cursor.execute("DROP FUNCTION test_database_lost()")
            else:
                cursor.execute("DROP TRIGGER test_database_lost")


def test_a_part_published_without_releasing_the_next_is_not_recorded_and_is_reconciled(
    sandbox, owner, fast_publishing
):
    account = link_with_minted_tokens(sandbox, owner, "alice_bot")
    root = schedule(account, "Thread start", parts=("Thread end",))
    part = root.parts.get()
    assert scheduler.claim_post(post_id=root.pk)

    with database_lost_when_releasing_a_part(), pytest.raises(DatabaseError, match="the database went away"):
        publisher.publish_post(post_id=root.pk)

    (on_x,) = sandbox_posts(sandbox)
    assert on_x["submitted_text"] == "Thread start"
    # Neither half is recorded: the post is still being sent, as after a crash.
    assert Post.objects.get(pk=root.pk).status == Post.Status.SENDING
    assert Post.objects.get(pk=part.pk).next_attempt_at is None

    later = timezone.now() + timedelta(seconds=settings.POST_SENDING_STALE_SECONDS + 1)
    assert scheduler.sweep_stale_posts(now=later)["unknown"] == 1
    assert publisher.reconcile_unknown_posts(now=later)["published"] == 1

    root = Post.objects.get(pk=root.pk)
    assert (root.status, root.x_post_id) == (Post.Status.PUBLISHED, on_x["id"])
    part = Post.objects.get(pk=part.pk)
    assert part.status == Post.Status.SCHEDULED and part.next_attempt_at is not None
    assert len(sandbox_posts(sandbox)) == 1
