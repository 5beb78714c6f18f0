"""Posts published per quarter of an hour and workspace: the rollup the
dashboard's chart reads, so that its 30 days cost the same at a thousand posts
or at a million.

``record_published`` adds a batch of posts to their workspaces' quarter in the
transaction that marks them published (``bots.posting.transitions`` calls it,
and nothing else does), so the tally and the posts never disagree.
``recount`` counts the quarters that have ended again from the posts
themselves, a period at a time: the migration that made the tally fills it so,
and so does anything that writes published posts without the state machine
(the benchmark's bulk load).

A quarter's row is shared by every worker publishing for the workspace in
that quarter. A worker locks it from its ``INSERT … ON CONFLICT`` until its
transaction commits, and the transaction commits right after: the wait is a
statement's length, not a request to X's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta, tzinfo

from django.db import connections
from django.db.models import Count, F, Min, QuerySet, Sum
from django.db.models.functions import ExtractMinute, TruncDate, TruncHour

from accounts.models import Workspace
from bots.posting.models import Post, PublishedTally

QUARTER = timedelta(minutes=15)
# How much of the posts' history ``recount`` reads at a time.
RECOUNT_PERIOD = timedelta(days=7)


def quarter_of(at: datetime) -> datetime:
    """The first instant, in UTC, of the quarter of an hour ``at`` is in."""
    at = at.astimezone(UTC)
    return at.replace(minute=at.minute - at.minute % 15, second=0, microsecond=0)


def record_published(post_ids: Iterable[int], *, at: datetime) -> None:
    """Add the posts (just marked published at ``at``) to their workspaces'
    quarter. The workspaces' rows are written in their ids' order, so that two
    batches spanning the same workspaces never wait on each other in a circle."""
    post_ids = list(post_ids)
    if not post_ids:
        return
    counted = (Post.objects.filter(pk__in=post_ids).order_by().values(workspace=F("account__workspace_id"))
               .annotate(posts=Count("*")))
    select, params = counted.query.sql_with_params()
    connection = connections[PublishedTally.objects.db]
    quote = connection.ops.quote_name
    table = quote(PublishedTally._meta.db_table)
    # The table's name is quoted and every value is bound. "WHERE true" keeps
    # SQLite from reading "ON CONFLICT" as part of the SELECT's join.
    sql = (
        f"INSERT INTO {table} (workspace_id, period_start, posts) "  # nosec B608
        f"SELECT counted.workspace, %s, counted.posts FROM ({select}) AS counted "
        "WHERE true ORDER BY counted.workspace "
        f"ON CONFLICT (workspace_id, period_start) DO UPDATE SET posts = {table}.posts + excluded.posts"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [connection.ops.adapt_datetimefield_value(quarter_of(at)), *params])


def published_per_day(workspaces: QuerySet[Workspace], *, first: date, zone: tzinfo) -> dict[date, int]:
    """Posts published by the ``workspaces`` on each day from ``first`` on,
    days as ``zone`` has them (a day without any is left out)."""
    start = datetime(first.year, first.month, first.day, tzinfo=zone)
    return dict(
        PublishedTally.objects.filter(workspace__in=workspaces, period_start__gte=start)
        .annotate(day=TruncDate("period_start", tzinfo=zone)).values("day").annotate(n=Sum("posts"))
        .values_list("day", "n")
    )


def recount(*, now: datetime, post_model: type[Post] = Post, tally_model: type[PublishedTally] = PublishedTally,
            period: timedelta = RECOUNT_PERIOD) -> int:
    """Count every quarter that ended by ``now`` again from the published
    posts, ``period`` of history at a time, each period in its own statements
    (a migration passes its own historical models). A quarter's count is
    replaced, not added to: run it again and nothing changes. The quarter
    ``now`` is in is left to ``record_published``, whose workers may be
    adding to it as this reads. Returns how many quarters it wrote."""
    closed = quarter_of(now)
    published = post_model.objects.filter(status="published", published_at__lt=closed)
    first = published.aggregate(first=Min("published_at"))["first"]
    if first is None:
        return 0
    written = 0
    start = quarter_of(first)
    while start < closed:
        end = min(start + period, closed)
        tally: Counter[tuple[int, datetime]] = Counter()
        # Minutes, not quarters, in the query: the same words on every
        # database; the quarters are added up here.
        for workspace_id, hour, minute, n in (
            published.filter(published_at__gte=start, published_at__lt=end).order_by()
            .values_list(F("account__workspace_id"), TruncHour("published_at", tzinfo=UTC),
                         ExtractMinute("published_at", tzinfo=UTC))
            .annotate(n=Count("*"))
        ):
            tally[(workspace_id, hour.replace(minute=int(minute) - int(minute) % 15))] += n
        tally_model.objects.bulk_create(
            [tally_model(workspace_id=workspace_id, period_start=quarter, posts=n)
             for (workspace_id, quarter), n in sorted(tally.items())],
            update_conflicts=True, unique_fields=["workspace", "period_start"], update_fields=["posts"],
            batch_size=1000,
        )
        written += len(tally)
        start = end
    return written
