"""The tally of posts published per quarter of an hour and workspace, which the
dashboard's chart reads: kept by the transitions that publish a post, in their
transaction, once per post whatever path published it; drawn in the viewer's
days, even in a zone whose day starts on a quarter hour; filled for the posts
published before it existed by its migration, a week at a time."""

from __future__ import annotations

import re
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from accounts.models import Workspace
from bots.models import Post, PublishedTally
from bots.posting import tallies, transitions
from tests import posts
from tests.bots.csv_support import account_of, client_for, staff
from tests.foundation.helpers import wait_until

from .conftest import link_with_minted_tokens, published, schedule

INDEX = "/admin/"


def tally_of(workspace) -> dict[datetime, int]:
    return dict(PublishedTally.objects.filter(workspace=workspace).values_list("period_start", "posts"))


def chart_bars(user) -> dict[str, int]:
    html = client_for(user).get(INDEX).content.decode()
    svg = html.split('<figure class="dashboard-chart">', 1)[1].split("</figure>", 1)[0]
    return {day: int(count) for day, count in re.findall(r'data-day="([\d-]+)" data-count="(\d+)"', svg)}


def sending(account, text: str, *, token: str) -> Post:
    """A post a worker has claimed and sent, waiting for X's answer to be recorded."""
    post = Post.objects.create(account=account, text=text, status=Post.Status.SCHEDULED, scheduled_at=timezone.now())
    assert transitions.claim([post.pk], token=token, lease_until=timezone.now() + timedelta(minutes=1),
                             price=Decimal("0.015")) == 1
    assert transitions.send(post.pk, token=token, now=timezone.now())
    return post


def test_posts_the_worker_publishes_are_counted_in_their_quarter(pipeline, sandbox, owner, settings):
    settings.PUBLISH_BATCH_SIZE = 4
    alice = link_with_minted_tokens(sandbox, owner, "alice_bot")
    bob = link_with_minted_tokens(sandbox, owner, "bob_news")
    # Six posts on their own (sent in batches) and a thread of three (each part on its own).
    burst = [schedule((alice, bob)[n % 2], f"Counted post {n}", in_seconds=2) for n in range(6)]
    thread = schedule(alice, "A counted thread 1/3", in_seconds=2, parts=("and 2/3", "and 3/3"))

    done = [published(post) for post in burst] + [published(post) for post in thread.parts.order_by("position")]
    done.append(Post.objects.get(pk=thread.pk))

    assert tally_of(owner.workspace) == dict(Counter(tallies.quarter_of(post.published_at) for post in done))
    today = timezone.localdate(timezone.now(), timezone=owner.timezone).isoformat()
    assert chart_bars(owner)[today] == 9


def test_a_post_is_counted_once_however_many_answers_say_it_went_out(db):
    lea = staff("lea", "Europe/Berlin")
    account = account_of(lea, "lea_news", "8001")
    post = sending(account, "Sent once, answered twice", token="first")
    sent_at = timezone.now()

    assert transitions.published(post.pk, token="first", x_id="1", url="https://x.com/lea_news/status/1", now=sent_at)
    # A second delivery of the same answer, and the reconciler finding it on X afterwards.
    assert not transitions.published(post.pk, token="first", x_id="1", url="https://x.com/lea_news/status/1",
                                     now=sent_at)
    assert not transitions.found(post.pk, x_id="1", url="https://x.com/lea_news/status/1", now=sent_at)
    assert transitions.published_many([(post.pk, "1", "https://x.com/lea_news/status/1")], token="first",
                                      now=sent_at) == []

    assert tally_of(lea.workspace) == {tallies.quarter_of(sent_at): 1}


def test_a_post_the_reconciler_finds_on_x_is_counted(db):
    lea = staff("lea", "UTC")
    account = account_of(lea, "lea_news", "8001")
    post = sending(account, "Lost answer", token="t")
    found_at = timezone.now()
    assert transitions.outcome_unknown(post.pk, token="t", check_at=found_at, reason="X did not answer")

    assert transitions.found(post.pk, x_id="7", url="https://x.com/lea_news/status/7", now=found_at)

    assert tally_of(lea.workspace) == {tallies.quarter_of(found_at): 1}


def test_the_days_are_the_viewers_even_where_a_day_starts_on_a_quarter_hour(db):
    # Kathmandu is 5 h 45 ahead of UTC: its midnight is at a quarter past the hour in UTC.
    lea = staff("lea", "Asia/Kathmandu")
    ben = staff("ben", "UTC")
    account = account_of(lea, "lea_news", "8001")
    ben.workspace = lea.workspace
    ben.save()
    lea.workspace.memberships.create(user=ben, role="viewer")
    kathmandu = timezone.localtime(timezone.now(), lea.timezone)
    midnight = (kathmandu - timedelta(days=2)).replace(hour=0, minute=0, second=0, microsecond=0)
    for n, at in enumerate((midnight - timedelta(minutes=1), midnight + timedelta(minutes=1))):
        posts.published(account, f"Around midnight {n}", at=at, url=f"https://x.com/lea_news/status/{n + 1}")

    in_kathmandu = chart_bars(lea)
    in_utc = chart_bars(ben)

    day = midnight.date()
    assert (in_kathmandu[(day - timedelta(days=1)).isoformat()], in_kathmandu[day.isoformat()]) == (1, 1)
    assert in_utc[midnight.astimezone(UTC).date().isoformat()] == 2
    assert sum(in_kathmandu.values()) == sum(in_utc.values()) == 2


