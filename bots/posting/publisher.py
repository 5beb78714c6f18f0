"""Publishing one claimed post, and finding out what happened to a post whose
answer from X was lost.

Every change of a post's status goes through ``transitions``: conditional
UPDATEs on the post's own row under its claim token, so a second delivery of
the same task, a late worker or a sweeper running at the same moment can never
move a post twice. ``sending`` is committed before the request to X, so a
crash after it never re-sends blindly.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import unicodedata
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connections, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone
from twitter_text import extract_urls_with_indices

from accounts import gateway
from accounts.gateway import XError, XErrorKind
from accounts.models import XAccount
from accounts.services import xaccount_needs_reauth, xaccount_pause
from bots.posting import scheduler, transitions
from bots.posting.models import Post, PostMedia

log = logging.getLogger(__name__)

_CHECKING_ON_X = "checking on X whether the post was published."
# X keeps an uploaded file for a day; re-upload a little before that.
MEDIA_REUSE = timedelta(hours=20)
# X's clock and ours may differ a little when matching a lost post by time.
CLOCK_SKEW = timedelta(seconds=30)
# A claim outlives the task that holds it: the task is killed at
# CELERY_TASK_TIME_LIMIT, so a second claim never uploads a large video while
# the first is still at it.
LEASE_MARGIN = timedelta(seconds=30)
# How early a delivery may come and still wait for its post's time here: the
# dispatcher claims posts due within its lookahead and hands them on with
# their time as the task's ETA, which Celery may fire a hair early.
MAX_EARLY_WAIT = scheduler.DISPATCH_LOOKAHEAD
# A batch still sending after this many seconds reads its accounts' rate
# limits again before each next request (a burst's batches are done sooner).
LIMITS_READ_AGAIN_AFTER = 0.5


class MediaUnreadable(Exception):
    """A post's file cannot be read where the worker runs."""


def _publishable() -> QuerySet[Post]:
    # Whether the post has media comes with the post: most have none, and two
    # media queries per post were a fifth of a burst's database round trips.
    # So does whether it starts a thread: a post on its own is published in one
    # statement, with no part after it to release.
    return Post.objects.select_related("account").annotate(
        has_media=Exists(PostMedia.objects.filter(post=OuterRef("pk"))),
        has_parts=Exists(Post.objects.filter(parent=OuterRef("pk"))),
    )


def _wait_until_due(*posts: Post) -> None:
    """Claimed ahead (within the dispatcher's lookahead), the task's ETA may
    fire a few milliseconds early: a post never reaches X before its time."""
    due = max((post.next_attempt_at for post in posts if post.next_attempt_at), default=None)
    early = (due - timezone.now()).total_seconds() if due else 0
    if 0 < early <= MAX_EARLY_WAIT.total_seconds():
        time.sleep(early)


def publish_post(*, post_id: int) -> str:
    """Publish a claimed post; returns what happened, in a word, for the log."""
    post = _publishable().filter(pk=post_id).first()
    if post is None or post.status != Post.Status.CLAIMED:
        # A second delivery, or a claim the sweeper already handed back.
        return "skipped"
    return _publish_one(post)


