"""Recurring bots: their beat schedule follows them, each run makes the next
post from the bot's source through the publishing pipeline, and a slot is
posted once however often beat fires for it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django_celery_beat.models import PeriodicTask
from django_celery_beat.tzcrontab import TzAwareCrontab

from accounts.models import XAccount
from botplatform.schedules import install_schedules
from bots.models import Bot, BotItem, BotRun, Post
from bots.recurring import services as recurring
from bots.recurring.services import BotError, Cron
from bots.recurring.tasks import run_bot
from tests.foundation.helpers import wait_until

from .conftest import link_with_minted_tokens, published, sandbox_posts

NINE_ON_WEEKDAYS = {"schedule_kind": Bot.ScheduleKind.CRON, "cron": "0 9 * * 1-5", "timezone": "Europe/Paris"}
# A Wednesday, 10:15 in Paris: the weekday cron's latest time is 09:00 today.
WEDNESDAY = datetime(2026, 11, 25, 9, 15, tzinfo=UTC)


@pytest.fixture
def account(db) -> XAccount:
    alice = get_user_model().objects.create_user("alice", "alice@example.com", "pw", is_staff=True)
    return XAccount.objects.create(owner=alice, workspace=alice.workspace,
                                   x_user_id="1001", username="alice_bot", auth_method="oauth2")


def queue_bot(account: XAccount, *texts: str, **fields) -> Bot:
    bot = recurring.bot_create(account=account, name="Tips", source=Bot.Source.QUEUE,
                               **{**NINE_ON_WEEKDAYS, **fields})
    for position, text in enumerate(texts):
        BotItem.objects.create(bot=bot, text=text, position=position)
    return bot


def task_of(bot: Bot) -> PeriodicTask:
    return PeriodicTask.objects.get(name=f"bot:{bot.pk}")


# The bot's schedule in beat.


def test_a_new_bot_gets_its_cron_schedule_in_beat_in_its_time_zone(account):
    bot = queue_bot(account, "One")

    task = task_of(bot)
    assert task.task == "bots.tasks.run_bot"
    assert json.loads(task.kwargs) == {"bot_id": bot.pk}
    assert task.enabled and task.interval is None
    crontab = task.crontab
    assert (crontab.minute, crontab.hour, crontab.day_of_month, crontab.month_of_year, crontab.day_of_week) == (
        "0", "9", "*", "*", "1-5")
    assert str(crontab.timezone) == "Europe/Paris"
    assert bot.periodic_task == task
    assert recurring.describe_schedule(bot) == "At 09:00, Monday through Friday (Europe/Paris)"


def test_changing_the_schedule_updates_the_same_task(account):
    bot = queue_bot(account, "One")
    before = task_of(bot)

    recurring.bot_update(bot=bot, schedule_kind=Bot.ScheduleKind.INTERVAL, interval_every=2,
                         interval_unit=Bot.IntervalUnit.HOURS)

    after = task_of(bot)
    assert after.pk == before.pk
    assert after.crontab is None
    assert (after.interval.every, after.interval.period) == (2, "hours")
    # A fire that waited in Redis longer than half the interval is dropped.
    assert after.expire_seconds == 3600
    assert recurring.describe_schedule(bot) == "Every 2 hours"


def test_disabling_and_enabling_follow_in_beat_and_enabling_clears_a_pause(account):
    bot = queue_bot(account, "One")

    recurring.bot_disable(bot=bot, reason="The queue is empty.")
    assert not task_of(bot).enabled

    recurring.bot_enable(bot=bot)
    bot.refresh_from_db()
    assert task_of(bot).enabled
    assert bot.enabled and bot.paused_reason == ""


def test_deleting_a_bot_or_its_account_deletes_its_task(account):
    first = queue_bot(account, "One")
    second = queue_bot(account, "Two")

    recurring.bot_delete(bot=first)
    assert not PeriodicTask.objects.filter(name=f"bot:{first.pk}").exists()

    account.delete()
    assert not PeriodicTask.objects.filter(name=f"bot:{second.pk}").exists()


def test_installing_the_platform_schedule_leaves_bot_tasks_alone(account):
    bot = queue_bot(account, "One")

    install_schedules()

    assert task_of(bot).enabled


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"cron": "0 25 * * *"}, "cron", "The hour “25” is not valid"),
        ({"cron": "0 9 * *"}, "cron", "has 4 fields; a cron expression has five"),
        ({"cron": "0 9 31 2 *"}, "cron", "never runs"),
        ({"cron": "0 9 * * 7"}, "cron", "Use 0-6 with Sunday 0"),
        ({"cron": ""}, "cron", "Give a cron expression"),
        ({"schedule_kind": Bot.ScheduleKind.INTERVAL, "interval_every": None}, "interval_every", "how often"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone", "Unknown time zone “Mars/Olympus_Mons”"),
        ({"source": Bot.Source.TEMPLATE, "template": "Hello {name}"}, "template", "Unknown variable {name}"),
        ({"source": Bot.Source.TEMPLATE, "template": "{n:>5}"}, "template", "only {date} takes a format"),
        ({"source": Bot.Source.TEMPLATE, "template": "Hi {", "template_lists": ""}, "template", "braces"),
        ({"source": Bot.Source.TEMPLATE, "template": "{greeting}", "template_lists": "greeting Hello | Hi"},
         "template_lists", "Line 1: no colon"),
        ({"source": Bot.Source.TEMPLATE, "template": "{greeting}", "template_lists": "greeting: Hello || Hi"},
         "template_lists", "empty option"),
        ({"source": Bot.Source.TEMPLATE, "template": "{word}", "template_lists": f"word: short | {'x' * 281}"},
         "template", "checked with the longest option"),
    ],
)
def test_a_bot_that_cannot_run_is_refused_with_the_reason_and_nothing_is_saved(account, fields, field, words):
    with pytest.raises(BotError) as refused:
        recurring.bot_create(account=account, name="Broken", **{**NINE_ON_WEEKDAYS, **fields})

    assert any(words in message for message in refused.value.errors[field]), refused.value.errors
    assert not Bot.objects.exists()
    assert not PeriodicTask.objects.exists()


def test_cron_times_follow_the_bots_zone_across_daylight_saving():
    cron = Cron.parse("30 2 * * *")
    new_york = ZoneInfo("America/New_York")
    # 2027-03-14: clocks jump from 02:00 to 03:00, so 02:30 is read as 03:30 EDT.
    spring = cron.following(after=datetime(2027, 3, 14, 5, 0, tzinfo=UTC), zone=new_york)
    assert spring == datetime(2027, 3, 14, 7, 30, tzinfo=UTC)
    # 2026-11-01: 01:30 happens twice; the first one (EDT) is taken.
    autumn = Cron.parse("30 1 * * *").following(after=datetime(2026, 11, 1, 4, 0, tzinfo=UTC), zone=new_york)
    assert autumn == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    assert cron.previous(at=spring + timedelta(minutes=1), zone=new_york) == spring


class FrozenCrontab(TzAwareCrontab):
    """django-celery-beat's crontab, asked at a chosen moment instead of now."""

    at: datetime

    def nowfunc(self) -> datetime:
        return self.at.astimezone(self.tz)


