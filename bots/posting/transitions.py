"""The post's state machine (DESIGN.md): the only code that changes a post's status.

Every transition is one conditional UPDATE on the post's own rows. Its WHERE
names the statuses the post may leave and, for a worker acting under a claim,
the claim token; it never reads another table's rows or goes through a
subquery. Under PostgreSQL's READ COMMITTED an UPDATE that waited for another
transaction's row lock re-checks only its own row's new version: a condition
on any other row (or on the same row reached through a subquery) is the stale
copy from before the wait, and a second delivery of a post would pass it and
send the post again. Each function returns whether it applied (or on how many
rows); a caller that gets ``False`` lost a race and must act as the loser.

``TRANSITIONS`` lists every move; README.md's state diagram draws the same
edges, and tests/bots/test_transitions.py walks every allowed and every
forbidden one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

from django.db import connections, transaction
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Coalesce
from django.db.models.sql import UpdateQuery

from bots.posting import tallies
from bots.posting.models import Post

S = Post.Status


class Transition(NamedTuple):
    name: str
    sources: tuple[str, ...]
    target: str

    def applies_to(self, status: str) -> bool:
        return status in self.sources


# What a person (or an importer, a bot, a queue) does.
SCHEDULE = Transition("schedule", (S.DRAFT, S.SCHEDULED, S.FAILED, S.CANCELLED), S.SCHEDULED)
PUBLISH_NOW = Transition("publish now", (S.DRAFT, S.SCHEDULED), S.SCHEDULED)
RETRY = Transition("retry", (S.FAILED, S.CANCELLED), S.SCHEDULED)
MAKE_DRAFT = Transition("make draft", (S.DRAFT, S.PENDING_APPROVAL, S.SCHEDULED, S.FAILED, S.CANCELLED), S.DRAFT)
# Nothing has been sent for these: once a post is sending, X may have it.
CANCEL = Transition("cancel", (S.DRAFT, S.PENDING_APPROVAL, S.SCHEDULED, S.CLAIMED), S.CANCELLED)

# Approval, where the workspace asks for it: what an editor schedules waits
# for an admin or owner. A post changed while it waits is sent again (to
# itself); one changed after it was approved waits again.
SUBMIT = Transition("submit", (S.DRAFT, S.PENDING_APPROVAL, S.SCHEDULED, S.FAILED, S.CANCELLED),
                    S.PENDING_APPROVAL)
APPROVE = Transition("approve", (S.PENDING_APPROVAL,), S.SCHEDULED)
REJECT = Transition("reject", (S.PENDING_APPROVAL,), S.DRAFT)

# What the dispatcher does.
HOLD = Transition("hold", (S.SCHEDULED,), S.SCHEDULED)
CLAIM = Transition("claim", (S.SCHEDULED,), S.CLAIMED)

# What a worker holding a claim does.
RELEASE = Transition("release", (S.CLAIMED,), S.SCHEDULED)
RENEW_LEASE = Transition("renew lease", (S.CLAIMED,), S.CLAIMED)
SEND = Transition("send", (S.CLAIMED,), S.SENDING)
PUBLISHED = Transition("published", (S.SENDING, S.UNKNOWN), S.PUBLISHED)
OUTCOME_UNKNOWN = Transition("outcome unknown", (S.SENDING,), S.UNKNOWN)
# X answered, and applied nothing (a 5xx before sending, a 429): try later.
RETRY_LATER = Transition("retry later", (S.CLAIMED, S.SENDING), S.SCHEDULED)
FAIL = Transition("fail", (S.CLAIMED, S.SENDING), S.FAILED)
# A thread's parts behind a part that failed are not sent either.
FAIL_BEHIND = Transition("fail behind", (S.SCHEDULED,), S.FAILED)

# What the sweeper does.
LEASE_EXPIRED = Transition("lease expired", (S.CLAIMED,), S.SCHEDULED)
SENDING_STALE = Transition("sending stale", (S.SENDING,), S.UNKNOWN)

# What the reconciler does.
RECHECK_LATER = Transition("recheck later", (S.UNKNOWN,), S.UNKNOWN)
FOUND = Transition("found on X", (S.UNKNOWN,), S.PUBLISHED)
RESEND = Transition("resend", (S.UNKNOWN,), S.SCHEDULED)
GIVE_UP = Transition("give up", (S.UNKNOWN,), S.FAILED)

TRANSITIONS: tuple[Transition, ...] = (
    SCHEDULE, PUBLISH_NOW, RETRY, MAKE_DRAFT, CANCEL, SUBMIT, APPROVE, REJECT, HOLD, CLAIM, RELEASE, RENEW_LEASE, SEND, PUBLISHED,
    OUTCOME_UNKNOWN, RETRY_LATER, FAIL, FAIL_BEHIND, LEASE_EXPIRED, SENDING_STALE, RECHECK_LATER, FOUND, RESEND,
    GIVE_UP,
)
# Every (from, to) pair some transition makes, a status to itself included.
EDGES: frozenset[tuple[str, str]] = frozenset(
    (source, transition.target) for transition in TRANSITIONS for source in transition.sources
)
# Statuses nothing moves on from by itself: a person may still act on some.
END_STATES = (S.PUBLISHED, S.FAILED, S.CANCELLED, S.DRAFT)


def _rows(ids: int | Iterable[int]):
    if isinstance(ids, int):
        return Post.objects.filter(pk=ids)
    return Post.objects.filter(pk__in=list(ids))


def _under_claim(post_id: int, token: str, transition: Transition):
    """The post, only while it is still in one of the transition's statuses
    under this worker's claim: a late or second delivery carries another
    token (or none) and changes nothing."""
    return Post.objects.filter(pk=post_id, claim_token=token, status__in=transition.sources)


def _update_returning(rows: QuerySet, **values) -> list[int]:
    """One UPDATE for a whole batch that also says which posts it moved
    (``RETURNING``, which PostgreSQL and SQLite 3.35 both have): a worker
    acts on exactly those, and on none that a race took from it."""
    query = rows.query.chain(UpdateQuery)
    query.add_update_values(values)
    sql, params = query.get_compiler(rows.db).as_sql()
    connection = connections[rows.db]
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} RETURNING {connection.ops.quote_name(Post._meta.pk.column)}", params)
        return [row[0] for row in cursor.fetchall()]


# --- a person's actions ------------------------------------------------------------------


def schedule(ids: int | Iterable[int], *, at: datetime, due: bool, transition: Transition = SCHEDULE) -> int:
    """Into the queue for ``at``. ``due`` is False for a thread's later parts:
    they wait (no ``next_attempt_at``) until the part before is published."""
    return _rows(ids).filter(status__in=transition.sources).update(
        status=S.SCHEDULED, scheduled_at=at, next_attempt_at=at if due else None, attempts=0, last_error="",
        claim_token="", lease_expires_at=None,
    )


def retry(ids: int | Iterable[int], *, at: datetime | None) -> int:
    """A failed or cancelled post into the queue again; ``at`` None for a
    thread part that waits for the part before it. ``maybe_sent`` stays: if
    an earlier attempt reached X, X's "duplicate" answer is reconciled."""
    return _rows(ids).filter(status__in=RETRY.sources).update(
        status=S.SCHEDULED, attempts=0, last_error="", next_attempt_at=at, claim_token="", lease_expires_at=None,
    )