def _publish_one(post: Post) -> str:
    token = post.claim_token
    _wait_until_due(post)
    if post.account.status != XAccount.Status.ACTIVE:
        # Claimed just before another post found the account's tokens dead
        # (or a person unlinked it): held with the account's other posts.
        released = transitions.release(post.pk, token=token, next_attempt_at=post.next_attempt_at)
        return "held" if released else "skipped"
    if post.has_media:
        lease = timezone.now() + timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT) + LEASE_MARGIN
        if not transitions.renew_lease(post.pk, token=token, until=lease):
            return "skipped"
        try:
            wait = _prepare_media(post)
        except MediaUnreadable as error:
            _fail(post, token, str(error))
            return "failed"
        except XError as error:
            return _after_error(post, token, error, may_have_sent=post.maybe_sent)
        if wait is not None:
            transitions.release(
                post.pk, token=token, next_attempt_at=timezone.now() + timedelta(seconds=max(1, wait)),
                reason="Waiting for X to finish processing the video.",
            )
            return "waiting for media"

    reply_to = _reply_to(post)
    if post.parent_id and not reply_to:
        transitions.release(post.pk, token=token, next_attempt_at=None)
        return "waiting for the previous part"
    now = timezone.now()
    # The account's rate limit is read again: another of its posts, claimed
    # in the same tick, may have had a 429 since this one was claimed, and X
    # must not hear from it before the reset. (Read apart from the move to
    # sending: a condition on another row inside that UPDATE would be a stale
    # copy once the UPDATE had waited for a lock.)
    until = XAccount.objects.filter(pk=post.account_id).values_list("rate_limited_until", flat=True).first()
    if until is not None and until > now:
        waiting = transitions.release(
            post.pk, token=token,
            next_attempt_at=until + timedelta(seconds=random.uniform(0, settings.RATE_LIMIT_JITTER_SECONDS)),
            reason=f"Waiting for X's rate limit on @{post.account.username} to reset at {until:%H:%M:%S %Z}.",
        )
        return "rate limited" if waiting else "skipped"
    if not transitions.send(post.pk, token=token, now=now):
        # Another delivery of the same claim got there first, or a person
        # cancelled it, or the claim expired and was handed back.
        return "skipped"
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
        return _after_error(post, token, error, may_have_sent=post.maybe_sent)
    if not _mark_published(post, created.id, created.url, token=token,
                           in_thread=post.parent_id is not None or post.has_parts):
        log.error("post %s: X published it as %s, but it had moved on meanwhile", post.pk, created.id)
    return "published"


def publish_posts(*, post_ids: list[int]) -> Counter[str]:
    """Publish a batch of claimed posts, and count what happened to them.

    A post on its own, without media, whose account may post (almost every
    post of a burst) goes out with the others: one statement moves them all
    to sending, up to ``PUBLISH_CONCURRENCY`` requests to X run at once, and
    one statement records X's ids. A thread's part, a post with media, or one
    whose account was just paused or stopped is published on its own, after
    them, exactly as ``publish_post`` would.
    """
    outcome: Counter[str] = Counter()
    together: list[Post] = []
    alone: list[Post] = []
    for post in _publishable().filter(pk__in=post_ids).order_by("next_attempt_at", "pk"):
        if post.status != Post.Status.CLAIMED:
            outcome["skipped"] += 1
        elif post.has_media or post.has_parts or post.parent_id or post.account.status != XAccount.Status.ACTIVE:
            alone.append(post)
        else:
            together.append(post)
    outcome["skipped"] += len(set(post_ids)) - len(together) - len(alone) - outcome["skipped"]
    if together:
        _wait_until_due(*together)
        now = timezone.now()
        limited = set(
            XAccount.objects.filter(pk__in={post.account_id for post in together}, rate_limited_until__gt=now)
            .values_list("pk", flat=True)
        )
        alone[:0] = [post for post in together if post.account_id in limited]
        together = [post for post in together if post.account_id not in limited]
    for token in {post.claim_token for post in together}:
        outcome.update(_send_together([post for post in together if post.claim_token == token], token))
    for post in alone:
        outcome[_publish_one(post)] += 1
    return +outcome