@pytest.mark.parametrize(
    ("expression", "zone", "last_run", "expected"),
    [
        # Beat's own DST behaviour, which the slots must agree with: the
        # spring-gap 02:30 fires at 03:30 EDT, the autumn 01:30 once, at the first.
        ("30 2 * * *", "America/New_York", datetime(2027, 3, 13, 7, 30, tzinfo=UTC),
         datetime(2027, 3, 14, 7, 30, tzinfo=UTC)),
        ("30 1 * * *", "America/New_York", datetime(2026, 10, 31, 5, 30, tzinfo=UTC),
         datetime(2026, 11, 1, 5, 30, tzinfo=UTC)),
        ("0 9 * * 1-5", "Europe/Paris", datetime(2026, 11, 27, 8, 0, tzinfo=UTC),
         datetime(2026, 11, 30, 8, 0, tzinfo=UTC)),
    ],
)
def test_beat_fires_a_cron_bot_at_the_slot_the_run_names(expression, zone, last_run, expected):
    minute, hour, day_of_month, month, day_of_week = expression.split()
    beat_schedule = FrozenCrontab(minute=minute, hour=hour, day_of_month=day_of_month, month_of_year=month,
                                  day_of_week=day_of_week, tz=ZoneInfo(zone))
    fires = []
    moment = last_run + timedelta(minutes=1)
    while moment < expected + timedelta(hours=2):
        beat_schedule.at = moment
        if beat_schedule.is_due(last_run).is_due:
            fires.append(moment)
            last_run = moment
        moment += timedelta(minutes=1)

    assert fires == [expected]
    assert Cron.parse(expression).previous(at=fires[0] + recurring.CLOCK_SKEW, zone=ZoneInfo(zone)) == expected


