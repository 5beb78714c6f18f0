"""What is posted when: posts, their thread parts and media, and the tally of posts published."""

from __future__ import annotations

import uuid
from pathlib import Path

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import XAccount

# The calendar's threads that are placed on the day they are due: all but
# drafts, cancelled and published ones (a published thread is on the day it
# went out). Their index's condition is this very list.
WAITING = ("pending_approval", "scheduled", "claimed", "sending", "failed", "unknown")


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
            # The calendar reads a period of published posts by when they went out.
            models.Index(fields=["published_at"], name="post_published_idx"),
            # Published posts per day, counted from this index alone (time,
            # account, and whether a thread's first post): the dashboard's
            # chart of 30 days and the calendar's days.
            models.Index(fields=["published_at"], include=["account", "parent"], condition=Q(status="published"),
                         name="post_published_day_idx"),
            # The dashboard's last published thread of each account (the index
            # above also holds the not yet published, first in a newest-first read).
            models.Index(fields=["account", "published_at"], condition=Q(status="published", parent__isnull=True),
                         name="post_account_last_out_idx"),
            # The dashboard's posts held by a budget: scheduled posts with a reason.
            models.Index(fields=["account"], condition=Q(status="scheduled") & ~Q(last_error=""),
                         name="post_waiting_reason_idx"),
            # The post list, one row per thread, newest first: a deep page's
            # ids are read from this index alone (the account, for the
            # workspace, is in it too).
            models.Index(fields=["-scheduled_at", "-id"], include=["account"], condition=Q(parent__isnull=True),
                         name="post_thread_list_idx"),
            # The calendar's threads still to go out (or failed), by when
            # they are due, counted per day from this index alone.
            models.Index(fields=["scheduled_at"], include=["account", "status"],
                         condition=Q(parent__isnull=True, status__in=WAITING), name="post_waiting_thread_idx"),
            # The post list filtered by a status, in the list's own order
            # (newest first, the id breaking ties), so that PostgreSQL reads
            # the page straight from it (and not through the thread list's
            # index, past every thread of other statuses); the dashboard's
            # failures of the day.
            models.Index(fields=["status", "-scheduled_at", "-id"], include=["account"], name="post_status_list_idx"),
            # Each account's queue: its threads waiting to go out, in order
            # (the dashboard's next post, the queue pages and their counts).
            models.Index(fields=["account", "scheduled_at"], condition=Q(status="scheduled", parent__isnull=True),
                         name="post_account_queue_idx"),
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
        """Waiting on its account: a person must reconnect it, or link it again."""
        return self.status == self.Status.SCHEDULED and self.account.status != XAccount.Status.ACTIVE


def held_label(username: str, account_status: str) -> str:
    """What a scheduled post waiting on its account shows, in words."""
    if account_status == XAccount.Status.DISCONNECTED:
        return f"Held: @{username} is unlinked"
    return f"Held: reconnect @{username}"


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


class PublishedTally(models.Model):
    """How many posts a workspace published in one quarter of an hour (UTC).

    Kept as posts are published, in the transaction that marks them (see
    ``bots.posting.tallies``), so that the dashboard's chart reads a few
    thousand rows for its 30 days however many posts went out in them. Every
    time zone's day starts on a quarter hour, so the quarters add up to the
    days of whichever zone the chart is drawn in. A post deleted afterwards
    was still published: its quarter keeps it."""

    # The unique constraint's index, which starts with the workspace, serves
    # its foreign key too.
    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="+", db_index=False)
    # The quarter's first instant, in UTC.
    period_start = models.DateTimeField()
    posts = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "period_start"], name="publishedtally_once_per_quarter"),
        ]

    def __str__(self) -> str:
        return f"{self.posts} published from {self.period_start:%Y-%m-%d %H:%M} UTC"
