"""What is posted when: posts, their thread parts and media."""

from __future__ import annotations

from django.db import models
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from timezone_field import TimeZoneField

from accounts.models import XAccount, default_timezone
from bots.posting.models import Post


class Bot(models.Model):
    """An account's recurring poster: on its schedule, it makes the next post
    from its source (a queue of items or a template) and hands it to the
    publishing pipeline. Its schedule lives in beat as one PeriodicTask, kept
    in step with the bot by ``bots.recurring.services``."""

    class ScheduleKind(models.TextChoices):
        CRON = "cron", "Cron expression"
        INTERVAL = "interval", "Every N minutes or hours"

    class IntervalUnit(models.TextChoices):
        MINUTES = "minutes", "minutes"
        HOURS = "hours", "hours"

    class Source(models.TextChoices):
        QUEUE = "queue", "Queue of items"
        TEMPLATE = "template", "Template"

    class QueueMode(models.TextChoices):
        ONCE = "once", "Post each item once, then pause"
        CYCLE = "cycle", "Start again from the top when all are posted"

    account = models.ForeignKey(XAccount, on_delete=models.CASCADE, related_name="bots")
    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)
    enabled = models.BooleanField(default=True)
    paused_reason = models.TextField(
        blank=True, default="", help_text="Why the bot stopped itself; enabling it again clears this."
    )

    schedule_kind = models.CharField(
        "schedule", max_length=8, choices=ScheduleKind.choices, default=ScheduleKind.CRON
    )
    cron = models.CharField("cron expression", max_length=100, blank=True, default="")
    interval_every = models.PositiveIntegerField("every", null=True, blank=True)
    interval_unit = models.CharField(max_length=8, choices=IntervalUnit.choices, default=IntervalUnit.MINUTES)
    timezone = TimeZoneField(default=default_timezone, choices_display="WITH_GMT_OFFSET")

    source = models.CharField(max_length=8, choices=Source.choices, default=Source.QUEUE)
    queue_mode = models.CharField("when the queue is done", max_length=8, choices=QueueMode.choices,
                                  default=QueueMode.ONCE)
    template = models.TextField(blank=True, default="")
    template_lists = models.TextField("lists", blank=True, default="")

    # {n} in templates: how many posts the bot has made.
    run_count = models.PositiveIntegerField("posts made", default=0)
    periodic_task = models.OneToOneField(
        PeriodicTask, on_delete=models.SET_NULL, null=True, blank=True, editable=False, related_name="+"
    )

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name

    @property
    def task_name(self) -> str:
        return f"bot:{self.pk}"


@receiver(post_delete, sender=Bot)
def _delete_bot_schedule(sender: type[Bot], instance: Bot, **kwargs: object) -> None:
    # Also on a cascade (an account unlinked): a PeriodicTask left behind
    # would keep waking a worker for a bot that is gone.
    PeriodicTask.objects.filter(name=instance.task_name).delete()


class BotItem(models.Model):
    """One post in a bot's queue."""

    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="items")
    text = models.TextField()
    position = models.PositiveIntegerField(default=0)
    used_at = models.DateTimeField("last posted", null=True, blank=True)

    class Meta:
        ordering = ["position", "pk"]
        verbose_name = "queue item"

    def __str__(self) -> str:
        return self.text[:40] + ("…" if len(self.text) > 40 else "")


class BotRun(models.Model):
    """What one firing of a bot did. One per bot and slot: a second firing for
    the same slot (beat restarted, two beats, a redelivered task) finds this
    row and does nothing."""

    class Outcome(models.TextChoices):
        POSTED = "posted", "Posted"
        HELD = "held", "Held"
        PAUSED = "paused", "Paused"

    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="runs")
    slot = models.DateTimeField(help_text="The scheduled time this run is for.")
    manual = models.BooleanField(default=False, help_text="Started by a person (Run now), not by the schedule.")
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    note = models.TextField(blank=True, default="")
    post = models.ForeignKey(Post, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-slot", "-pk"]
        constraints = [models.UniqueConstraint(fields=["bot", "slot"], name="botrun_bot_slot_unique")]

    def __str__(self) -> str:
        return f"{self.bot} at {self.slot:%Y-%m-%d %H:%M}: {self.get_outcome_display()}"
