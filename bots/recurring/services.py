"""Recurring bots: their schedules in beat, and what one run of a bot does.

Each bot has one django-celery-beat ``PeriodicTask`` named ``bot:<id>``
(outside the ``platform: `` names that ``install_schedules`` owns). The
services here create, change, enable, disable and delete it together with the
bot, in the same transaction, so beat never runs a schedule the database does
not hold.

A run belongs to a *slot*: the scheduled time it is for. Beat can fire a bot
twice for one slot (two beats, a restart before beat saved its progress, a
task Redis delivers again); ``BotRun`` is unique per bot and slot, and a run
finds the slot's row already there and does nothing.
"""

from __future__ import annotations

import json
import zoneinfo
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from datetime import timezone as dt_timezone
from typing import Any

from celery.schedules import crontab, crontab_parser
from cron_descriptor import (
    ExpressionDescriptor,
    FormatException,
    MissingFieldException,
    Options,
    WrongArgumentException,
)
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from accounts import access, audit
from accounts.models import XAccount
from bots.posting import services
from bots.posting.validation import validate_post
from bots.recurring import sources
from bots.recurring.models import Bot, BotRun
from bots.zones import local_instant

TASK = "bots.tasks.run_bot"

# How far a cron schedule is searched for its previous or next time: the rarest
# expression Celery accepts (29 February on a Monday) comes round every 28 years.
CRON_HORIZON_DAYS = 29 * 366

# The longest interval a bot may have. Beyond it the bot would wait past the
# dates the schedule can hold (and its fires' expiry, half an interval in
# seconds, past beat's column for it).
MAX_INTERVAL = timedelta(days=366)

# Beat and the worker may be on machines whose clocks differ a little: a fire
# that reaches the worker this much before its cron time still belongs to it.
CLOCK_SKEW = timedelta(seconds=2)

CRON_HELP = (
    "Five fields: minute hour day-of-month month day-of-week, in the bot's time zone. "
    "Examples: 0 9 * * 1-5 (09:00 Monday to Friday), */30 * * * * (every half hour), "
    "0 8,18 * * * (08:00 and 18:00). Sunday is 0; names like mon-fri work too."
)

# (name in messages, Celery's parser arguments, allowed values)
CRON_FIELDS = (
    ("minute", (60, 0), "0-59"),
    ("hour", (24, 0), "0-23"),
    ("day of month", (31, 1), "1-31"),
    ("month", (12, 1), "1-12 or jan-dec"),
    ("day of week", (7, 0), "0-6 with Sunday 0, or sun-sat"),
)