def test_the_next_run_of_an_interval_bot_counts_from_beats_last_send(account):
    bot = queue_bot(account, "Tick", schedule_kind=Bot.ScheduleKind.INTERVAL, interval_every=15)
    task = task_of(bot)
    task.last_run_at = WEDNESDAY
    task.save()
    bot.refresh_from_db()

    assert recurring.next_run(bot, now=WEDNESDAY) == WEDNESDAY + timedelta(minutes=15)
    assert recurring.next_run(bot, now=WEDNESDAY + timedelta(hours=1)) == WEDNESDAY + timedelta(hours=1)
    recurring.bot_disable(bot=bot)
    assert recurring.next_run(bot) is None


# What a run does.


def texts(account: XAccount) -> list[str]:
    return list(Post.objects.filter(account=account).order_by("pk").values_list("text", flat=True))


def test_a_queue_is_posted_in_order_then_the_bot_pauses_with_the_reason(account):
    bot = queue_bot(account, "First tip", "Second tip")
    BotItem.objects.filter(text="First tip").update(position=5)

    outcomes = [recurring.run_bot(bot_id=bot.pk, now=WEDNESDAY + timedelta(days=day)).outcome for day in range(3)]

    assert outcomes == ["posted", "posted", "paused"]
    assert texts(account) == ["Second tip", "First tip"]
    bot.refresh_from_db()
    assert not bot.enabled
    assert bot.paused_reason.startswith("The queue is empty: all 2 items have been posted.")
    assert not task_of(bot).enabled
    assert BotRun.objects.get(outcome="paused").note == bot.paused_reason


def test_each_post_goes_into_the_publishing_pipeline_now(account):
    bot = queue_bot(account, "Into the queue")

    result = recurring.run_bot(bot_id=bot.pk, now=WEDNESDAY)

    post = result.run.post
    assert post.status == Post.Status.SCHEDULED
    assert post.next_attempt_at == post.scheduled_at == WEDNESDAY
    assert result.run.slot == datetime(2026, 11, 25, 8, 0, tzinfo=UTC)  # 09:00 in Paris


def test_a_cycled_queue_starts_again_from_the_top(account):
    bot = queue_bot(account, "A", "B", queue_mode=Bot.QueueMode.CYCLE)

    for day in range(5):
        recurring.run_bot(bot_id=bot.pk, now=WEDNESDAY + timedelta(days=day * 7))

    assert texts(account) == ["A", "B", "A", "B", "A"]


def test_a_template_fills_in_date_weekday_counter_and_list_choices(account):
    bot = recurring.bot_create(
        account=account, name="Greeter", source=Bot.Source.TEMPLATE,
        template="{greeting}! {weekday} {date:%d %B}, post {n} {{#{n}}}", template_lists="greeting: Hello | Hi",
        **NINE_ON_WEEKDAYS,
    )

    recurring.run_bot(bot_id=bot.pk, now=WEDNESDAY)
    recurring.run_bot(bot_id=bot.pk, now=WEDNESDAY + timedelta(days=1))

    first, second = texts(account)
    assert first.split("!")[0] in ("Hello", "Hi")
    assert first.endswith("! Wednesday 25 November, post 1 {#1}")
    assert second.endswith("! Thursday 26 November, post 2 {#2}")


def test_the_random_choice_is_the_same_for_a_repeated_slot(account):
    fields = {"source": Bot.Source.TEMPLATE, "template": "{word}",
              "template_lists": "word: " + " | ".join(f"w{i}" for i in range(50)), **NINE_ON_WEEKDAYS}
    one = recurring.bot_create(account=account, name="One", **fields)
    slot = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)

    recurring.run_bot(bot_id=one.pk, slot=slot, now=WEDNESDAY)
    picked = texts(account)[0]
    BotRun.objects.all().delete()
    Post.objects.all().delete()
    recurring.run_bot(bot_id=one.pk, slot=slot, now=WEDNESDAY)

    assert texts(account) == [picked]


