"""Which posts go out now: the dispatcher's claim and the sweeper.

Claiming is a conditional UPDATE under a claim token (plus ``SKIP LOCKED``
where the database has it), so two dispatchers running at once never claim
the same post, and the database stays the only source of truth: Redis only
carries the claimed ids and can lose them without losing a post.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Exists, Min, OuterRef, Q
from django.utils import timezone

from accounts.models import XAccount
from bots.planning import costs
from bots.posting import transitions
from bots.posting.models import Post

log = logging.getLogger(__name__)

ACCOUNT_WINDOW = timedelta(minutes=15)
APP_WINDOW = timedelta(hours=24)


# The dispatcher ticks once a second. A post due before the next tick is
# claimed at this one and sent with its due time as the task's ETA, so it goes
# out at its time rather than at the first tick after it (up to a second
# late). Two seconds leave room for a tick that starts late; an ETA that short
# never outlives the broker's visibility timeout.
DISPATCH_LOOKAHEAD = timedelta(seconds=2)


def account_paused(now: datetime) -> Exists:
    """Whether the post's account makes its posts wait: not active (to be
    reconnected, or unlinked) or paused by a rate limit. Looked up by primary
    key for each due post the claim reads, so a tick costs the same however
    many accounts there are (a join read the whole accounts table, and a list
    of the paused ones grows with it)."""
    return Exists(XAccount.objects.filter(pk=OuterRef("account_id"))
                  .filter(~Q(status=XAccount.Status.ACTIVE) | Q(rate_limited_until__gt=now)))


def claim_due_posts(
    *, enqueue: Callable[[list[int], datetime | None], object], now: datetime | None = None, lookahead: timedelta = timedelta(0)
) -> list[int]:
    """Claim the posts due by ``now + lookahead`` and hand them to ``enqueue``
    once the claim is committed (a worker must never see an uncommitted
    claim), in batches of posts due at the same moment, at most
    ``PUBLISH_BATCH_SIZE`` each: ``enqueue(ids, None)`` for posts due already,
    ``enqueue(ids, eta)`` for posts due within the lookahead."""
    now = now or timezone.now()
    token = uuid.uuid4().hex
    with transaction.atomic():
        due = (
            Post.objects.filter(status=Post.Status.SCHEDULED, next_attempt_at__lte=now + lookahead)
            .exclude(account_paused(now))
            .order_by("next_attempt_at", "pk")
        )
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True, of=("self",))
        candidates = list(due.values_list("pk", "account_id", "text")[: settings.POST_CLAIM_BATCH])
        if not candidates:
            return []
        allowed, held = _within_budgets(candidates, now)
        if held:
            _hold_over_budget(held, now)
        prices = _within_spending_budgets(allowed, now)
        lease_until = now + timedelta(seconds=settings.POST_LEASE_SECONDS)
        claimed_count = 0
        for price in set(prices.values()):
            claimed_count += transitions.claim(
                [post_id for post_id, p in prices.items() if p == price], token=token, lease_until=lease_until,
                price=price,
            )
        allowed = list(prices)
        claimed = list(
            Post.objects.filter(claim_token=token, status=Post.Status.CLAIMED)
            .order_by("next_attempt_at", "pk").values_list("pk", "next_attempt_at")
        )
        if claimed_count != len(allowed):
            log.info("claimed %s of %s due posts; another dispatcher took the rest", claimed_count, len(allowed))
        transaction.on_commit(lambda: _enqueue_all(claimed, enqueue))
    return [post_id for post_id, _ in claimed]


def _enqueue_all(claimed: list[tuple[int, datetime]], enqueue: Callable[[list[int], datetime | None], object]) -> None:
    now = timezone.now()
    due_together: dict[datetime | None, list[int]] = {}
    for post_id, due in claimed:
        due_together.setdefault(due if due > now else None, []).append(post_id)
    size = settings.PUBLISH_BATCH_SIZE
    for eta, ids in due_together.items():
        for start in range(0, len(ids), size):
            batch = ids[start:start + size]
            try:
                enqueue(batch, eta)
            except Exception:
                # The claim stands; when its lease runs out the sweeper hands
                # the posts back and a later tick enqueues them again.
                log.exception("could not enqueue posts %s; they are retried when their lease expires", batch)


def _within_budgets(
    candidates: list[tuple[int, int, str]], now: datetime
) -> tuple[list[tuple[int, int, str]], list[tuple[int, int]]]:
    """Split the due posts (id, account, text) into those within X's limits
    (per account and per app, counted from what the platform sent) and those
    that must wait."""
    account_ids = {account_id for _, account_id, _ in candidates}
    sent = Counter(
        dict(
            Post.objects.filter(account_id__in=account_ids, sending_since__gt=now - ACCOUNT_WINDOW)
            .values("account_id")
            .annotate(n=Count("pk"))
            .values_list("account_id", "n")
        )
    )
    app_sent = Post.objects.filter(sending_since__gt=now - APP_WINDOW).count()
    allowed: list[tuple[int, int, str]] = []
    held: list[tuple[int, int]] = []
    for post_id, account_id, text in candidates:
        if sent[account_id] >= settings.POSTS_PER_15_MIN_PER_ACCOUNT or app_sent >= settings.POSTS_PER_24_H_PER_APP:
            held.append((post_id, account_id))
            continue
        sent[account_id] += 1
        app_sent += 1
        allowed.append((post_id, account_id, text))
    return allowed, held


def _hold_over_budget(held: list[tuple[int, int]], now: datetime) -> None:
    """Move posts over a budget to when the budget frees up, with the reason."""
    app_oldest = Post.objects.filter(sending_since__gt=now - APP_WINDOW).aggregate(t=Min("sending_since"))["t"]
    app_full = Post.objects.filter(sending_since__gt=now - APP_WINDOW).count() >= settings.POSTS_PER_24_H_PER_APP
    for account_id in {account_id for _, account_id in held}:
        ids = [post_id for post_id, a in held if a == account_id]
        if app_full and app_oldest:
            until = app_oldest + APP_WINDOW
            reason = (
                f"Held: the platform reached {settings.POSTS_PER_24_H_PER_APP} posts in 24 hours "
                f"(X's limit per app); it goes out after {until:%Y-%m-%d %H:%M %Z}."
            )
        else:
            oldest = Post.objects.filter(account_id=account_id, sending_since__gt=now - ACCOUNT_WINDOW).aggregate(
                t=Min("sending_since")
            )["t"] or now
            until = oldest + ACCOUNT_WINDOW
            reason = (
                f"Held: this account reached {settings.POSTS_PER_15_MIN_PER_ACCOUNT} posts in 15 minutes "
                f"(X's limit per account); it goes out after {until:%H:%M:%S %Z}."
            )
        transitions.hold(ids, until=until, reason=reason)


# The cost guard: each account's optional monthly budget for X's pay-per-use prices.


def _within_spending_budgets(posts: list[tuple[int, int, str]], now: datetime) -> dict[int, Decimal]:
    """The posts (id, account, text) to claim, each with the price X will
    charge for it. A post that would take its account's month's spend over its
    budget is held until next month (or until the budget is raised), with the
    reason."""
    budgets = costs.budgets_of({account_id for _, account_id, _ in posts})
    months = {
        account_id: costs.month_bounds(budget.account.workspace.time_zone, now) for account_id, budget in budgets.items()
    }
    usage = costs.month_usage(month_starts={account_id: start for account_id, (start, _) in months.items()})
    spent = {account_id: amount for account_id, (_, amount) in usage.items()}
    prices: dict[int, Decimal] = {}
    held: dict[int, list[int]] = {}
    for post_id, account_id, text in posts:
        price = costs.post_price(text)
        budget = budgets.get(account_id)
        if budget is not None and spent[account_id] + price > budget.monthly_budget_usd:
            held.setdefault(account_id, []).append(post_id)
            continue
        if budget is not None:
            spent[account_id] += price
        prices[post_id] = price
    for account_id, ids in held.items():
        budget = budgets[account_id]
        reason = costs.hold_reason(username=budget.account.username, budget=budget.monthly_budget_usd,
                                   spent=spent[account_id])
        transitions.hold(ids, until=months[account_id][1], reason=reason)
    return prices


def sweep_stale_posts(*, now: datetime | None = None) -> dict[str, int]:
    """Hand back claims whose task was lost, and turn posts whose worker died
    while sending into "unknown" (never "scheduled": the post may be on X)."""
    now = now or timezone.now()
    returned = transitions.lease_expired(now=now)
    stale = transitions.sending_stale(
        now=now,
        since_before=now - timedelta(seconds=settings.POST_SENDING_STALE_SECONDS),
        reason="The worker stopped while sending this post; checking on X whether it was published.",
    )
    if returned or stale:
        log.warning("sweeper: %s expired claims handed back, %s stale sends marked unknown", returned, stale)
    return {"returned": returned, "unknown": stale}


def claim_post(*, post_id: int, now: datetime | None = None) -> bool:
    """Claim one scheduled post for publishing in this process (``post_now``)."""
    now = now or timezone.now()
    text = Post.objects.filter(pk=post_id).values_list("text", flat=True).first() or ""
    lease_until = now + timedelta(seconds=settings.POST_LEASE_SECONDS)
    return transitions.claim([post_id], token=uuid.uuid4().hex, lease_until=lease_until, price=costs.post_price(text)) == 1
