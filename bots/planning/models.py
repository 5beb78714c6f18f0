"""What is posted when: posts, their thread parts and media."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from timezone_field import TimeZoneField

from accounts.models import XAccount
from bots.posting.models import Post


class PostingSlot(models.Model):
    """A weekly time at which the account's queue posts, in the time
    zone of the account's workspace."""

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
    (in the workspace's time zone). The dispatcher holds the account's posts that
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