def _send_together(posts: list[Post], token: str) -> Counter[str]:
    outcome: Counter[str] = Counter()
    moved = set(transitions.send_many([post.pk for post in posts], token=token, now=timezone.now()))
    # Another delivery of the same claim got there first, a person cancelled
    # the post, or the claim expired and was handed back: not sent here.
    outcome["skipped"] = len(posts) - len(moved)
    sending = [post for post in posts if post.pk in moved]
    # An account X told to wait (429) sends nothing more of this batch before
    # the reset: its later posts take the same answer unsent, and go back to
    # the queue for the reset with it. So does an account another worker was
    # answered 429 for since the batch read its accounts' limits: a batch that
    # has been going for a moment (X holding its requests) reads them again
    # before its next request.
    told_to_wait: dict[int, XError] = {}
    told_lock = threading.Lock()
    handles = {post.account_id: post.account.username for post in sending}
    limits_read = [time.monotonic()]

    def send(post: Post) -> gateway.CreatedPost:
        with told_lock:
            if time.monotonic() - limits_read[0] >= LIMITS_READ_AGAIN_AFTER:
                limits_read[0] = time.monotonic()
                paused = XAccount.objects.filter(pk__in=handles, rate_limited_until__gt=timezone.now())
                for account_id, until in paused.values_list("pk", "rate_limited_until"):
                    told_to_wait.setdefault(account_id, XError(
                        XErrorKind.RATE_LIMITED, reset_at=until,
                        message=f"Waiting for X's rate limit on @{handles[account_id]} to reset at {until:%H:%M:%S %Z}.",
                    ))
            waiting = told_to_wait.get(post.account_id)
        if waiting is not None:
            raise waiting
        try:
            return gateway.create_post(post.account, text=post.text, poll_options=post.poll_options or None,
                                       poll_duration_minutes=post.poll_duration_minutes,
                                       reply_settings=post.reply_settings or None)
        except XError as error:
            if error.kind == XErrorKind.RATE_LIMITED:
                with told_lock:
                    told_to_wait.setdefault(post.account_id, error)
            raise

    answers = _concurrently(send, sending)
    created = [(post.pk, answer.id, answer.url) for post, answer in zip(sending, answers)
               if isinstance(answer, gateway.CreatedPost)]
    applied = set(transitions.published_many(created, token=token, now=timezone.now()))
    for post_id, x_id, _ in created:
        if post_id in applied:
            log.info("published post %s as %s", post_id, x_id)
        else:
            log.error("post %s: X published it as %s, but it had moved on meanwhile", post_id, x_id)
    outcome["published"] = len(created)
    for post, answer in zip(sending, answers):
        if isinstance(answer, XError):
            outcome[_after_error(post, token, answer, may_have_sent=post.maybe_sent)] += 1
    return outcome


def _concurrently(send: Callable[[Post], gateway.CreatedPost], posts: list[Post]) -> list[object]:
    """Each post's answer from X (or its ``XError``), in order, with up to
    ``PUBLISH_CONCURRENCY`` requests in flight. The threads exist for the
    batch only, and close any database connection they opened (a token
    refresh takes the account's row lock)."""

    def one(post: Post) -> object:
        try:
            return send(post)
        except XError as error:
            return error
        except Exception:
            # X may have the post: found out the way a lost answer is.
            log.exception("post %s: sending it failed unexpectedly", post.pk)
            return XError(XErrorKind.UNKNOWN_OUTCOME, f"Sending failed unexpectedly; {_CHECKING_ON_X}")
        finally:
            if threads > 1:
                connections.close_all()

    threads = min(settings.PUBLISH_CONCURRENCY, len(posts))
    if threads <= 1:
        return [one(post) for post in posts]
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="publish") as pool:
        return list(pool.map(one, posts))


def _reply_to(post: Post) -> str | None:
    """The X id of the part before this one, for a thread part."""
    if not post.parent_id:
        return None
    if post.position <= 1:
        previous = post.parent
    else:
        previous = Post.objects.filter(parent_id=post.parent_id, position__lt=post.position).order_by("-position").first()
    return previous.x_post_id if previous and previous.status == Post.Status.PUBLISHED else None


def _prepare_media(post: Post) -> int | None:
    """Upload the post's files to X (again, if X may have dropped them); the
    seconds to wait when a video is still processing, else None."""
    wait = None
    now = timezone.now()
    for item in post.media.all():
        if item.x_media_id and item.x_media_expires_at and item.x_media_expires_at > now:
            state = gateway.media_status(post.account, item.x_media_id) if item.category != "tweet_image" else None
        else:
            state = _upload(post, item)
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


def _upload(post: Post, item: PostMedia) -> gateway.MediaState:
    try:
        file = item.file.open("rb")
        size = item.file.size
    except OSError as error:
        # Retrying cannot bring a file back: the post fails with the reason.
        raise MediaUnreadable(
            f"The file {item} of this post cannot be read ({error.strerror or type(error).__name__}): "
            "attach it again, then retry the post."
        ) from None
    with file:
        return gateway.upload_media(
            post.account, file=file, size=size, media_type=item.content_type, category=item.category
        )


