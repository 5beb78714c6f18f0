"""Publishing one claimed post, and finding out what happened to a post whose
answer from X was lost.

Every transition is a conditional UPDATE on the status (and the claim token),
so a second delivery of the same task, a late worker or a sweeper running at
the same moment can never move a post twice. ``sending`` is committed before
the request to X, so a crash after it never re-sends blindly.
"""

from __future__ import annotations

import html
import logging
import random
import re
import unicodedata
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from accounts import gateway
from accounts.gateway import XError, XErrorKind
from accounts.models import XAccount
from accounts.x_hosts import post_url

from .models import Post, PostMedia

log = logging.getLogger(__name__)

# X keeps an uploaded file for a day; re-upload a little before that.
MEDIA_REUSE = timedelta(hours=20)
# X's clock and ours may differ a little when matching a lost post by time.
CLOCK_SKEW = timedelta(seconds=30)


def publish_post(*, post_id: int) -> str:
    """Publish a claimed post; returns what happened, in a word, for the log."""
    # Whether the post has media comes with the post: most have none, and two
    # media queries per post were a fifth of a burst's database round trips.
    post = (
        Post.objects.select_related("account")
        .annotate(has_media=Exists(PostMedia.objects.filter(post=OuterRef("pk"))))
        .filter(pk=post_id)
        .first()
    )
    if post is None or post.status != Post.Status.CLAIMED:
        # A second delivery, or a claim the sweeper already handed back.
        return "skipped"
    if post.account.status == XAccount.Status.NEEDS_REAUTH:
        # Claimed just before another post found the account's tokens dead:
        # held with the account's other posts until it is reconnected.
        Post.objects.filter(pk=post.pk, claim_token=post.claim_token, status=Post.Status.CLAIMED).update(
            status=Post.Status.SCHEDULED, claim_token="", lease_expires_at=None
        )
        return "held"
    try:
        wait = _prepare_media(post) if post.has_media else None
    except XError as error:
        return _after_error(post, error, may_have_sent=post.maybe_sent)
    if wait is not None:
        Post.objects.filter(pk=post.pk, claim_token=post.claim_token, status=Post.Status.CLAIMED).update(
            status=Post.Status.SCHEDULED,
            claim_token="",
            lease_expires_at=None,
            next_attempt_at=timezone.now() + timedelta(seconds=max(1, wait)),
            last_error="Waiting for X to finish processing the video.",
        )
        return "waiting for media"

    reply_to = _reply_to(post)
    if post.parent_id and not reply_to:
        return _back_to_waiting(post)
    now = timezone.now()
    previously_sent = post.maybe_sent
    # The account's rate limit is read again in the same statement: another
    # of its posts, claimed in the same tick, may have had a 429 since this
    # one was claimed, and X must not hear from it before the reset.
    moved = (
        Post.objects.filter(pk=post.pk, claim_token=post.claim_token, status=Post.Status.CLAIMED)
        .exclude(account__rate_limited_until__gt=now)
        .update(status=Post.Status.SENDING, sending_since=now, maybe_sent=True, lease_expires_at=None)
    )
    if moved != 1:
        return _wait_for_rate_limit(post, now)
    media = list(post.media.all()) if post.has_media else []
    try:
        created = gateway.create_post(
            post.account,
            text=post.text,
            reply_to=reply_to,
            media_ids=[m.x_media_id for m in media] or None,
            poll_options=post.poll_options or None,
            poll_duration_minutes=post.poll_duration_minutes,
            reply_settings=post.reply_settings or None,
        )
    except XError as error:
        return _after_error(post, error, may_have_sent=previously_sent)
    _mark_published(post, created.id, created.url, from_statuses=(Post.Status.SENDING, Post.Status.UNKNOWN))
    return "published"


def _wait_for_rate_limit(post: Post, now: datetime) -> str:
    """Back to the queue until the account's rate limit resets, if that is
    why the post could not move to sending (else another delivery took it)."""
    until = XAccount.objects.filter(pk=post.account_id).values_list("rate_limited_until", flat=True).first()
    if until is None or until <= now:
        return "skipped"
    waiting = Post.objects.filter(pk=post.pk, claim_token=post.claim_token, status=Post.Status.CLAIMED).update(
        status=Post.Status.SCHEDULED,
        claim_token="",
        lease_expires_at=None,
        next_attempt_at=until + timedelta(seconds=random.uniform(0, settings.RATE_LIMIT_JITTER_SECONDS)),
        last_error=f"Waiting for X's rate limit on @{post.account.username} to reset at {until:%H:%M:%S %Z}.",
    )
    return "rate limited" if waiting else "skipped"


def _reply_to(post: Post) -> str | None:
    """The X id of the part before this one, for a thread part."""
    if not post.parent_id:
        return None
    if post.position <= 1:
        previous = post.parent
    else:
        previous = Post.objects.filter(parent_id=post.parent_id, position__lt=post.position).order_by("-position").first()
    return previous.x_post_id if previous and previous.status == Post.Status.PUBLISHED else None