def make_draft(ids: Iterable[int]) -> int:
    return _rows(ids).filter(status__in=MAKE_DRAFT.sources).update(
        status=S.DRAFT, next_attempt_at=None, attempts=0, last_error="", claim_token="", lease_expires_at=None,
    )


def cancel(ids: Iterable[int]) -> int:
    return _rows(ids).filter(status__in=CANCEL.sources).update(
        status=S.CANCELLED, next_attempt_at=None, claim_token="", lease_expires_at=None,
    )


# --- approval ----------------------------------------------------------------------------


def submit(ids: int | Iterable[int], *, at: datetime | None) -> int:
    """Waiting for approval, to go out at ``at`` once approved (None: as soon
    as it is approved). Never due while it waits: the dispatcher claims only
    scheduled posts. The last review's note is for the version before."""
    return _rows(ids).filter(status__in=SUBMIT.sources).update(
        status=S.PENDING_APPROVAL, scheduled_at=at, next_attempt_at=None, attempts=0, last_error="",
        claim_token="", lease_expires_at=None, review_note="", reviewed_by=None, reviewed_at=None,
    )


def approve(ids: int | Iterable[int], *, at: datetime, due: bool, reviewer_id: int | None, now: datetime) -> int:
    """Into the queue for ``at``, as written; ``due`` is False for a thread's
    later parts, which wait for the part before."""
    return _rows(ids).filter(status__in=APPROVE.sources).update(
        status=S.SCHEDULED, scheduled_at=at, next_attempt_at=at if due else None, review_note="",
        reviewed_by=reviewer_id, reviewed_at=now,
    )