class BotError(Exception):
    """A bot that cannot be saved as it is: the messages, by the field they concern."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(message for messages in errors.values() for message in messages))
        self.errors = errors


@dataclass(frozen=True)
class Cron:
    """A parsed cron expression, with Celery's meaning (which beat applies):
    a day matches when its month, day of month and weekday all do."""

    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days_of_month: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # Sunday is 0

    @classmethod
    def parse(cls, expression: str) -> Cron:
        """The expression, or ValueError with a message that says what to fix."""
        fields = expression.split()
        if len(fields) != 5:
            raise ValueError(
                f"“{expression}” has {len(fields)} field{'s' if len(fields) != 1 else ''}; a cron expression "
                "has five: minute hour day-of-month month day-of-week, e.g. 0 9 * * 1-5."
            )
        for value, (name, parser_args, allowed) in zip(fields, CRON_FIELDS):
            try:
                crontab_parser(*parser_args).parse(value)
            except ValueError as error:
                raise ValueError(
                    f"The {name} “{value}” is not valid ({error}). Use {allowed}, a list (1,15), "
                    "a range (9-17), a step (*/15) or *."
                ) from None
        try:
            parsed = crontab(minute=fields[0], hour=fields[1], day_of_month=fields[2], month_of_year=fields[3],
                             day_of_week=fields[4])
        except ValueError as error:
            raise ValueError(f"“{expression}” never runs: {error}") from None
        return cls(
            expression=" ".join(fields),
            minutes=frozenset(parsed.minute),
            hours=frozenset(parsed.hour),
            days_of_month=frozenset(parsed.day_of_month),
            months=frozenset(parsed.month_of_year),
            weekdays=frozenset(parsed.day_of_week),
        )

    def runs_on(self, day: date) -> bool:
        return day.month in self.months and day.day in self.days_of_month and day.isoweekday() % 7 in self.weekdays

    def times_on(self, day: date, zone: tzinfo) -> list[datetime]:
        """The instants the expression names on a local day, in order.

        A time that does not exist that day (skipped by a spring-forward) is
        taken as the wall clock would show it after the jump (02:30 → 03:30);
        a time that happens twice (autumn) is taken the first time."""
        if not self.runs_on(day):
            return []
        return sorted(
            {local_instant(day, time(hour, minute), zone) for hour in self.hours for minute in self.minutes}
        )

    def previous(self, *, at: datetime, zone: tzinfo) -> datetime | None:
        """The latest time of the schedule at or before ``at``."""
        for day in _days(at.astimezone(zone).date(), step=-1):
            earlier = [instant for instant in self.times_on(day, zone) if instant <= at]
            if earlier:
                return earlier[-1]
        return None

    def following(self, *, after: datetime, zone: tzinfo) -> datetime | None:
        """The first time of the schedule after ``after``."""
        for day in _days(after.astimezone(zone).date(), step=1):
            later = [instant for instant in self.times_on(day, zone) if instant > after]
            if later:
                return later[0]
        return None


def _days(start: date, *, step: int) -> Iterator[date]:
    for offset in range(CRON_HORIZON_DAYS):
        yield start + timedelta(days=offset * step)


def describe_schedule(bot: Bot) -> str:
    """The schedule in words, e.g. "At 09:00, Monday through Friday (Europe/Paris)"."""
    if bot.schedule_kind == Bot.ScheduleKind.INTERVAL:
        if not bot.interval_every:
            return ""
        unit = bot.interval_unit.rstrip("s")
        return f"Every {unit}" if bot.interval_every == 1 else f"Every {bot.interval_every} {bot.interval_unit}"
    options = Options()
    options.use_24hour_time_format = True
    try:
        words = ExpressionDescriptor(bot.cron, options).get_description()
    except (FormatException, MissingFieldException, WrongArgumentException):
        words = bot.cron
    return f"{words} ({bot.timezone})"


# How many of a schedule's next runs its preview lists.
PREVIEW_RUNS = 5


@dataclass(frozen=True)
class SchedulePreview:
    """A schedule as the bot form shows it while it is filled in: in words,
    with its next runs (in the bot's zone), or what is wrong with it."""

    words: str
    runs: list[datetime]
    problems: list[str]


def schedule_preview(bot: Bot, *, now: datetime | None = None) -> SchedulePreview:
    """``bot``'s schedule (saved or not) in words and its next
    ``PREVIEW_RUNS`` runs from ``now``. An interval counts from ``now``, as
    beat counts from when it first sees the bot's task once it is saved."""
    now = now or timezone.now()
    errors = bot_check(bot)
    problems = [problem for field in ("schedule_kind", "cron", "interval_every", "timezone")
                for problem in errors.get(field, [])]
    if problems:
        return SchedulePreview(words="", runs=[], problems=problems)
    zone = _zone(bot.timezone)
    runs: list[datetime] = []
    if bot.schedule_kind == Bot.ScheduleKind.CRON:
        cron = Cron.parse(bot.cron)
        after = now
        while len(runs) < PREVIEW_RUNS and (after := cron.following(after=after, zone=zone)) is not None:
            runs.append(after)
    else:
        runs = [now + interval(bot) * n for n in range(1, PREVIEW_RUNS + 1)]
    return SchedulePreview(words=describe_schedule(bot), runs=[run.astimezone(zone) for run in runs], problems=[])


def schedule_preview_of(*, schedule_kind: str, cron: str, interval_every: int | None, interval_unit: str,
                        zone_name: str, now: datetime | None = None) -> SchedulePreview:
    """``schedule_preview`` of a schedule as a form has it, before any bot."""
    try:
        zone = _zone(zone_name)
    except ValueError as error:
        return SchedulePreview(words="", runs=[], problems=[str(error)])
    bot = Bot(schedule_kind=schedule_kind, cron=cron, interval_every=interval_every, interval_unit=interval_unit,
              timezone=zone, enabled=False)
    return schedule_preview(bot, now=now)


def interval(bot: Bot) -> timedelta:
    every = bot.interval_every or 0
    return timedelta(hours=every) if bot.interval_unit == Bot.IntervalUnit.HOURS else timedelta(minutes=every)


def _zone(value: Any) -> tzinfo:
    if isinstance(value, tzinfo):
        return value
    try:
        return zoneinfo.ZoneInfo(str(value))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"Unknown time zone “{value}”: use an IANA name such as Europe/Paris or America/New_York."
        ) from None