# The post's new status and what it means for the rest of its thread are one
# transaction: a worker or database lost between the two would leave the next
# part waiting for ever, or scheduled behind a failed part. Rolled back, the
# post stays sending, and the sweeper and reconciler take it from there. A post
# on its own (``in_thread`` False: no parent, no parts; parts cannot be added
# once it is claimed) has nothing to release: one statement.
def _mark_published(post: Post, x_id: str, url: str, *, token: str | None, in_thread: bool = True) -> bool:
    with transaction.atomic() if in_thread else nullcontext():
        now = timezone.now()
        if not transitions.published(post.pk, token=token, x_id=x_id, url=url, now=now):
            return False
        log.info("published post %s as %s", post.pk, x_id)
        if in_thread:
            transitions.release_next_part(root_id=post.parent_id or post.pk, position=post.position, now=now)
        return True


@transaction.atomic
def _fail(post: Post, token: str | None, reason: str) -> None:
    """The post fails (under the worker's claim, or from unknown when the
    reconciler gives up), and so do the thread's parts after it."""
    applied = transitions.fail(post.pk, token=token, reason=reason) if token is not None else (
        transitions.give_up(post.pk, reason=reason))
    if not applied:
        return
    log.warning("post %s failed: %s", post.pk, reason)
    transitions.fail_behind(
        root_id=post.parent_id or post.pk, position=post.position,
        reason=f"Not sent: part {post.position + 1} of the thread failed ({reason})",
    )


def _backoff(attempts: int) -> timedelta:
    """Exponential backoff with full jitter."""
    ceiling = min(settings.POST_RETRY_MAX_SECONDS, settings.POST_RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1))
    return timedelta(seconds=random.uniform(ceiling / 2, ceiling))


def _jittered(at: datetime) -> datetime:
    return at + timedelta(seconds=random.uniform(0, settings.RATE_LIMIT_JITTER_SECONDS))


def _after_error(post: Post, token: str, error: XError, *, may_have_sent: bool) -> str:
    """Move the post on according to the kind of failure (DESIGN.md)."""
    now = timezone.now()
    account = post.account
    if error.kind == XErrorKind.RATE_LIMITED:
        reset = error.reset_at or now + timedelta(minutes=15)
        # The account's pause and the post's return are seen together, or not
        # at all. A 429 applied nothing and is no failed attempt: the post
        # waits for the reset X named (the daily one, when that is spent).
        with transaction.atomic():
            xaccount_pause(account_id=account.pk, until=reset)
            transitions.retry_later(
                post.pk, token=token, at=_jittered(reset), reason=error.message, maybe_sent=may_have_sent
            )
        return "rate limited"
    if error.kind == XErrorKind.NEEDS_REAUTH:
        xaccount_needs_reauth(account_id=account.pk, reason=f"{error.message} Reconnect @{account.username}.")
        _fail(post, token, f"Reconnect @{account.username}: {error.message}")
        return "needs reauth"
    if error.kind == XErrorKind.PERMANENT and error.duplicate and may_have_sent:
        # An earlier attempt may have been applied: this is probably that post.
        error = XError(XErrorKind.UNKNOWN_OUTCOME, "X says this text was just posted; finding the post on X.")
    if error.kind == XErrorKind.UNKNOWN_OUTCOME:
        transitions.outcome_unknown(
            post.pk, token=token, check_at=now + timedelta(seconds=settings.POST_RECONCILE_EVERY_SECONDS),
            reason=error.message,
        )
        return "unknown"
    if error.kind == XErrorKind.TRANSIENT:
        attempts = post.attempts + 1
        if attempts >= settings.POST_MAX_ATTEMPTS:
            _fail(post, token, f"Gave up after {attempts} attempts. Last error: {error.message}")
            return "failed"
        transitions.retry_later(
            post.pk, token=token, at=now + _backoff(attempts), attempts=attempts, maybe_sent=may_have_sent,
            reason=f"{error.message} (attempt {attempts} of {settings.POST_MAX_ATTEMPTS})",
        )
        return "retry"
    _fail(post, token, error.message)
    return "failed"


# --- reconciling posts whose outcome is unknown ---------------------------------------------


def _comparable(text: str, *, from_x: bool = False) -> str:
    """Text as X stores it compared with what we sent: X escapes &, < and >,
    wraps every link it recognises in a t.co URL (a bare ``example.com/notes``
    too, found by twitter-text's rules as X finds them), appends one for
    media, and normalizes to NFC."""
    if from_x:
        text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    text = unicodedata.normalize("NFC", text)
    for url in reversed(extract_urls_with_indices(text)):
        start, end = url["indices"]
        text = f"{text[:start]} {text[end:]}"
    return " ".join(text.split())