def reject(ids: int | Iterable[int], *, reason: str, reviewer_id: int | None, now: datetime) -> int:
    """Back to its author as a draft, with the reason to read."""
    return _rows(ids).filter(status__in=REJECT.sources).update(
        status=S.DRAFT, next_attempt_at=None, review_note=reason, reviewed_by=reviewer_id, reviewed_at=now,
    )


# --- the dispatcher ----------------------------------------------------------------------


def hold(ids: Iterable[int], *, until: datetime, reason: str) -> int:
    """Scheduled posts that may not go out yet (a budget, X's limits) wait
    until ``until``, with the reason shown."""
    return _rows(ids).filter(status__in=HOLD.sources).update(next_attempt_at=until, last_error=reason)


def claim(ids: Iterable[int], *, token: str, lease_until: datetime, price: Decimal) -> int:
    return _rows(ids).filter(status__in=CLAIM.sources).update(
        status=S.CLAIMED, claim_token=token, lease_expires_at=lease_until, x_price_usd=price,
    )


# --- a worker under a claim --------------------------------------------------------------


def release(post_id: int, *, token: str, next_attempt_at: datetime | None, reason: str | None = None) -> bool:
    """Back to the queue, nothing sent: due at ``next_attempt_at`` (None: a
    thread part waiting for the part before it)."""
    fields = {"next_attempt_at": next_attempt_at} if reason is None else {
        "next_attempt_at": next_attempt_at, "last_error": reason}
    return _under_claim(post_id, token, RELEASE).update(
        status=S.SCHEDULED, claim_token="", lease_expires_at=None, **fields
    ) == 1


def renew_lease(post_id: int, *, token: str, until: datetime) -> bool:
    return _under_claim(post_id, token, RENEW_LEASE).update(lease_expires_at=until) == 1


def send(post_id: int, *, token: str, now: datetime) -> bool:
    """Committed before the request to X: a crash after this never re-sends
    blindly. The claim token stays, so only this delivery may record X's
    answer while the post is sending."""
    return _under_claim(post_id, token, SEND).update(
        status=S.SENDING, sending_since=now, first_sent_at=Coalesce(F("first_sent_at"), now), maybe_sent=True,
        lease_expires_at=None,
    ) == 1


def send_many(ids: Iterable[int], *, token: str, now: datetime) -> list[int]:
    """``send`` for a batch of posts under one claim, in one statement; the
    ids it moved, which alone may go to X."""
    return _update_returning(
        Post.objects.filter(pk__in=list(ids), claim_token=token, status__in=SEND.sources),
        status=S.SENDING, sending_since=now, first_sent_at=Coalesce(F("first_sent_at"), now), maybe_sent=True,
        lease_expires_at=None,
    )


def published(post_id: int, *, token: str | None, x_id: str, url: str, now: datetime) -> bool:
    """X gave the post an id: the worker that sent it (under its claim), or
    the reconciler (``token`` None) that found it among the account's posts.
    A post the sweeper marked unknown meanwhile is published by the late
    answer too: X's id is the truth. The dashboard's tally counts it in the
    same transaction."""
    sources = Q(status=S.UNKNOWN) if token is None else Q(status=S.UNKNOWN) | Q(status=S.SENDING, claim_token=token)
    with transaction.atomic():
        moved = Post.objects.filter(sources, pk=post_id).update(
            status=S.PUBLISHED, x_post_id=x_id, x_post_url=url, published_at=now, last_error="", claim_token="",
            next_attempt_at=None, lease_expires_at=None,
        ) == 1
        if moved:
            tallies.record_published([post_id], at=now)
    return moved


def published_many(created: Iterable[tuple[int, str, str]], *, token: str, now: datetime) -> list[int]:
    """``published`` for a batch sent under one claim, in one statement (and
    one more for the dashboard's tally): ``created`` holds each post's id, X's id for it and its URL. Returns the
    ids it moved.

    The batch's values travel as one JSON parameter, read as a table of rows
    that join each post to its own values, so the statement's text is the
    same for every batch: the driver parses it once per process, where a
    written-out ``CASE`` with three parameters per post was parsed again on
    every batch (a twentieth of a worker's CPU in a burst)."""
    created = list(created)
    if not created:
        return []
    connection = connections[Post.objects.db]
    quote = connection.ops.quote_name
    table, pk = quote(Post._meta.db_table), quote(Post._meta.pk.column)
    rows = json.dumps([{"id": post_id, "x_post_id": x_id, "x_post_url": url} for post_id, x_id, url in created])
    # The table and column names are quoted and every value is bound.
    sql = (
        f"UPDATE {table} SET status = %s, published_at = %s, last_error = '', claim_token = '', "  # nosec B608
        "next_attempt_at = NULL, lease_expires_at = NULL, x_post_id = v.x_post_id, x_post_url = v.x_post_url "
        f"FROM {_JSON_ROWS[connection.vendor]} WHERE {table}.{pk} = v.id "
        f"AND ({table}.status = %s OR ({table}.status = %s AND {table}.claim_token = %s)) RETURNING {table}.{pk}"
    )
    params = [S.PUBLISHED, connection.ops.adapt_datetimefield_value(now), rows, S.UNKNOWN, S.SENDING, token]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        moved = [row[0] for row in cursor.fetchall()]
        tallies.record_published(moved, at=now)
    return moved