def _back_to_waiting(post: Post) -> str:
    Post.objects.filter(pk=post.pk, claim_token=post.claim_token, status=Post.Status.CLAIMED).update(
        status=Post.Status.SCHEDULED, claim_token="", lease_expires_at=None, next_attempt_at=None
    )
    return "waiting for the previous part"


def _prepare_media(post: Post) -> int | None:
    """Upload the post's files to X (again, if X may have dropped them); the
    seconds to wait when a video is still processing, else None."""
    wait = None
    now = timezone.now()
    for item in post.media.all():
        if item.x_media_id and item.x_media_expires_at and item.x_media_expires_at > now:
            state = gateway.media_status(post.account, item.x_media_id) if item.category != "tweet_image" else None
        else:
            with item.file.open("rb") as file:
                state = gateway.upload_media(
                    post.account, file=file, size=item.file.size, media_type=item.content_type, category=item.category
                )
            item.x_media_id = state.media_id
            item.x_media_expires_at = now + MEDIA_REUSE
            item.save(update_fields=["x_media_id", "x_media_expires_at"])
            if item.alt_text:
                gateway.set_alt_text(post.account, item.x_media_id, item.alt_text)
        if state is None or state.state == "succeeded":
            continue
        if state.state == "failed":
            PostMedia.objects.filter(pk=item.pk).update(x_media_id="", x_media_expires_at=None)
            raise XError(
                XErrorKind.PERMANENT,
                f"X could not process {item}: {state.error or 'no reason given'}. Use another file.",
            )
        wait = max(wait or 0, state.check_after_secs or 1)
    return wait


# The post's new status and what it means for the rest of its thread are one
# transaction: a worker or database lost between the two would leave the next
# part waiting for ever, or scheduled behind a failed part. Rolled back, the
# post stays sending, and the sweeper and reconciler take it from there.
@transaction.atomic
def _mark_published(post: Post, x_id: str, url: str, *, from_statuses: tuple[str, ...]) -> bool:
    now = timezone.now()
    done = Post.objects.filter(pk=post.pk, status__in=from_statuses).update(
        status=Post.Status.PUBLISHED,
        x_post_id=x_id,
        x_post_url=url,
        published_at=now,
        last_error="",
        claim_token="",
        next_attempt_at=None,
    )
    if done != 1:
        return False
    log.info("published post %s as %s", post.pk, x_id)
    root_id = post.parent_id or post.pk
    # The next part of the thread becomes due now that it has an id to reply to.
    Post.objects.filter(
        parent_id=root_id,
        position=post.position + 1,
        status=Post.Status.SCHEDULED,
        next_attempt_at__isnull=True,
    ).update(next_attempt_at=now)
    return True


def _backoff(attempts: int) -> timedelta:
    """Exponential backoff with full jitter."""
    ceiling = min(settings.POST_RETRY_MAX_SECONDS, settings.POST_RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1))
    return timedelta(seconds=random.uniform(ceiling / 2, ceiling))


def _after_error(post: Post, error: XError, *, may_have_sent: bool) -> str:
    """Move the post on according to the kind of failure (DESIGN.md)."""
    now = timezone.now()
    mine = Post.objects.filter(pk=post.pk, status__in=(Post.Status.CLAIMED, Post.Status.SENDING))
    account = post.account
    if error.kind == XErrorKind.RATE_LIMITED:
        reset = error.reset_at or now + timedelta(minutes=15)
        # The account's pause and the post's return are seen together, or not at all.
        with transaction.atomic():
            XAccount.objects.filter(pk=account.pk).update(rate_limited_until=reset)
            mine.update(
                status=Post.Status.SCHEDULED,
                claim_token="",
                maybe_sent=may_have_sent,
                next_attempt_at=reset + timedelta(seconds=random.uniform(0, settings.RATE_LIMIT_JITTER_SECONDS)),
                last_error=error.message,
            )
        return "rate limited"
    if error.kind == XErrorKind.NEEDS_REAUTH:
        account.refresh_from_db()
        if account.is_active:
            account.mark_needs_reauth(f"{error.message} Reconnect @{account.username}.")
        _fail(post, f"Reconnect @{account.username}: {error.message}", mine)
        return "needs reauth"
    if error.kind == XErrorKind.PERMANENT and error.duplicate and may_have_sent:
        # An earlier attempt may have been applied: this is probably that post.
        error = XError(XErrorKind.UNKNOWN_OUTCOME, "X says this text was just posted; finding the post on X.")
    if error.kind == XErrorKind.UNKNOWN_OUTCOME:
        mine.update(
            status=Post.Status.UNKNOWN,
            claim_token="",
            attempts=F("attempts") + 1,
            next_attempt_at=now + timedelta(seconds=settings.POST_RECONCILE_EVERY_SECONDS),
            last_error=error.message,
        )
        return "unknown"
    if error.kind == XErrorKind.TRANSIENT:
        return _retry_later(post, error.message, mine, may_have_sent=may_have_sent)
    _fail(post, error.message, mine)
    return "failed"


