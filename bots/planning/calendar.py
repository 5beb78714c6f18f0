"""The calendar: scheduled, published and failed posts, and those waiting for
approval, by week or month, across accounts, in the viewer's time zone (each
day starts at local midnight).

A thread is one entry, at its first post's time, with the status of the part
it is at (as in the post list). Drafts and cancelled posts have no place on
it, nor has a post waiting for approval without a time (it goes out as soon as
it is approved).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Literal
from urllib.parse import urlencode

from django.db import connection
from django.db.models import Case, Count, F, OuterRef, Q, QuerySet, Subquery, TextField, Value, When
from django.db.models.functions import Coalesce, TruncDate
from django.urls import reverse
from django.utils import timezone

from accounts.models import XAccount
from bots.posting.models import WAITING, Post, held_label
from bots.zones import local_instant

Status = Post.Status
View = Literal["week", "month"]
VIEWS: tuple[View, ...] = ("month", "week")
HELD = "held"

# (status key, legend label), in the order the legend shows them.
LEGEND = (
    (Status.PENDING_APPROVAL, "Pending approval"),
    (Status.SCHEDULED, "Scheduled"),
    (Status.SENDING, "Sending"),
    (Status.PUBLISHED, "Published"),
    (Status.FAILED, "Failed"),
    (Status.UNKNOWN, "Checking on X"),
    (HELD, "Held: account needs reconnecting or linking again"),
)
# Entries a day shows before "+ N more" (a link to the day in the post list).
PER_DAY = {"month": 6, "week": 40}
# The days the calendar opens on: the grid around each, the links a period
# either side and local midnights in any zone stay within the dates Python
# can hold (0001-01-01 to 9999-12-31).
FIRST_DAY, LAST_DAY = date(2, 1, 1), date(9998, 12, 31)


class CalendarError(Exception):
    """A calendar request that cannot be shown; the message says what to change."""


@dataclass(frozen=True)
class Entry:
    pk: int
    username: str
    text: str
    status: str
    label: str
    at: datetime
    parts: int
    error: str

    @property
    def url(self) -> str:
        return reverse("admin:bots_post_change", args=[self.pk])


@dataclass
class Day:
    day: date
    in_period: bool
    is_today: bool
    entries: list[Entry] = field(default_factory=list)
    more: int = 0
    more_url: str = ""


@dataclass
class Calendar:
    view: View
    anchor: date
    today: date
    zone: tzinfo
    weeks: list[list[Day]]
    title: str
    previous: date
    following: date

    @property
    def total(self) -> int:
        return sum(len(day.entries) + day.more for week in self.weeks for day in week)


def parse_view(value: str | None) -> View:
    if not value:
        return "month"
    if value not in VIEWS:
        raise CalendarError(f"There is no “{value}” view: choose month or week.")
    return value  # type: ignore[return-value]


def parse_day(value: str | None, *, today: date) -> date:
    if not value:
        return today
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise CalendarError(f"“{value}” is not a date: give one as YYYY-MM-DD, e.g. {today.isoformat()}.") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise CalendarError(f"{day.isoformat()} is beyond the calendar's reach: give a day from "
                            f"{FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}.")
    return day


def period(view: View, anchor: date) -> tuple[date, date, date, date]:
    """The grid's first and last day (whole weeks from Monday), and the days
    one period before and after ``anchor`` for the navigation."""
    if view == "week":
        first = anchor - timedelta(days=anchor.weekday())
        return first, first + timedelta(days=6), anchor - timedelta(days=7), anchor + timedelta(days=7)
    month_first = anchor.replace(day=1)
    next_month = (month_first + timedelta(days=32)).replace(day=1)
    month_last = next_month - timedelta(days=1)
    first = month_first - timedelta(days=month_first.weekday())
    last = month_last + timedelta(days=6 - month_last.weekday())
    previous = (month_first - timedelta(days=1)).replace(day=1)
    return first, last, previous, next_month


def calendar_build(
    *, accounts: QuerySet[XAccount], view: View, anchor: date, zone: tzinfo, account: XAccount | None = None,
    now: datetime | None = None,
) -> Calendar:
    """The calendar of ``accounts`` (or only ``account``) for the week or
    month around ``anchor``, in ``zone``."""
    today = (now or timezone.now()).astimezone(zone).date()
    first, last, previous, following = period(view, anchor)
    chosen = accounts.filter(pk=account.pk) if account is not None else accounts

    limit = PER_DAY[view]
    entries, counts = _entries(chosen, first, last, zone=zone, per_day=limit)
    by_day: dict[date, list[Entry]] = defaultdict(list)
    for entry in entries:
        by_day[timezone.localtime(entry.at, zone).date()].append(entry)

    weeks: list[list[Day]] = []
    day = first
    while day <= last:
        week = []
        for _ in range(7):
            listed = by_day.get(day, [])
            cell = Day(day=day, in_period=view == "week" or day.month == anchor.month, is_today=day == today,
                       entries=listed, more=max(0, counts.get(day, 0) - len(listed)))
            if cell.more:
                cell.more_url = _day_in_post_list(day, account)
            week.append(cell)
            day += timedelta(days=1)
        weeks.append(week)

    if view == "week":
        title = f"Week of {first:%a %d %b %Y}"
    else:
        title = f"{anchor:%B %Y}"
    return Calendar(view=view, anchor=anchor, today=today, zone=zone, weeks=weeks, title=title, previous=previous,
                    following=following)


def _entries(accounts: QuerySet[XAccount], first: date, last: date, *, zone: tzinfo,
             per_day: int) -> tuple[list[Entry], dict[date, int]]:
    """The first ``per_day`` entries of each day from ``first`` to ``last``
    (days in ``zone``), and how many each day has in all. Only the entries
    shown are read whole: a month of a busy workspace holds tens of thousands.

    A published thread is on the day it went out, any other on the day it is
    due. The days' counts of each kind come from indexes alone; then each day's
    first threads of a kind it has are an index read that stops after
    ``per_day`` (one query for the whole period)."""
    threads = Post.objects.filter(parent__isnull=True, account__in=accounts).order_by()
    published = threads.filter(status=Status.PUBLISHED)
    waiting = threads.filter(status__in=WAITING)
    start, end = local_instant(first, time(0), zone), local_instant(last + timedelta(days=1), time(0), zone)
    per_day_counts: dict[date, int] = defaultdict(int)
    earliest = []
    for kind, at_field in ((published, "published_at"), (waiting, "scheduled_at")):
        days = (kind.filter(**{f"{at_field}__gte": start, f"{at_field}__lt": end})
                .annotate(day=TruncDate(at_field, tzinfo=zone)).values("day").annotate(n=Count("*")))
        for day, n in days.values_list("day", "n"):
            per_day_counts[day] += n
            begin, until = local_instant(day, time(0), zone), local_instant(day + timedelta(days=1), time(0), zone)
            earliest.append(kind.filter(**{f"{at_field}__gte": begin, f"{at_field}__lt": until})
                            .order_by(at_field, "pk").values_list("pk", flat=True)[:per_day])
    if not earliest:
        return [], {}
    at = Case(When(status=Status.PUBLISHED, then=F("published_at")), default=F("scheduled_at"))
    first_unpublished_part = (
        Post.objects.filter(parent_id=OuterRef("pk")).exclude(status=Status.PUBLISHED).order_by("position")
    )
    parts = Post.objects.filter(parent_id=OuterRef("pk")).values("parent_id").annotate(n=Count("pk")).values("n")
    rows = (
        Post.objects.filter(pk__in=_all_of(earliest))
        .annotate(
            at=at,
            thread_status=Case(
                When(~Q(status=Status.PUBLISHED), then=F("status")),
                default=Coalesce(Subquery(first_unpublished_part.values("status")[:1]), Value(Status.PUBLISHED)),
            ),
            thread_error=Case(
                When(~Q(status=Status.PUBLISHED), then=F("last_error")),
                default=Coalesce(Subquery(first_unpublished_part.values("last_error")[:1]), Value("")),
                output_field=TextField(),
            ),
            part_count=Coalesce(Subquery(parts), Value(0)),
        )
        .order_by("at", "pk")
        .values_list("pk", "account__username", "account__status", "text", "thread_status", "thread_error", "at",
                     "part_count")
    )
    labels = dict(Status.choices)
    entries = []
    shown_on: dict[date, int] = defaultdict(int)
    for pk, username, account_status, text, status, error, at, part_count in rows:
        # Each day's first of either kind were read: the day's first of both.
        day = timezone.localtime(at, zone).date()
        shown_on[day] += 1
        if shown_on[day] > per_day:
            continue
        key, label = status, labels[status]
        if status == Status.CLAIMED:
            key = Status.SENDING
        if status == Status.SCHEDULED and account_status != XAccount.Status.ACTIVE:
            key, label = HELD, held_label(username, account_status)
        entries.append(Entry(pk=pk, username=username, text=text, status=key, label=label, at=at,
                             parts=part_count, error=error))
    return entries, dict(per_day_counts)


def _all_of(queries: list[QuerySet]) -> list[int]:
    """The ids the queries find: in one statement (UNION ALL) where the
    database takes a LIMIT in each part of one, else one query each (SQLite)."""
    if connection.features.supports_slicing_ordering_in_compound:
        return list(queries[0].union(*queries[1:], all=True))
    return [pk for query in queries for pk in query]


def _day_in_post_list(day: date, account: XAccount | None) -> str:
    params = {"scheduled_at__year": day.year, "scheduled_at__month": day.month, "scheduled_at__day": day.day}
    if account is not None:
        params["account__id__exact"] = account.pk
    return f"{reverse('admin:bots_post_changelist')}?{urlencode(params)}"