def bot_check(bot: Bot) -> dict[str, list[str]]:
    """Everything wrong with a bot's settings, by field; empty when it can be saved."""
    errors: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if bot.enabled and bot.account_id and XAccount.objects.filter(
            pk=bot.account_id, status=XAccount.Status.DISCONNECTED).exists():
        add("enabled", "The bot's account is unlinked: link it again before enabling the bot.")
    try:
        zone = _zone(bot.timezone)
    except ValueError as error:
        add("timezone", str(error))
        zone = dt_timezone.utc
    if bot.schedule_kind == Bot.ScheduleKind.CRON:
        if not bot.cron.strip():
            add("cron", f"Give a cron expression. {CRON_HELP}")
        else:
            try:
                cron = Cron.parse(bot.cron)
            except ValueError as error:
                add("cron", str(error))
            else:
                if cron.following(after=timezone.now(), zone=zone) is None:
                    add("cron", f"“{bot.cron}” never comes round: check the day of month against the month.")
    elif bot.schedule_kind == Bot.ScheduleKind.INTERVAL:
        if not bot.interval_every or bot.interval_every < 1:
            add("interval_every", "Say how often the bot posts: every 1 or more minutes or hours.")
        else:
            unit = timedelta(hours=1) if bot.interval_unit == Bot.IntervalUnit.HOURS else timedelta(minutes=1)
            longest = MAX_INTERVAL // unit
            if bot.interval_every > longest:
                add("interval_every", f"Every {bot.interval_every} {bot.interval_unit} is longer than a year: "
                                      f"give at most {longest} {bot.interval_unit}, or use a cron expression.")
    else:
        add("schedule_kind", f"Unknown schedule “{bot.schedule_kind}”: choose a cron expression or an interval.")

    source = sources.SOURCES.get(bot.source)
    if source is None:
        add("source", f"Unknown content source “{bot.source}”: choose a queue of items or a template.")
    else:
        source.check(bot, add, zone)
    return errors


def _may(by: Any, bot: Bot) -> None:
    """Bots are the workspace's admins' and owners' (``by`` None: the platform)."""
    if by is not None:
        access.require(by, access.MANAGE, bot)


def _record(by: Any, action: str, bot: Bot, detail: str = "") -> None:
    if by is not None:
        audit.record(actor=by, action=action, obj=bot, detail=detail)


def bot_save(*, bot: Bot, by: Any = None, changed: Sequence[str] = ()) -> Bot:
    """Save a new or changed bot and put its schedule in beat, or raise
    BotError; ``changed`` names the fields a person changed, for the audit trail."""
    return _save(bot, {}, by=by, changed=changed)


@transaction.atomic
def _save(bot: Bot, errors: dict[str, list[str]], *, by: Any = None, changed: Sequence[str] = ()) -> Bot:
    _may(by, bot)
    for field, messages in bot_check(bot).items():
        errors.setdefault(field, []).extend(messages)
    if errors:
        raise BotError(errors)
    if bot.enabled:
        bot.paused_reason = ""
    created = bot.pk is None
    bot.save()
    _sync_periodic_task(bot)
    if created:
        _record(by, audit.Action.CREATED, bot, describe_schedule(bot))
    else:
        _record(by, audit.Action.CHANGED, bot, ", ".join(Bot._meta.get_field(name).verbose_name for name in changed))
    return bot


def bot_create(*, account: XAccount, name: str, by: Any = None, **fields: Any) -> Bot:
    """A new bot (fields as on the model), with its schedule in beat."""
    return _assign_and_save(Bot(account=account, name=name), fields, by=by)


def bot_update(*, bot: Bot, by: Any = None, **fields: Any) -> Bot:
    return _assign_and_save(bot, fields, by=by)


def _assign_and_save(bot: Bot, fields: dict[str, Any], *, by: Any = None) -> Bot:
    errors: dict[str, list[str]] = {}
    for field, value in fields.items():
        if field == "timezone":
            # The field refuses an unknown zone as soon as it is assigned.
            try:
                value = _zone(value)
            except ValueError as error:
                errors["timezone"] = [str(error)]
                continue
        setattr(bot, field, value)
    return _save(bot, errors, by=by, changed=list(fields))


