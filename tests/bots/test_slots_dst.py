"""Posting slots on the nights the clocks change: a slot inside the
spring-forward gap moves forward by the jump (02:30 → 03:30), and a slot in
the repeated autumn hour is taken the first time."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import islice
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model

from accounts.models import XAccount
from bots.models import Post, PostingSlot
from bots.planning import slots

SUNDAY = PostingSlot.Weekday.SUNDAY


def account_in(zone: str) -> XAccount:
    owner = get_user_model().objects.create_user("alice", "alice@example.com", "pw", timezone=zone)
    return XAccount.objects.create(owner=owner, workspace=owner.workspace,
                                   x_user_id="1001", username="alice_bot", auth_method="oauth2")


def add_slots(account: XAccount, *times: str, weekday: int = SUNDAY) -> None:
    for at in times:
        PostingSlot.objects.create(account=account, weekday=weekday, time=time.fromisoformat(at))


def queue_drafts(account: XAccount, count: int, *, now: datetime) -> list[datetime]:
    return [
        slots.queue_add(post=Post.objects.create(account=account, text=f"Post {i}"), now=now) for i in range(count)
    ]


def on_the_wall(instant: datetime, zone: str) -> str:
    local = instant.astimezone(ZoneInfo(zone))
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


@pytest.mark.django_db
def test_a_slot_in_the_spring_forward_gap_is_moved_forward_by_the_jump():
    # America/New_York, Sunday 2027-03-14: at 02:00 the clocks jump to 03:00.
    account = account_in("America/New_York")
    add_slots(account, "02:30")

    first, second = queue_drafts(account, 2, now=datetime(2027, 3, 13, 17, 0, tzinfo=UTC))

    assert first == datetime(2027, 3, 14, 7, 30, tzinfo=UTC)
    assert on_the_wall(first, "America/New_York") == "2027-03-14 03:30 EDT"
    # A week later 02:30 exists again.
    assert on_the_wall(second, "America/New_York") == "2027-03-21 02:30 EDT"


@pytest.mark.django_db
def test_a_gap_slot_and_the_slot_it_lands_on_are_one_slot_that_day():
    account = account_in("America/New_York")
    add_slots(account, "02:30", "03:30")

    taken = queue_drafts(account, 3, now=datetime(2027, 3, 13, 17, 0, tzinfo=UTC))

    assert [on_the_wall(t, "America/New_York") for t in taken] == [
        "2027-03-14 03:30 EDT",
        "2027-03-21 02:30 EDT",
        "2027-03-21 03:30 EDT",
    ]
    assert len(set(taken)) == 3


@pytest.mark.django_db
def test_a_slot_in_the_repeated_autumn_hour_is_taken_the_first_time():
    # America/New_York, Sunday 2026-11-01: 01:30 happens at 05:30 UTC (EDT)
    # and again at 06:30 UTC (EST).
    account = account_in("America/New_York")
    add_slots(account, "01:30")

    first, second = queue_drafts(account, 2, now=datetime(2026, 10, 31, 12, 0, tzinfo=UTC))

    assert first == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    assert on_the_wall(first, "America/New_York") == "2026-11-01 01:30 EDT"
    assert on_the_wall(second, "America/New_York") == "2026-11-08 01:30 EST"


@pytest.mark.django_db
def test_the_second_occurrence_of_the_repeated_hour_does_not_take_the_slot():
    account = account_in("America/New_York")
    add_slots(account, "01:30")
    second_occurrence = datetime(2026, 11, 1, 6, 30, tzinfo=UTC)
    Post.objects.create(account=account, text="At the second 01:30", status=Post.Status.SCHEDULED,
                        scheduled_at=second_occurrence, next_attempt_at=second_occurrence)

    (taken,) = queue_drafts(account, 1, now=datetime(2026, 10, 31, 12, 0, tzinfo=UTC))

    assert taken == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("zone", "day", "at", "expected_utc", "wall"),
    [
        ("Europe/London", date(2027, 3, 28), "01:30", datetime(2027, 3, 28, 1, 30, tzinfo=UTC), "02:30 BST"),
        ("Europe/London", date(2026, 10, 25), "01:30", datetime(2026, 10, 25, 0, 30, tzinfo=UTC), "01:30 BST"),
        # Lord Howe Island moves its clocks by half an hour: 02:15 moves by that much.
        ("Australia/Lord_Howe", date(2026, 10, 4), "02:15", datetime(2026, 10, 3, 15, 45, tzinfo=UTC), "02:45 +11"),
    ],
)
def test_other_zones_follow_the_same_rules(zone, day, at, expected_utc, wall):
    account = account_in(zone)
    add_slots(account, at, weekday=day.weekday())

    (taken,) = queue_drafts(account, 1, now=datetime.combine(day - timedelta(days=1), time(12), tzinfo=UTC))

    assert taken == expected_utc
    assert on_the_wall(taken, zone).endswith(wall)


@pytest.mark.django_db
def test_a_week_of_daily_slots_across_the_spring_change_is_one_post_a_day():
    account = account_in("America/New_York")
    for weekday in range(7):
        add_slots(account, "02:30", weekday=weekday)

    week = list(islice(slots.free_slots(account=account, after=datetime(2027, 3, 12, 12, 0, tzinfo=UTC)), 4))

    assert [on_the_wall(t, "America/New_York") for t in week] == [
        "2027-03-13 02:30 EST",
        "2027-03-14 03:30 EDT",
        "2027-03-15 02:30 EDT",
        "2027-03-16 02:30 EDT",
    ]
    assert [b - a for a, b in zip(week, week[1:])] == [timedelta(hours=24), timedelta(hours=23),
                                                        timedelta(hours=24)]
