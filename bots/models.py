"""What is posted when: posts, their thread parts and media."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from timezone_field import TimeZoneField

from accounts.models import XAccount, default_timezone


class Post(models.Model):
    """One post on X, or one part of a thread.

    The status follows DESIGN.md's state machine. ``next_attempt_at`` is when
    the dispatcher may claim the post: the scheduled time, a retry's time, or
    NULL for a thread part whose previous part is not published yet.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PENDING_APPROVAL = "pending_approval", "Pending approval"
        SCHEDULED = "scheduled", "Scheduled"
        CLAIMED = "claimed", "Claimed"
        SENDING = "sending", "Sending"
        PUBLISHED = "published", "Published"
        FAILED = "failed", "Failed"
        UNKNOWN = "unknown", "Checking on X"
        CANCELLED = "cancelled", "Cancelled"

    class ReplySettings(models.TextChoices):
        EVERYONE = "", "Everyone"
        FOLLOWING = "following", "Accounts the author follows"
        MENTIONED = "mentionedUsers", "Mentioned accounts only"
        SUBSCRIBERS = "subscribers", "Subscribers"
        VERIFIED = "verified", "Verified accounts"

    # Statuses a person may still cancel: nothing has been sent for them.
    CANCELLABLE = (Status.DRAFT, Status.PENDING_APPROVAL, Status.SCHEDULED, Status.CLAIMED)

    account = models.ForeignKey(XAccount, on_delete=models.CASCADE, related_name="posts")
    parent = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="parts",
        help_text="The thread's first post; empty for a post on its own or a thread's first post.",
    )
    position = models.PositiveSmallIntegerField(default=0, help_text="Order within the thread (0 is the first post).")
    text = models.TextField(blank=True)
    poll_options = models.JSONField(default=list, blank=True)
    poll_duration_minutes = models.PositiveIntegerField(null=True, blank=True)
    reply_settings = models.CharField(max_length=16, choices=ReplySettings.choices, blank=True, default="")
    scheduled_at = models.DateTimeField(null=True, blank=True)

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0, help_text="Failed attempts so far.")
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # Which claim the post is under: a worker that lost its lease cannot move
    # the post on, because the new claim carries another token.
    claim_token = models.CharField(max_length=32, blank=True, default="")
    sending_since = models.DateTimeField(null=True, blank=True)
    # The first attempt's move to sending: the reconciler looks for the post
    # on X from here, since any attempt since may be the one X applied.
    first_sent_at = models.DateTimeField(null=True, blank=True)
    # Set once any attempt may have reached X: a later 403 duplicate then means
    # "already posted", not "refused".
    maybe_sent = models.BooleanField(default=False)

    x_post_id = models.CharField("X post id", max_length=32, blank=True, default="")
    x_post_url = models.URLField("X post URL", max_length=300, blank=True, default="")
    published_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    # What X charges for this post, as estimated when it was claimed (prices
    # are settings and may change): the month's spend is the sum of these.
    x_price_usd = models.DecimalField("X price (USD)", max_digits=8, decimal_places=3, null=True, blank=True)

    # The last review of a post that waited for approval: who approved or
    # rejected it, when, and (rejected) why, for the author to read. Sending
    # it for approval again clears them. No database constraint or index on
    # the reviewer: nothing looks posts up by reviewer, and adding either to
    # a big table would lock it (the audit trail keeps who did what).
    review_note = models.TextField("reason for rejection", blank=True, default="")
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        db_constraint=False, db_index=False,
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-scheduled_at", "-pk"]
        indexes = [
            # The dispatcher's poll: WHERE status = 'scheduled' AND
            # next_attempt_at <= now ORDER BY next_attempt_at. Only due-able rows
            # are in it, so a tick costs the same with a million future posts.
            models.Index(
                fields=["next_attempt_at"], condition=Q(status="scheduled"), name="post_due_idx"
            ),
            # The sweeper and reconciler look at the few in-flight rows.
            models.Index(
                fields=["status", "lease_expires_at"],
                condition=Q(status__in=["claimed", "sending", "unknown"]),
                name="post_inflight_idx",
            ),
            # Budgets count what each account sent in the last 15 minutes and
            # what the whole app sent in the last 24 hours.
            models.Index(fields=["account", "sending_since"], name="post_account_sent_idx"),
            models.Index(fields=["sending_since"], name="post_sent_idx"),
            # The calendar reads a period of scheduled and published posts;
            # the dashboard counts each account's published posts per day.
            models.Index(fields=["scheduled_at"], name="post_scheduled_idx"),
            models.Index(fields=["account", "published_at"], name="post_account_published_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["parent", "position"], name="post_thread_position_unique"),
        ]

    def __str__(self) -> str:
        words = self.text[:40] + ("…" if len(self.text) > 40 else "")
        return f"@{self.account.username}: {words}" if self.account_id else words

    @property
    def thread_root(self) -> Post:
        return self.parent or self

    @property
    def is_held(self) -> bool:
        """Waiting on its account: a person must reconnect it."""
        return self.status == self.Status.SCHEDULED and self.account.status == XAccount.Status.NEEDS_REAUTH


def media_upload_to(instance: PostMedia, filename: str) -> str:
    """A random name (keeping the type's extension): a file's address cannot
    be guessed, and is served only to the post's workspace (bots.media_files)."""
    extension = Path(filename).suffix.lower()
    if not (extension[1:].isalnum() and extension.isascii() and len(extension) <= 6):
        extension = ""
    return f"posts/{timezone.now():%Y/%m}/{uuid.uuid4().hex}{extension}"


class PostMedia(models.Model):
    """An image, GIF or video attached to a post, stored through Django's storage
    API (local MEDIA_ROOT by default, S3 and the like by configuration)."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="media")
    file = models.FileField(upload_to=media_upload_to)
    content_type = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField(default=0)
    alt_text = models.CharField(max_length=1000, blank=True, default="")
    position = models.PositiveSmallIntegerField(default=0)
    x_media_id = models.CharField(max_length=32, blank=True, default="")
    # X keeps an upload for a limited time; past it the file is uploaded again.
    x_media_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["position", "pk"]
        verbose_name_plural = "media"

    def __str__(self) -> str:
        return self.file.name.rsplit("/", 1)[-1]

    @property
    def category(self) -> str:
        if self.content_type == "image/gif":
            return "tweet_gif"
        if self.content_type.startswith("video/"):
            return "tweet_video"
        return "tweet_image"


class Bot(models.Model):
    """An account's recurring poster: on its schedule, it makes the next post
    from its source (a queue of items or a template) and hands it to the
    publishing pipeline. Its schedule lives in beat as one PeriodicTask, kept
    in step with the bot by ``bots.recurring``."""

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


class PostingSlot(models.Model):
    """A weekly time at which the account's queue posts, in the account
    owner's time zone (the zone they schedule everything else in)."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0, "Monday"
        TUESDAY = 1, "Tuesday"
        WEDNESDAY = 2, "Wednesday"
        THURSDAY = 3, "Thursday"
        FRIDAY = 4, "Friday"
        SATURDAY = 5, "Saturday"
        SUNDAY = 6, "Sunday"

    account = models.ForeignKey(XAccount, on_delete=models.CASCADE, related_name="posting_slots")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    time = models.TimeField()

    class Meta:
        ordering = ["account", "weekday", "time"]
        constraints = [
            models.UniqueConstraint(fields=["account", "weekday", "time"], name="postingslot_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.time:%H:%M}"


class PostingQueue(XAccount):
    """An X account seen as its posting queue: its slots and the posts waiting
    for them."""

    class Meta:
        proxy = True
        verbose_name = "posting queue"


class AccountBudget(models.Model):
    """What an account may spend on X's pay-per-use posts in a calendar month
    (in the owner's time zone). The dispatcher holds the account's posts that
    would go over it. Pricing is the platform's concern, so the budget lives
    here rather than on the account."""

    account = models.OneToOneField(XAccount, on_delete=models.CASCADE, related_name="budget")
    monthly_budget_usd = models.DecimalField(
        "monthly budget (USD)", max_digits=10, decimal_places=2, null=True, blank=True,
        validators=[MinValueValidator(Decimal("0"), message="A budget cannot be negative: enter 0 or more, "
                                                            "or leave it empty for no budget.")],
        help_text="Leave empty for no budget. Posts that would take the month's estimated X spend over it are held "
                  "until next month or until the budget is raised.",
    )

    class Meta:
        verbose_name = "monthly budget"

    def __str__(self) -> str:
        amount = "no budget" if self.monthly_budget_usd is None else f"${self.monthly_budget_usd}"
        return f"@{self.account.username}: {amount}"


class PostCalendar(Post):
    """Posts seen as a calendar by week and month."""

    class Meta:
        proxy = True
        verbose_name = "calendar"
        verbose_name_plural = "calendar"


def import_upload_to(instance: ImportJob, filename: str) -> str:
    return f"imports/{timezone.now():%Y/%m}/{uuid.uuid4().hex}.csv"


class ImportJob(models.Model):
    """One CSV upload of posts, imported by a worker: all rows or none, with a
    report per row when any is refused."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for a worker"
        CHECKING = "checking", "Checking rows"
        CREATING = "creating", "Creating posts"
        DONE = "done", "Imported"
        REFUSED = "refused", "Refused: nothing imported"

    FINISHED = (Status.DONE, Status.REFUSED)

    file = models.FileField(upload_to=import_upload_to)
    file_name = models.CharField(max_length=255, blank=True, default="")
    time_zone = TimeZoneField(help_text="The zone of times given without an offset.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    created_posts = models.PositiveIntegerField(default=0)
    # [{"row": 3, "column": "text", "reason": "…"}]; row 1 is the header.
    report = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    # The workspace it imports into: its members see it, its accounts are the ones rows may name.
    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    # When a worker last moved the import on. One that has not moved for longer
    # than a task may run lost its worker, and the sweeper ends it.
    progressed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "CSV import"

    def __str__(self) -> str:
        return f"{self.file_name or 'CSV'} ({self.get_status_display().lower()})"

    @property
    def finished(self) -> bool:
        return self.status in self.FINISHED