def test_a_published_post_deleted_later_still_went_out_that_day(db):
    lea = staff("lea", "UTC")
    account = account_of(lea, "lea_news", "8001")
    post = posts.published(account, "Deleted afterwards", at=timezone.now(), url="https://x.com/lea_news/status/1")

    post.delete()

    assert chart_bars(lea)[timezone.localdate(timezone.now(), timezone=UTC).isoformat()] == 1


@pytest.mark.skipif(connection.vendor != "postgresql",
                    reason="SQLite lets one writer in at a time: two transactions never hold rows at once")
@pytest.mark.django_db(transaction=True)
def test_two_workers_publishing_in_the_same_quarter_both_count():
    lea = staff("lea", "UTC")
    account = account_of(lea, "lea_news", "8001")
    first, second = sending(account, "First", token="a"), sending(account, "Second", token="b")
    now = timezone.now()
    holding, done = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def first_worker() -> None:
        try:
            # Publishes and, before committing, holds the quarter's row.
            with transaction.atomic():
                assert transitions.published(first.pk, token="a", x_id="1", url="https://x.com/a/status/1", now=now)
                holding.set()
                assert done.wait(10)
        except BaseException as error:  # reported to the test below
            errors.append(error)
        finally:
            connection.close()

    def second_worker() -> None:
        try:
            assert transitions.published(second.pk, token="b", x_id="2", url="https://x.com/a/status/2", now=now)
        except BaseException as error:  # reported to the test below
            errors.append(error)
        finally:
            connection.close()

    one = threading.Thread(target=first_worker)
    one.start()
    assert holding.wait(10)
    two = threading.Thread(target=second_worker)
    two.start()
    # The second worker waits for the quarter's row the first one holds.
    with connection.cursor() as cursor:
        def waiting() -> bool:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                           "AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO %%publishedtally%%'")
            return cursor.fetchone()[0] == 1
            wait_until(waiting, seconds=10, what="the second worker waiting for the quarter's row")
    done.set()
    one.join(10)
    two.join(10)

    assert not errors, errors
    assert tally_of(lea.workspace) == {tallies.quarter_of(now): 2}


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_the_migration_counts_the_posts_published_before_the_tally(settings):
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    old = migrate([("bots", "0016_post_status_list_idx"), *(leaf for leaf in latest if leaf[0] != "bots")])
    User = old.get_model("accounts", "User")
    Workspace_ = old.get_model("accounts", "Workspace")
    XAccount = old.get_model("accounts", "XAccount")
    OldPost = old.get_model("bots", "Post")
    person = User.objects.create(username="ada", is_staff=True)
    workspaces = [Workspace_.objects.create(name=f"Team {n}", time_zone="UTC") for n in range(2)]
    accounts = [XAccount.objects.create(owner=person, workspace=workspaces[n % 2], x_user_id=str(n),
                                        username=f"account_{n}", auth_method="oauth2") for n in range(3)]
    now = timezone.now()
    expected: Counter[tuple[int, datetime]] = Counter()
    # Three weeks and more of history (more than one of the migration's
    # periods), several posts in some quarters, thread parts among them.
    for n in range(60):
        at = now - timedelta(days=25) + timedelta(hours=9 * n, minutes=7 * (n % 3))
        account = accounts[n % 3]
        root = OldPost.objects.create(account=account, text=f"Post {n}", status="published", scheduled_at=at,
                                      published_at=at, x_post_id=str(n))
        expected[(account.workspace_id, tallies.quarter_of(at))] += 1
        if n % 10 == 0:
            OldPost.objects.create(account=account, parent=root, position=1, text=f"Part of {n}", status="published",
                                   scheduled_at=at, published_at=at + timedelta(seconds=5), x_post_id=f"{n}-1")
            expected[(account.workspace_id, tallies.quarter_of(at + timedelta(seconds=5)))] += 1
    # Not published: not counted.
    OldPost.objects.create(account=accounts[0], text="Waiting", status="scheduled", scheduled_at=now + timedelta(days=1))
    OldPost.objects.create(account=accounts[0], text="Refused", status="failed", scheduled_at=now - timedelta(days=1))

    migrate(latest)

    counted = Counter({(row.workspace_id, row.period_start): row.posts for row in PublishedTally.objects.all()})
    assert counted == expected
    assert sum(counted.values()) == 66
    assert set(Workspace.objects.filter(pk__in=[w for w, _ in counted]).values_list("name", flat=True)) == {
        "Team 0", "Team 1"}
    # Counting again changes nothing.
    tallies.recount(now=timezone.now())
    assert Counter({(row.workspace_id, row.period_start): row.posts for row in PublishedTally.objects.all()}) == (
        expected)


def test_a_recount_leaves_the_quarter_it_runs_in_to_the_workers(db):
    lea = staff("lea", "UTC")
    account = account_of(lea, "lea_news", "8001")
    running_at = datetime(2026, 11, 30, 12, 20, tzinfo=UTC)
    before = posts.published(account, "In a quarter that has ended", at=running_at - timedelta(minutes=6),
                             url="https://x.com/lea_news/status/1")
    posts.published(account, "In the quarter the recount runs in", at=running_at - timedelta(minutes=4),
                    url="https://x.com/lea_news/status/2")
    PublishedTally.objects.update(posts=0)

    assert tallies.recount(now=running_at) == 1

    assert tally_of(lea.workspace) == {
        tallies.quarter_of(before.published_at): 1, datetime(2026, 11, 30, 12, 15, tzinfo=UTC): 0}
