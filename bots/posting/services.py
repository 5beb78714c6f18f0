"""What people do with posts, shared by the admin, the commands, CSV imports,
recurring bots and the API: create, schedule (or send for approval), approve,
reject, cancel, retry, duplicate, publish now.

``by`` is the person acting. The access policy decides whether they may; in a
workspace that asks for approval, what an editor schedules waits for an admin
or owner (``post_approve``, ``post_reject``); and the audit trail records what
they did, in the same transaction. ``by`` None is the platform itself (a
recurring bot, the posting queue, ``post_now`` at the server's shell): nothing
it schedules waits for approval, and it is no person's act to record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.files import File
from django.db import transaction
from django.utils import timezone

from accounts import access, audit
from accounts.models import XAccount
from bots.posting import transitions, validation
from bots.posting.models import Post, PostMedia

S = Post.Status
Action = audit.Action

# The longest reason for a rejection: a note to the author, not an essay.
MAX_REVIEW_NOTE = 2000


class PostActionError(Exception):
    """An action that cannot apply to a post in its current state; the message says why."""


class PostInvalid(PostActionError):
    """A post that cannot be created as given: ``problems`` by field (``text``,
    ``media``, ``alt_text``, ``poll_options``, ``poll_duration_minutes``,
    ``reply_settings``, ``scheduled_at``, ``account``, and ``parts.<n>.<field>``
    for the n-th thread part, from 0); the message says all of it in words."""

    def __init__(self, problems: dict[str, list[str]]) -> None:
        self.problems = problems
        super().__init__(" ".join(message for messages in problems.values() for message in messages))


@dataclass(frozen=True)
class NewMedia:
    """A file to attach to a new post: ``file``, content to store (an upload,
    or a File opened on a fetched file), or ``stored``, the name of a file
    already in storage. ``name`` names it in messages, and in storage when
    stored."""

    name: str
    content_type: str
    size: int
    alt_text: str = ""
    file: File | None = None
    stored: str = ""

    @property
    def spec(self) -> validation.MediaSpec:
        return validation.MediaSpec(name=self.name, content_type=self.content_type, size=self.size,
                                    alt_text=self.alt_text)


@dataclass(frozen=True)
class NewPart:
    """A later part of a thread: published as a reply to the part before it."""

    text: str
    media: Sequence[NewMedia] = ()


@dataclass(frozen=True)
class Poll:
    options: Sequence[str]
    duration_minutes: int | None


def _local(at: datetime) -> str:
    """A time in the zone of the person reading (the admin activates theirs)."""
    local = timezone.localtime(at)
    return f"{local:%a %d %b %Y, %H:%M} {local.tzname()}"


def _may(by: Any, verb: str, obj: Any) -> None:
    """The person may do ``verb`` to ``obj`` (PermissionDenied, with words,
    if not); the platform itself (``by`` None) may."""
    if by is not None:
        access.require(by, verb, obj)


def _record(by: Any, action: str, post: Post, detail: str = "") -> None:
    if by is not None:
        audit.record(actor=by, action=action, obj=post, detail=detail)


def _still_linked(post: Post, doing: str) -> None:
    """Nothing goes out for an unlinked account: refused in words. The
    account's row is held until the transaction ends, so unlinking (which
    holds it too) waits for this move and then holds what it scheduled,
    rather than slipping in between the check and the move."""
    account = XAccount.objects.select_for_update(no_key=True).only("status", "username").get(pk=post.account_id)
    if account.status == XAccount.Status.DISCONNECTED:
        raise PostActionError(
            f"@{account.username} is unlinked, so post {post.thread_root.pk} cannot be {doing}: link the account "
            "again first.")


def _waits_for_approval(by: Any, post: Post) -> bool:
    return by is not None and access.needs_approval(by, post.account.workspace)


def _thread(post: Post) -> list[Post]:
    root = post.thread_root
    return [root, *root.parts.order_by("position")]


def _refused(post_id: int, action: str, allowed: str) -> PostActionError:
    """The refusal, in the words of the post's status as it is now in the
    database (the page the person acted from may show an older one)."""
    current = Post.objects.filter(pk=post_id).first()
    if current is None:
        return PostActionError(f"Post {post_id} no longer exists.")
    return PostActionError(
        f"Post {post_id} is {current.get_status_display().lower()}: only {allowed} can be {action}."
    )


def _parts_of(root: Post) -> list[int]:
    return list(root.parts.values_list("pk", flat=True))


def _submit_thread(root: Post, *, at: datetime | None, by: Any, action: str, allowed: str) -> None:
    """The whole thread waits for approval, to go out at ``at`` (None: as
    soon as it is approved)."""
    if not transitions.submit(root.pk, at=at):
        raise _refused(root.pk, action, allowed)
    transitions.submit(_parts_of(root), at=at)
    _record(by, Action.SUBMITTED, root, f"to go out {_local(at)}" if at else "to go out as soon as it is approved")


def _schedule_thread(post: Post, *, at: datetime | None, by: Any, transition: transitions.Transition, action: str,
                     allowed: str) -> Post:
    root = post.thread_root
    if _waits_for_approval(by, root):
        _submit_thread(root, at=at or root.scheduled_at, by=by, action=action, allowed=allowed)
        post.refresh_from_db()
        return post
    now = timezone.now()
    when = at or root.scheduled_at or now
    # The statuses are checked by the UPDATE itself, not by the object in
    # memory: the page may be older than the worker's last move.
    if not transitions.schedule(root.pk, at=when, due=True, transition=transition):
        if by is not None and Post.objects.filter(pk=root.pk, status=S.PENDING_APPROVAL).exists() and (
                access.allows(by, access.APPROVE, root)):
            # An admin or owner scheduling a post that waits for approval
            # (its page saved with "Schedule") approves it, for that time.
            _approve_thread(root, at=when, by=by, now=now)
            post.refresh_from_db()
            return post
        raise _refused(root.pk, action, allowed)
    transitions.schedule(_parts_of(root), at=when, due=False, transition=transitions.SCHEDULE)
    _record(by, Action.PUBLISHED_NOW if transition is transitions.PUBLISH_NOW else Action.SCHEDULED, root,
            f"for {_local(when)}")
    post.refresh_from_db()
    return post


@transaction.atomic
def post_schedule(*, post: Post, at: datetime | None = None, by: Any = None) -> Post:
    """Put a post (and its thread's later parts) in the queue for ``at``, its
    own ``scheduled_at``, or now. A time in the past means as soon as possible.
    Where the workspace asks ``by`` for approval, the thread waits for it
    instead (``pending_approval``), for that time or, without one, for as
    soon as it is approved."""
    _may(by, access.WRITE, post)
    _still_linked(post, "scheduled")
    return _schedule_thread(post, at=at, by=by, transition=transitions.SCHEDULE, action="scheduled",
                            allowed="a draft, scheduled, failed or cancelled post")


@transaction.atomic
def post_publish_now(*, post: Post, by: Any = None) -> Post:
    """Into the queue for now; where ``by`` needs approval, waiting for it,
    to go out as soon as it is approved."""
    _may(by, access.WRITE, post)
    _still_linked(post, "published")
    root = post.thread_root
    if _waits_for_approval(by, root):
        _submit_thread(root, at=None, by=by, action="published now", allowed="a draft or scheduled post")
        post.refresh_from_db()
        return post
    return _schedule_thread(post, at=timezone.now(), by=by, transition=transitions.PUBLISH_NOW,
                            action="published now", allowed="a draft or scheduled post")


@transaction.atomic
def post_cancel(*, post: Post, by: Any = None) -> int:
    """Cancel a post and the thread parts after it that are not sent yet."""
    _may(by, access.WRITE, post)
    ids = [p.pk for p in _thread(post) if p.position >= post.position]
    if not transitions.cancel([post.pk]):
        raise _refused(post.pk, "cancelled", "posts not yet being sent")
    count = 1 + transitions.cancel([pk for pk in ids if pk != post.pk])
    _record(by, Action.CANCELLED, post, f"from part {post.position + 1}" if post.position else "")
    return count


@transaction.atomic
def post_retry(*, post: Post, by: Any = None) -> Post:
    """Send a failed or cancelled post again, now; later failed parts of its
    thread follow it. ``maybe_sent`` stays: if an earlier attempt reached X,
    X's "duplicate" answer is then reconciled instead of reported.

    A failed post went out as approved (a change since would have sent it for
    approval again), and so did the parts of a thread that was under way;
    but a thread cancelled before any of it went out may never have been
    approved: where ``by`` needs approval, it waits for it again."""
    _may(by, access.WRITE, post)
    _still_linked(post, "retried")
    if post.parent_id is None and post.status == S.CANCELLED and _waits_for_approval(by, post):
        _submit_thread(post, at=None, by=by, action="retried", allowed="failed or cancelled posts")
        post.refresh_from_db()
        return post
    ready = not post.parent_id or _previous_published(post)
    if not transitions.retry(post.pk, at=timezone.now() if ready else None):
        raise _refused(post.pk, "retried", "failed or cancelled posts")
    later = Post.objects.filter(parent_id=post.parent_id or post.pk, position__gt=post.position)
    transitions.retry(later.values_list("pk", flat=True), at=None)
    _record(by, Action.RETRIED, post, f"from part {post.position + 1}" if post.position else "")
    post.refresh_from_db()
    return post


def _previous_published(post: Post) -> bool:
    previous = post.parent if post.position <= 1 else post.parent.parts.filter(position=post.position - 1).first()
    return previous is not None and previous.status == Post.Status.PUBLISHED


@transaction.atomic
def post_duplicate(*, post: Post, by: Any = None) -> Post:
    """A draft copy of a post (its whole thread, with media), to edit and schedule."""
    _may(by, access.WRITE, post)
    copies: dict[int, Post] = {}
    for original in _thread(post.thread_root):
        copy = Post.objects.create(
            account=original.account,
            parent=copies.get(original.parent_id) if original.parent_id else None,
            position=original.position,
            text=original.text,
            poll_options=original.poll_options,
            poll_duration_minutes=original.poll_duration_minutes,
            reply_settings=original.reply_settings,
            scheduled_at=original.scheduled_at,
            created_by=by or original.created_by,
        )
        copies[original.pk] = copy
        for media in original.media.all():
            PostMedia.objects.create(
                post=copy, file=media.file.name, content_type=media.content_type, size=media.size,
                alt_text=media.alt_text, position=media.position,
            )
    copy = copies[post.thread_root.pk]
    _record(by, Action.CREATED, copy, f"as a draft copy of post {post.thread_root.pk}")
    return copy


@transaction.atomic
def post_make_draft(*, post: Post, by: Any = None) -> int:
    """Take a thread out of the queue (or out of waiting for approval), back
    to draft, until it is scheduled again. Posts that are claimed, being
    sent, being checked on X or published keep their status: the state
    machine owns them."""
    _may(by, access.WRITE, post)
    return transitions.make_draft([p.pk for p in _thread(post)])


# --- approval ----------------------------------------------------------------------------


def _time_passed(post_id: int, at: datetime) -> PostActionError:
    return PostActionError(
        f"Post {post_id} waited for approval past its time, {_local(at)}, and is not sent late: give it a new "
        "time, then approve it.")


def _approve_thread(root: Post, *, at: datetime, by: Any, now: datetime) -> None:
    if at < now:
        raise _time_passed(root.pk, at)
    if not transitions.approve(root.pk, at=at, due=True, reviewer_id=by.pk, now=now):
        raise _refused(root.pk, "approved", "posts pending approval")
    transitions.approve(_parts_of(root), at=at, due=False, reviewer_id=by.pk, now=now)
    _record(by, Action.APPROVED, root, f"for {_local(at)}")


def _locked_root(post: Post) -> Post:
    """The thread's first post as it is now, its row held until the
    transaction ends: its time cannot change between the check and the move."""
    return Post.objects.select_for_update(of=("self",)).select_related("account").get(pk=post.thread_root.pk)


@transaction.atomic
def post_approve(*, post: Post, by: Any, now: datetime | None = None) -> Post:
    """Schedule a thread that waits for approval, as written: for its time,
    or now if it has none. A post whose time passed while it waited is not
    sent late: approving it is refused until someone gives it a new time."""
    access.require(by, access.APPROVE, post)
    _still_linked(post, "approved")
    now = now or timezone.now()
    root = _locked_root(post)
    if root.status != S.PENDING_APPROVAL:
        raise _refused(root.pk, "approved", "posts pending approval")
    _approve_thread(root, at=root.scheduled_at or now, by=by, now=now)
    post.refresh_from_db()
    return post


def review_note_problem(reason: str) -> str:
    """What is wrong with a reason for rejecting a post, in words ("" if nothing)."""
    if not reason.strip():
        return "Give a reason: the author reads it to know what to change."
    if len(reason) > MAX_REVIEW_NOTE:
        return f"A reason is at most {MAX_REVIEW_NOTE:,} characters; this one is {len(reason):,}. Shorten it."
    if "\0" in reason:
        return "The reason contains a NUL character (U+0000), which cannot be stored: remove it."
    return ""


@transaction.atomic
def post_reject(*, post: Post, by: Any, reason: str, now: datetime | None = None) -> Post:
    """Send a thread that waits for approval back to its author as a draft,
    with the reason, which they see on the post's page and in the list."""
    access.require(by, access.APPROVE, post)
    problem = review_note_problem(reason)
    if problem:
        raise PostActionError(problem)
    reason = reason.strip()
    now = now or timezone.now()
    root = _locked_root(post)
    if not transitions.reject(root.pk, reason=reason, reviewer_id=by.pk, now=now):
        raise _refused(root.pk, "rejected", "posts pending approval")
    transitions.reject(_parts_of(root), reason=reason, reviewer_id=by.pk, now=now)
    _record(by, Action.REJECTED, root, reason)
    post.refresh_from_db()
    return post


# --- creating ----------------------------------------------------------------------------


def post_check(*, account: XAccount, text: str, parts: Sequence[NewPart] = (), media: Sequence[NewMedia] = (),
               poll: Poll | None = None, reply_settings: str = "", scheduled_at: datetime | None = None,
               ) -> validation.Problems:
    """Everything X (and the platform) would refuse in a post to create, by
    field, and the warnings, without writing anything."""
    problems = validation.validate_post(
        text=text, media=[item.spec for item in media], poll_options=list(poll.options) if poll else None,
        poll_duration_minutes=poll.duration_minutes if poll else None, reply_settings=reply_settings,
        scheduled_at=scheduled_at,
    )
    if account.status not in (XAccount.Status.ACTIVE, XAccount.Status.NEEDS_REAUTH):
        problems.add("account", f"@{account.username} is {account.get_status_display().lower()}: link it again "
                                "before posting to it.")
    for index, part in enumerate(parts):
        checked = validation.validate_post(text=part.text, media=[item.spec for item in part.media],
                                           is_thread_part=True)
        for name, messages in checked.errors.items():
            for message in messages:
                problems.add(f"parts.{index}.{name}", f"Part {index + 2} of the thread: {message}")
    return problems


@transaction.atomic
def post_create(*, account: XAccount, text: str, by: Any, schedule: bool, parts: Sequence[NewPart] = (),
                media: Sequence[NewMedia] = (), poll: Poll | None = None, reply_settings: str = "",
                scheduled_at: datetime | None = None) -> Post:
    """Create a post, or a thread (``parts`` after it, each published as a
    reply to the one before), with its media (in the order given), poll and
    who may reply; then, with ``schedule``, put it in the queue for
    ``scheduled_at`` (None or past: as soon as possible), or where the
    workspace asks ``by`` for approval send it for approval; without, keep it
    a draft. Returns the first post.

    Everything is checked first, with X's rules: PostInvalid says what is
    wrong, by field, and nothing is written. ``by`` is the person (None: the
    platform itself, e.g. a recurring bot), who must be allowed to write
    posts for the account."""
    _may(by, access.WRITE, account)
    problems = post_check(account=account, text=text, parts=parts, media=media, poll=poll,
                          reply_settings=reply_settings, scheduled_at=scheduled_at)
    if not problems.ok:
        raise PostInvalid(problems.errors)
    root = Post.objects.create(
        account=account, text=text, poll_options=list(poll.options) if poll else [],
        poll_duration_minutes=poll.duration_minutes if poll else None, reply_settings=reply_settings,
        scheduled_at=scheduled_at, created_by=by,
    )
    _attach(root, media)
    for position, part in enumerate(parts, start=1):
        child = Post.objects.create(account=account, parent=root, position=position, text=part.text,
                                    scheduled_at=scheduled_at, created_by=by)
        _attach(child, part.media)
    _record(by, Action.CREATED, root, f"a thread of {len(parts) + 1} posts" if parts else "")
    if schedule:
        _schedule_thread(root, at=scheduled_at, by=by, transition=transitions.SCHEDULE, action="scheduled",
                         allowed="a draft")
    return root


def media_replace(*, post: Post, media: Sequence[NewMedia]) -> None:
    """The post's media become ``media`` (none: it has none), checked by the
    caller with the post; its uploads to X go with the old files."""
    post.media.all().delete()
    _attach(post, media)


def media_alt_text_set(*, post: Post, alt_text: str) -> None:
    """New alt text for the post's media: X has the old one, so they are uploaded again."""
    post.media.update(alt_text=alt_text, x_media_id="", x_media_expires_at=None)


def _attach(post: Post, media: Sequence[NewMedia]) -> None:
    for position, item in enumerate(media):
        attached = PostMedia(post=post, content_type=item.content_type, size=item.size, alt_text=item.alt_text,
                             position=position)
        if item.file is not None:
            attached.file.save(item.name, item.file, save=True)
        else:
            attached.file.name = item.stored
            attached.save()