def bot_enable(*, bot: Bot, by: Any = None) -> Bot:
    return bot_update(bot=bot, enabled=True, by=by)


@transaction.atomic
def bot_disable(*, bot: Bot, reason: str = "", by: Any = None) -> Bot:
    _may(by, bot)
    bot.enabled = False
    bot.paused_reason = reason
    bot.save(update_fields=["enabled", "paused_reason"])
    _sync_periodic_task(bot)
    _record(by, audit.Action.CHANGED, bot, "disabled")
    return bot


@transaction.atomic
def bot_delete(*, bot: Bot, by: Any = None) -> None:
    _may(by, bot)
    # Recorded first: the trail keeps the bot's name once the row is gone.
    _record(by, audit.Action.DELETED, bot)
    # The post_delete receiver in bots.models deletes the PeriodicTask in this
    # transaction, as it does when an unlinked account takes its bots along.
    bot.delete()


def _crontab(cron: Cron, zone: tzinfo) -> CrontabSchedule:
    minute, hour, day_of_month, month_of_year, day_of_week = cron.expression.split()
    fields = {"minute": minute, "hour": hour, "day_of_month": day_of_month, "month_of_year": month_of_year,
              "day_of_week": day_of_week, "timezone": zone}
    # Neither schedule table has a uniqueness constraint; any matching row will do.
    return CrontabSchedule.objects.filter(**fields).order_by("pk").first() or CrontabSchedule.objects.create(**fields)


def _interval(bot: Bot) -> IntervalSchedule:
    period = IntervalSchedule.HOURS if bot.interval_unit == Bot.IntervalUnit.HOURS else IntervalSchedule.MINUTES
    existing = IntervalSchedule.objects.filter(every=bot.interval_every, period=period).order_by("pk").first()
    return existing or IntervalSchedule.objects.create(every=bot.interval_every, period=period)