def _retry_later(post: Post, reason: str, queryset, *, may_have_sent: bool) -> str:
    attempts = post.attempts + 1
    if attempts >= settings.POST_MAX_ATTEMPTS:
        _fail(post, f"Gave up after {attempts} attempts. Last error: {reason}", queryset)
        return "failed"
    queryset.update(
        status=Post.Status.SCHEDULED,
        claim_token="",
        lease_expires_at=None,
        maybe_sent=may_have_sent,
        attempts=attempts,
        next_attempt_at=timezone.now() + _backoff(attempts),
        last_error=f"{reason} (attempt {attempts} of {settings.POST_MAX_ATTEMPTS})",
    )
    return "retry"


@transaction.atomic
def _fail(post: Post, reason: str, queryset) -> None:
    if queryset.update(status=Post.Status.FAILED, claim_token="", next_attempt_at=None, last_error=reason) != 1:
        return
    log.warning("post %s failed: %s", post.pk, reason)
    root_id = post.parent_id or post.pk
    Post.objects.filter(parent_id=root_id, position__gt=post.position, status=Post.Status.SCHEDULED).update(
        status=Post.Status.FAILED,
        next_attempt_at=None,
        last_error=f"Not sent: part {post.position + 1} of the thread failed ({reason})",
    )


# --- reconciling posts whose outcome is unknown ---------------------------------------------

_URL = re.compile(r"https?://\S+")


def _comparable(text: str) -> str:
    """Text as X stores it compared with what we sent: X escapes &, < and >,
    shortens every URL (and appends one for media), and normalizes to NFC."""
    text = unicodedata.normalize("NFC", html.unescape(text))
    return " ".join(_URL.sub(" ", text).split())


def reconcile_unknown_posts(*, now: datetime | None = None, limit: int = 100) -> dict[str, int]:
    now = now or timezone.now()
    outcome = {"published": 0, "rescheduled": 0, "waiting": 0}
    due = (
        Post.objects.select_related("account", "parent")
        .filter(status=Post.Status.UNKNOWN, next_attempt_at__lte=now)
        .exclude(account__status=XAccount.Status.NEEDS_REAUTH)
    )
    for post in due.order_by("next_attempt_at")[:limit]:
        outcome[reconcile_post(post, now=now)] += 1
    return outcome


def reconcile_post(post: Post, *, now: datetime) -> str:
    """Look for the post among the account's recent posts on X."""
    mine = Post.objects.filter(pk=post.pk, status=Post.Status.UNKNOWN)
    since = (post.sending_since or now) - CLOCK_SKEW
    try:
        recent = gateway.recent_posts(post.account, since=since)
    except XError as error:
        if error.kind == XErrorKind.NEEDS_REAUTH:
            # The post may well be on X: failing it would invite a second
            # copy. It waits, unknown, and is looked for again once a person
            # reconnects the account.
            account = post.account
            account.refresh_from_db()
            if account.is_active:
                account.mark_needs_reauth(f"{error.message} Reconnect @{account.username}.")
            mine.update(
                next_attempt_at=now,
                last_error=f"Reconnect @{account.username} to find out whether X published this post: {error.message}",
            )
            return "waiting"
        mine.update(next_attempt_at=now + timedelta(seconds=settings.POST_RECONCILE_EVERY_SECONDS))
        return "waiting"
    taken = set(
        Post.objects.filter(account=post.account, x_post_id__in=[r.id for r in recent]).values_list(
            "x_post_id", flat=True
        )
    )
    reply_to = _reply_to(post)
    wanted = _comparable(post.text)
    for found in recent:
        if found.id in taken or _comparable(found.text) != wanted:
            continue
        if reply_to and found.in_reply_to and found.in_reply_to != reply_to:
            continue
        url = post_url(post.account.username, found.id)
        if _mark_published(post, found.id, url, from_statuses=(Post.Status.UNKNOWN,)):
            log.info("reconciled post %s: found on X as %s", post.pk, found.id)
        return "published"
    if post.sending_since and now - post.sending_since >= timedelta(seconds=settings.POST_UNKNOWN_GRACE_SECONDS):
        if post.attempts >= settings.POST_MAX_ATTEMPTS:
            _fail(post, f"Gave up after {post.attempts} attempts: X never confirmed the post.", mine)
            return "rescheduled"
        mine.update(
            status=Post.Status.SCHEDULED,
            next_attempt_at=now,
            last_error="X did not answer and the post is not on X: sending it again.",
        )
        return "rescheduled"
    mine.update(next_attempt_at=now + timedelta(seconds=settings.POST_RECONCILE_EVERY_SECONDS))
    return "waiting"
