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

from django.db.models import Case, Count, F, OuterRef, Q, QuerySet, Subquery, TextField, Value, When, Window
from django.db.models.functions import Coalesce, RowNumber, TruncDate
from django.urls import reverse
from django.utils import timezone

from accounts.models import XAccount
from bots.posting.models import Post, held_label
from bots.zones import local_instant

Status = Post.Status
View = Literal["week", "month"]
VIEWS: tuple[View, ...] = ("month", "week")
HELD = "held"

SHOWN = (Status.PENDING_APPROVAL, Status.SCHEDULED, Status.CLAIMED, Status.SENDING, Status.PUBLISHED, Status.FAILED,
         Status.UNKNOWN)
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
    start = local_instant(first, time(0), zone)
    end = local_instant(last + timedelta(days=1), time(0), zone)
    chosen = accounts.filter(pk=account.pk) if account is not None else accounts

    limit = PER_DAY[view]
    entries, counts = _entries(chosen, start, end, zone=zone, per_day=limit)
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


def _entries(accounts: QuerySet[XAccount], start: datetime, end: datetime, *, zone: tzinfo,
             per_day: int) -> tuple[list[Entry], dict[date, int]]:
    """The first ``per_day`` entries of each day between ``start`` and ``end``
    (days in ``zone``), and how many each day has in all. Only the entries
    shown are read whole: a month of a busy workspace holds tens of thousands."""
    at = Case(When(status=Status.PUBLISHED, then=F("published_at")), default=F("scheduled_at"))
    shown = (
        Post.objects.filter(parent__isnull=True, account__in=accounts, status__in=SHOWN)
        .filter(
            Q(status=Status.PUBLISHED, published_at__gte=start, published_at__lt=end)
            | (~Q(status=Status.PUBLISHED) & Q(scheduled_at__gte=start, scheduled_at__lt=end))
        )
        .annotate(at=at, day=TruncDate(at, tzinfo=zone))
        .order_by()
    )
    # One read of the period: each day's first entries, and with each the
    # day's number of entries.
    firsts = list(
        shown.annotate(rank=Window(RowNumber(), partition_by=[F("day")], order_by=[F("at").asc(), F("pk").asc()]),
                       on_day=Window(Count("pk"), partition_by=[F("day")]))
        .filter(rank__lte=per_day).values_list("pk", "day", "on_day")
    )
    per_day_counts = {day: on_day for _, day, on_day in firsts}
    first_unpublished_part = (
        Post.objects.filter(parent_id=OuterRef("pk")).exclude(status=Status.PUBLISHED).order_by("position")
    )
    parts = Post.objects.filter(parent_id=OuterRef("pk")).values("parent_id").annotate(n=Count("pk")).values("n")
    rows = (
        Post.objects.filter(pk__in=[pk for pk, _, _ in firsts])
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
    for pk, username, account_status, text, status, error, at, part_count in rows:
        key, label = status, labels[status]
        if status == Status.CLAIMED:
            key = Status.SENDING
        if status == Status.SCHEDULED and account_status != XAccount.Status.ACTIVE:
            key, label = HELD, held_label(username, account_status)
        entries.append(Entry(pk=pk, username=username, text=text, status=key, label=label, at=at,
                             parts=part_count, error=error))
    return entries, per_day_counts


def _day_in_post_list(day: date, account: XAccount | None) -> str:
    params = {"scheduled_at__year": day.year, "scheduled_at__month": day.month, "scheduled_at__day": day.day}
    if account is not None:
        params["account__id__exact"] = account.pk
    return f"{reverse('admin:bots_post_changelist')}?{urlencode(params)}"