def _sync_periodic_task(bot: Bot) -> PeriodicTask:
    is_cron = bot.schedule_kind == Bot.ScheduleKind.CRON
    wanted: dict[str, Any] = {
        "task": TASK,
        "crontab": _crontab(Cron.parse(bot.cron), _zone(bot.timezone)) if is_cron else None,
        "interval": None if is_cron else _interval(bot),
        "solar": None,
        "clocked": None,
        "args": "[]",
        "kwargs": json.dumps({"bot_id": bot.pk}),
        # A fire that waited in Redis longer than half an interval is dropped:
        # the next one is due soon, and running it late could take the next
        # fire's slot (see _slot_for).
        "expire_seconds": None if is_cron else max(1, int(interval(bot).total_seconds() // 2)),
        "one_off": False,
        "enabled": bot.enabled,
        "description": f"Recurring bot “{bot.name}” on @{bot.account.username}",
    }
    task = PeriodicTask.objects.filter(name=bot.task_name).first()
    if task is None:
        task = PeriodicTask.objects.create(name=bot.task_name, **wanted)
    else:
        schedule_changed = any(getattr(task, f"{field}_id") != getattr(wanted[field], "pk", None)
                               for field in ("crontab", "interval"))
        if schedule_changed or any(getattr(task, field) != value for field, value in wanted.items()):
            for field, value in wanted.items():
                setattr(task, field, value)
            if schedule_changed:
                # Beat measures a schedule from the last run: left as it is, a
                # new cron time that fell between that run and now would fire
                # at once, a post nobody planned.
                task.last_run_at = timezone.now()
            task.save()
    if bot.periodic_task_id != task.pk:
        bot.periodic_task = task
        bot.save(update_fields=["periodic_task"])
    return task


def next_run(bot: Bot, *, now: datetime | None = None) -> datetime | None:
    """When beat next fires the bot (None when it is disabled)."""
    if not bot.enabled:
        return None
    now = now or timezone.now()
    if bot.schedule_kind == Bot.ScheduleKind.CRON:
        try:
            return Cron.parse(bot.cron).following(after=now, zone=_zone(bot.timezone))
        except ValueError:
            return None
    task = bot.periodic_task
    if task is None:
        return None
    base = task.last_run_at or task.date_changed
    try:
        return max(base + interval(bot), now)
    except OverflowError:
        # A bot saved before intervals were capped, due after the last date there is.
        return None


@dataclass(frozen=True)
class RunResult:
    """What a run did: ``outcome`` is a BotRun outcome, or "duplicate" (the
    slot already ran), "disabled" or "gone" (nothing to run); ``message`` says
    it in words for the admin."""

    outcome: str
    message: str
    run: BotRun | None = None


def _slot_for(bot: Bot, now: datetime) -> datetime:
    """The scheduled time a fire at ``now`` is for.

    Cron: the schedule's latest time at or before now, so every fire for
    09:00 (however late) names 09:00. Interval: beat counts intervals from
    its own last send, so there is no fixed grid to round to; a fire within
    half an interval of the last scheduled run is that run's fire again,
    anything later is a new slot at its own time."""
    if bot.schedule_kind == Bot.ScheduleKind.CRON:
        slot = Cron.parse(bot.cron).previous(at=now + CLOCK_SKEW, zone=_zone(bot.timezone))
        if slot is not None:
            return slot
    last = bot.runs.filter(manual=False).order_by("-slot").values_list("slot", flat=True).first()
    if last is not None and now - last < interval(bot) / 2:
        return last
    return now.replace(microsecond=0)


def bot_run_now(*, bot: Bot, by: Any) -> RunResult:
    """A person's "Run now": the bot's next post at once, whatever its schedule."""
    _may(by, bot)
    result = run_bot(bot_id=bot.pk, manual=True)
    _record(by, audit.Action.RAN_NOW, bot, result.message)
    return result


def run_bot(*, bot_id: int, slot: datetime | None = None, manual: bool = False,
            now: datetime | None = None) -> RunResult:
    """One run of a bot: the next post from its source, handed to the
    publishing pipeline to go out now.

    ``slot`` is the scheduled time the run is for; without it, it is worked
    out from now (see _slot_for). A manual run (Run now) is its own slot."""
    now = now or timezone.now()
    if slot is not None and timezone.is_naive(slot):
        raise ValueError("run_bot: the slot must be an aware datetime (with its offset)")
    with transaction.atomic():
        # The bot's row lock makes runs of one bot take turns, so a second
        # fire sees the first one's run (and its counter, and its items).
        bot = Bot.objects.select_for_update(of=("self",)).select_related("account").filter(pk=bot_id).first()
        if bot is None:
            return RunResult("gone", f"Bot {bot_id} no longer exists.")
        if not bot.enabled and not manual:
            return RunResult("disabled", f"“{bot.name}” is disabled: nothing was posted.")
        if slot is None:
            slot = now if manual else _slot_for(bot, now)
        existing = BotRun.objects.filter(bot=bot, slot=slot).first()
        if existing is not None:
            return RunResult("duplicate", f"“{bot.name}” already ran for {slot:%Y-%m-%d %H:%M %Z}.", existing)

        account = bot.account
        if account.status != XAccount.Status.ACTIVE:
            if account.status == XAccount.Status.DISCONNECTED:
                note = f"Held: @{account.username} is unlinked, so nothing was posted. Link it again first."
            else:
                note = (f"Held: @{account.username} needs reconnecting, so nothing was posted. "
                        f"{account.status_reason}".strip())
            run = BotRun.objects.create(bot=bot, slot=slot, manual=manual, outcome=BotRun.Outcome.HELD, note=note)
            return RunResult(run.outcome, note, run)

        try:
            content = sources.SOURCES[bot.source].next_content(bot, slot, _zone(bot.timezone))
            problems = validate_post(text=content.text)
            if not problems.ok:
                reasons = " ".join(m for messages in problems.errors.values() for m in messages)
                raise sources.SourceStopped(
                    f"{content.origin} cannot be posted: {reasons} Fix it and enable the bot again.")
        except sources.SourceStopped as stopped:
            reason = str(stopped)
            bot_disable(bot=bot, reason=reason)
            run = BotRun.objects.create(bot=bot, slot=slot, manual=manual, outcome=BotRun.Outcome.PAUSED,
                                        note=reason)
            return RunResult(run.outcome, f"“{bot.name}” paused: {reason}", run)

        # The bot is the platform's (its admins set it up): its posts never
        # wait for approval.
        post = services.post_create(account=account, text=content.text, by=None, schedule=True, scheduled_at=now)
        content.used(now)
        Bot.objects.filter(pk=bot.pk).update(run_count=F("run_count") + 1)
        run = BotRun.objects.create(bot=bot, slot=slot, manual=manual, outcome=BotRun.Outcome.POSTED, post=post)
    return RunResult(run.outcome, f"“{bot.name}” posted “{content.text[:60]}” on @{account.username}.", run)