def test_a_bot_on_an_account_that_needs_reconnecting_holds(account):
    bot = queue_bot(account, "Waits")
    account.mark_needs_reauth("X no longer accepts the tokens.")

    result = recurring.run_bot(bot_id=bot.pk, now=WEDNESDAY)

    assert result.outcome == "held"
    assert "needs reconnecting" in result.run.note and "X no longer accepts the tokens." in result.run.note
    assert not Post.objects.exists()
    bot.refresh_from_db()
    assert bot.enabled and bot.run_count == 0
    assert not BotItem.objects.filter(used_at__isnull=False).exists()


def test_a_fire_for_a_bot_disabled_meanwhile_does_nothing(account):
    bot = queue_bot(account, "Not now")
    recurring.bot_disable(bot=bot)

    assert recurring.run_bot(bot_id=bot.pk, now=WEDNESDAY).outcome == "disabled"
    assert recurring.run_bot(bot_id=bot.pk + 1000).outcome == "gone"
    assert not Post.objects.exists()


def test_a_cron_bot_fired_twice_for_one_slot_posts_once_however_late(account):
    bot = queue_bot(account, "Once", "Not yet")

    first = recurring.run_bot(bot_id=bot.pk, now=WEDNESDAY)
    again = recurring.run_bot(bot_id=bot.pk, now=WEDNESDAY + timedelta(hours=3))

    assert (first.outcome, again.outcome) == ("posted", "duplicate")
    assert again.run == first.run
    assert texts(account) == ["Once"]


def test_an_interval_bot_fired_twice_within_half_an_interval_posts_once(account):
    bot = queue_bot(account, "First", "Second", "Third", schedule_kind=Bot.ScheduleKind.INTERVAL,
                    interval_every=10, interval_unit=Bot.IntervalUnit.MINUTES)

    outcomes = [
        recurring.run_bot(bot_id=bot.pk, now=WEDNESDAY + timedelta(seconds=seconds)).outcome
        for seconds in (0, 3, 290, 600, 601)
    ]

    assert outcomes == ["posted", "duplicate", "duplicate", "posted", "duplicate"]
    assert texts(account) == ["First", "Second"]


def test_run_now_is_its_own_slot(account):
    bot = queue_bot(account, "Scheduled", "By hand")

    recurring.run_bot(bot_id=bot.pk, now=WEDNESDAY)
    manual = recurring.run_bot(bot_id=bot.pk, now=WEDNESDAY + timedelta(minutes=1), manual=True)

    assert manual.outcome == "posted" and manual.run.manual
    assert texts(account) == ["Scheduled", "By hand"]


# Through the real worker and the sandbox.


def test_the_task_delivered_twice_for_one_slot_publishes_one_post(pipeline, sandbox, owner, worker):
    account = link_with_minted_tokens(sandbox, owner, "alice_bot")
    bot = queue_bot(account, "Good morning, once", "Never twice")
    slot = datetime.now(UTC).replace(second=0, microsecond=0)

    run_bot.delay(bot_id=bot.pk, slot=slot.isoformat())
    run_bot.delay(bot_id=bot.pk, slot=slot.isoformat())

    wait_until(lambda: worker.consumer.controller.state.total_count.get(run_bot.name, 0) >= 2,
               what="both deliveries of run_bot running")
    run = BotRun.objects.get()
    assert run.slot == slot
    published(run.post)
    assert [p["text"] for p in sandbox_posts(sandbox, username="alice_bot")] == ["Good morning, once"]
    assert Post.objects.count() == 1


def test_beat_fires_an_interval_bot_and_its_post_is_published(pipeline, sandbox, owner):
    account = link_with_minted_tokens(sandbox, owner, "bob_news")
    bot = recurring.bot_create(
        account=account, name="News", source=Bot.Source.TEMPLATE, template="News bulletin number {n}",
        schedule_kind=Bot.ScheduleKind.INTERVAL, interval_every=1, interval_unit=Bot.IntervalUnit.HOURS,
    )
    # As if the last run was an hour ago: beat fires the bot at once (saving
    # the task tells beat to reload its schedule).
    task = task_of(bot)
    task.last_run_at = datetime.now(UTC) - timedelta(hours=1, seconds=5)
    task.save()

    wait_until(lambda: BotRun.objects.filter(bot=bot).exists(), seconds=20, what="beat firing the bot")
    post = published(BotRun.objects.get(bot=bot).post)

    assert post.text == "News bulletin number 1"
    assert [p["text"] for p in sandbox_posts(sandbox, username="bob_news")] == ["News bulletin number 1"]