# What a reconciler run did with each post it looked at.
RECONCILE_OUTCOMES = ("published", "rescheduled", "failed", "waiting", "skipped", "error")


def reconcile_unknown_posts(*, now: datetime | None = None, limit: int = 100) -> dict[str, int]:
    """Look on X for each post whose answer was lost and that is due a look.
    Each post is looked at on its own, so one that cannot be handled never
    stops the others."""
    now = now or timezone.now()
    outcome = dict.fromkeys(RECONCILE_OUTCOMES, 0)
    due = (
        Post.objects.filter(status=Post.Status.UNKNOWN, next_attempt_at__lte=now)
        .filter(account__status=XAccount.Status.ACTIVE)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)
    )
    for post_id in list(due[:limit]):
        try:
            outcome[_reconcile(post_id, now=now)] += 1
        except Exception:
            log.exception("could not reconcile post %s; it is looked at again later", post_id)
            transitions.recheck_later(
                post_id, at=now + timedelta(seconds=settings.POST_RECONCILE_EVERY_SECONDS),
                reason="Checking on X failed unexpectedly; it is tried again shortly.",
            )
            outcome["error"] += 1
    return outcome


def reconcile_post(post: Post, *, now: datetime) -> str:
    """Look for the post among the account's recent posts on X (``post`` may
    be an old copy: the row is read again under its lock)."""
    return _reconcile(post.pk, now=now)


@transaction.atomic
def _reconcile(post_id: int, *, now: datetime) -> str:
    # The row stays locked while X is asked: a second reconciler skips it
    # rather than act on what it read before this one decided, and the
    # decision is taken on the row as it is now, not as it was listed.
    locked = Post.objects.select_related("account", "parent").filter(
        pk=post_id, status=Post.Status.UNKNOWN, next_attempt_at__lte=now
    )
    post = locked.select_for_update(skip_locked=True, of=("self",)).first()
    if post is None:
        return "skipped"
    account = post.account
    every = timedelta(seconds=settings.POST_RECONCILE_EVERY_SECONDS)
    since = (post.first_sent_at or post.sending_since or now) - CLOCK_SKEW
    try:
        recent = gateway.recent_posts(account, since=since)
    except XError as error:
        if error.kind == XErrorKind.NEEDS_REAUTH:
            # The post may well be on X: failing it would invite a second
            # copy. It waits, unknown, and is looked for again once a person
            # reconnects the account.
            xaccount_needs_reauth(account_id=account.pk, reason=f"{error.message} Reconnect @{account.username}.")
            transitions.recheck_later(
                post.pk, at=now,
                reason=f"Reconnect @{account.username} to find out whether X published this post: {error.message}",
            )
            return "waiting"
        if error.kind == XErrorKind.RATE_LIMITED and error.reset_at:
            transitions.recheck_later(
                post.pk, at=_jittered(max(error.reset_at, now + every)),
                reason=f"Checking on X whether this post was published: {error.message}",
            )
            return "waiting"
        transitions.recheck_later(post.pk, at=now + every)
        return "waiting"
    taken = set(
        Post.objects.filter(account=account, x_post_id__in=[r.id for r in recent]).values_list("x_post_id", flat=True)
    )
    reply_to = _reply_to(post)
    wanted = _comparable(post.text)
    for candidate in recent:
        if candidate.id in taken or _comparable(candidate.text, from_x=True) != wanted:
            continue
        if reply_to and candidate.in_reply_to and candidate.in_reply_to != reply_to:
            continue
        if _mark_published(post, candidate.id, candidate.url, token=None):
            log.info("reconciled post %s: found on X as %s", post.pk, candidate.id)
        return "published"
    if post.sending_since and now - post.sending_since >= timedelta(seconds=settings.POST_UNKNOWN_GRACE_SECONDS):
        if post.attempts >= settings.POST_MAX_ATTEMPTS:
            _fail(post, None, f"Gave up after {post.attempts} attempts: X never confirmed the post.")
            return "failed"
        transitions.resend(post.pk, now=now, reason="X did not answer and the post is not on X: sending it again.")
        return "rescheduled"
    transitions.recheck_later(post.pk, at=now + every)
    return "waiting"