# Rows of (id, x_post_id, x_post_url) from a JSON array of objects, in each
# database's own words.
_JSON_ROWS = {
    "postgresql": "json_to_recordset(%s::json) AS v(id bigint, x_post_id text, x_post_url text)",
    "sqlite": "(SELECT json_extract(value, '$.id') AS id, json_extract(value, '$.x_post_id') AS x_post_id, "
              "json_extract(value, '$.x_post_url') AS x_post_url FROM json_each(%s)) AS v",
}


def release_next_part(*, root_id: int, position: int, now: datetime) -> int:
    """The thread's next part becomes due once the part before it has an id
    to reply to (not a change of status: the part is scheduled already)."""
    return Post.objects.filter(
        parent_id=root_id, position=position + 1, status=S.SCHEDULED, next_attempt_at__isnull=True
    ).update(next_attempt_at=now)


def outcome_unknown(post_id: int, *, token: str, check_at: datetime, reason: str) -> bool:
    return _under_claim(post_id, token, OUTCOME_UNKNOWN).update(
        status=S.UNKNOWN, claim_token="", attempts=F("attempts") + 1, next_attempt_at=check_at, last_error=reason,
    ) == 1


def retry_later(post_id: int, *, token: str, at: datetime, reason: str, attempts: int | None = None,
                maybe_sent: bool) -> bool:
    """X applied nothing: back to the queue for ``at``. ``attempts`` counts
    the failed attempt (None: it does not count, as a 429 does not)."""
    counted = {} if attempts is None else {"attempts": attempts}
    return _under_claim(post_id, token, RETRY_LATER).update(
        status=S.SCHEDULED, claim_token="", lease_expires_at=None, maybe_sent=maybe_sent, next_attempt_at=at,
        last_error=reason, **counted,
    ) == 1


def fail(post_id: int, *, token: str, reason: str) -> bool:
    return _under_claim(post_id, token, FAIL).update(
        status=S.FAILED, claim_token="", lease_expires_at=None, next_attempt_at=None, last_error=reason,
    ) == 1


def fail_behind(*, root_id: int, position: int, reason: str) -> int:
    return Post.objects.filter(parent_id=root_id, position__gt=position, status__in=FAIL_BEHIND.sources).update(
        status=S.FAILED, next_attempt_at=None, last_error=reason,
    )


# --- the sweeper -------------------------------------------------------------------------


def lease_expired(*, now: datetime) -> int:
    return Post.objects.filter(status__in=LEASE_EXPIRED.sources, lease_expires_at__lt=now).update(
        status=S.SCHEDULED, claim_token="", lease_expires_at=None,
    )


def sending_stale(*, now: datetime, since_before: datetime, reason: str) -> int:
    """The worker stopped while sending: never back to scheduled, the post may be on X."""
    return Post.objects.filter(status__in=SENDING_STALE.sources, sending_since__lt=since_before).update(
        status=S.UNKNOWN, claim_token="", next_attempt_at=now, last_error=reason,
    )


# --- the reconciler ----------------------------------------------------------------------


def recheck_later(ids: int | Iterable[int], *, at: datetime, reason: str | None = None) -> int:
    fields = {"next_attempt_at": at} if reason is None else {"next_attempt_at": at, "last_error": reason}
    return _rows(ids).filter(status__in=RECHECK_LATER.sources).update(**fields)


def found(post_id: int, *, x_id: str, url: str, now: datetime) -> bool:
    return published(post_id, token=None, x_id=x_id, url=url, now=now)


def resend(post_id: int, *, now: datetime, reason: str) -> bool:
    return Post.objects.filter(pk=post_id, status__in=RESEND.sources).update(
        status=S.SCHEDULED, next_attempt_at=now, last_error=reason,
    ) == 1


def give_up(post_id: int, *, reason: str) -> bool:
    return Post.objects.filter(pk=post_id, status__in=GIVE_UP.sources).update(
        status=S.FAILED, next_attempt_at=None, last_error=reason,
    ) == 1
