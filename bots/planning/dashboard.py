"""The admin index's dashboard: how many posts wait for approval; per account
its status, next post, last published post, failures in the last 24 hours,
posts and estimated X spend this month against its budget; and posts per day
over the last 30 days.

A fixed number of queries however many accounts there are: per-account
figures come as annotations or grouped aggregates, never one query per account.
The accounts are shown a page at a time (those needing a person first, then by
handle), with the whole workspace's totals above them, so that the page costs
the same for 5 accounts or 5,000; the chart reads only its 30 days, from the
workspaces' tally of posts published per quarter of an hour (a few thousand
rows, however many posts went out).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal

from django.core.paginator import Page, Paginator
from django.db.models import Case, Count, IntegerField, OuterRef, QuerySet, Subquery, Value, When
from django.utils import timezone

from accounts.models import Workspace, XAccount
from bots.planning import costs
from bots.planning.models import AccountBudget
from bots.posting import tallies
from bots.posting.models import Post

Status = Post.Status
CHART_DAYS = 30
CHART_WIDTH, CHART_HEIGHT = 600, 120
# Room on the left for the count axis's labels, and above the highest bar.
CHART_LEFT, CHART_TOP = 28, 10
# Days whose date is written under the chart, a week apart back from today.
LABELLED_DAYS = frozenset(CHART_DAYS - 1 - 7 * week for week in range(1, 4))
# Accounts per page of the dashboard's table.
ACCOUNTS_PER_PAGE = 25


@dataclass(frozen=True)
class PostLine:
    pk: int
    text: str
    at: datetime | None
    url: str = ""


@dataclass(frozen=True)
class AccountSummary:
    account: XAccount
    next_post: PostLine | None
    last_published: PostLine | None
    failures_24h: int
    posts_this_month: int
    spend_this_month: Decimal
    budget: Decimal | None
    held_count: int
    held_reason: str

    @property
    def budget_left(self) -> Decimal | None:
        return None if self.budget is None else max(self.budget - self.spend_this_month, Decimal("0"))


@dataclass(frozen=True)
class Bar:
    day: date
    count: int
    x: float
    y: float
    height: float
    # The day's date is written under its bar.
    labelled: bool = False


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    peak: int
    total: int
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT
    left: int = CHART_LEFT
    top: int = CHART_TOP

    @property
    def bar_width(self) -> float:
        return (self.width - self.left) / CHART_DAYS - 2


@dataclass(frozen=True)
class Totals:
    """The whole workspace's figures, whichever page of accounts is shown."""

    accounts: int
    needs_reconnecting: int
    failures_24h: int
    # Threads waiting for an admin or owner to approve them.
    pending_approval: int


@dataclass(frozen=True)
class Dashboard:
    accounts: list[AccountSummary]
    chart: Chart
    totals: Totals
    # The page of accounts shown (Django's Page: its number, neighbours and range).
    page: Page


def dashboard_for(*, accounts: QuerySet[XAccount], workspaces: QuerySet[Workspace], zone: tzinfo,
                  now: datetime | None = None, page: int | str = 1) -> Dashboard:
    """The dashboard of the ``workspaces``, with the ``page``-th page of their
    ``accounts`` (a page out of range, or not a number, shows the nearest one)."""
    now = now or timezone.now()
    roots = Post.objects.filter(account=OuterRef("pk"), parent__isnull=True)
    next_post = roots.filter(status=Status.SCHEDULED, scheduled_at__gte=now).order_by("scheduled_at", "pk")
    last_published = roots.filter(status=Status.PUBLISHED).order_by("-published_at", "-pk")
    # Each account's next and last thread, read in the accounts' own query
    # for the page's accounts only, one index probe per value.
    ordered = accounts.select_related("workspace").annotate(
        needs_a_person=Case(When(status=XAccount.Status.ACTIVE, then=Value(1)), default=Value(0),
                            output_field=IntegerField()),
        next_post_id=Subquery(next_post.values("pk")[:1]),
        next_post_text=Subquery(next_post.values("text")[:1]),
        next_post_at=Subquery(next_post.values("scheduled_at")[:1]),
        last_published_id=Subquery(last_published.values("pk")[:1]),
        last_published_text=Subquery(last_published.values("text")[:1]),
        last_published_at=Subquery(last_published.values("published_at")[:1]),
        last_published_url=Subquery(last_published.values("x_post_url")[:1]),
    ).order_by("needs_a_person", "username", "pk")
    shown = Paginator(ordered, ACCOUNTS_PER_PAGE).get_page(page)
    rows = list(shown.object_list)
    ids = [account.pk for account in rows]
    # One read of the day's failed posts (through the status index), not one
    # per account of all its posts.
    failures = dict(
        Post.objects.filter(account_id__in=ids, status=Status.FAILED, updated_at__gte=now - timedelta(hours=24))
        .values("account_id").annotate(n=Count("pk")).values_list("account_id", "n")
    )
    budgets = dict(AccountBudget.objects.filter(account_id__in=ids).values_list("account_id", "monthly_budget_usd"))
    usage = costs.month_usage(
        month_starts={a.pk: costs.month_bounds(a.workspace.time_zone, now)[0] for a in rows}
    )
    held = costs.held_by_budget(ids)

    summaries = []
    for account in rows:
        count, spend = usage.get(account.pk, (0, Decimal("0")))
        held_count, held_reason = held.get(account.pk, (0, ""))
        summaries.append(AccountSummary(
            account=account,
            next_post=PostLine(account.next_post_id, account.next_post_text, account.next_post_at)
            if account.next_post_id else None,
            last_published=PostLine(account.last_published_id, account.last_published_text,
                                    account.last_published_at, account.last_published_url)
            if account.last_published_id else None,
            failures_24h=failures.get(account.pk, 0),
            posts_this_month=count,
            spend_this_month=spend,
            budget=budgets.get(account.pk),
            held_count=held_count,
            held_reason=held_reason,
        ))
    return Dashboard(accounts=summaries, chart=posts_per_day(workspaces=workspaces, zone=zone, now=now),
                     totals=totals_of(accounts, now=now, count=shown.paginator.count), page=shown)


def totals_of(accounts: QuerySet[XAccount], *, now: datetime, count: int) -> Totals:
    posts = Post.objects.filter(account__in=accounts.order_by().values("pk"))
    return Totals(
        accounts=count,
        needs_reconnecting=accounts.filter(status=XAccount.Status.NEEDS_REAUTH).count(),
        failures_24h=posts.filter(status=Status.FAILED, updated_at__gte=now - timedelta(hours=24)).count(),
        pending_approval=posts.filter(parent__isnull=True, status=Status.PENDING_APPROVAL).count(),
    )


def posts_per_day(*, workspaces: QuerySet[Workspace], zone: tzinfo, now: datetime) -> Chart:
    """The workspaces' published posts per day of the last 30 days (today included), in ``zone``."""
    first = now.astimezone(zone).date() - timedelta(days=CHART_DAYS - 1)
    counts = tallies.published_per_day(workspaces, first=first, zone=zone)
    peak = max(counts.values(), default=0)
    slot = (CHART_WIDTH - CHART_LEFT) / CHART_DAYS
    bars = []
    for n in range(CHART_DAYS):
        day = first + timedelta(days=n)
        count = counts.get(day, 0)
        height = (CHART_HEIGHT - CHART_TOP) * count / peak if peak else 0
        bars.append(Bar(day=day, count=count, x=CHART_LEFT + n * slot + 1, y=CHART_HEIGHT - height, height=height,
                        labelled=n in LABELLED_DAYS))
    return Chart(bars=bars, peak=peak, total=sum(counts.values()))
