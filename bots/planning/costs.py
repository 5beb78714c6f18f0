"""What posting costs on X's pay-per-use pricing, and each account's optional
monthly budget.

A post costs ``X_PRICE_PER_POST_USD``, or ``X_PRICE_PER_POST_WITH_URL_USD``
when its text contains a URL as X finds them (twitter-text's extractor: bare
``example.com`` counts too). The price is recorded on the post when the
dispatcher claims it, so the month's spend is a sum in the database and a
change of prices does not rewrite history. A month is a calendar month in the
account's workspace's time zone.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, DecimalField, Max, Q, Sum
from django.utils import timezone
from twitter_text import extract_urls

from accounts import access, audit
from accounts.models import XAccount
from bots.planning.models import AccountBudget
from bots.posting.models import Post

Status = Post.Status

# Posts X has (or may have) charged for this month, and those about to be sent.
SPENDING = (Status.CLAIMED, Status.SENDING, Status.UNKNOWN, Status.PUBLISHED)

# The start of a held post's reason: raising the budget finds the posts it held by it.
HOLD_MARK = "reached its monthly X budget"
HOLD_PREFIX = "Held: @{username} " + HOLD_MARK


# The largest budget the column holds: a larger one would fail at the database.
_BUDGET_FIELD = AccountBudget._meta.get_field("monthly_budget_usd")
MAX_BUDGET = Decimal(10) ** (_BUDGET_FIELD.max_digits - _BUDGET_FIELD.decimal_places) - Decimal(1).scaleb(
    -_BUDGET_FIELD.decimal_places)


class BudgetError(Exception):
    """A budget that cannot be set; the message says why."""


def post_price(text: str) -> Decimal:
    if extract_urls(text):
        return settings.X_PRICE_PER_POST_WITH_URL_USD
    return settings.X_PRICE_PER_POST_USD


def money(amount: Decimal) -> str:
    """Dollars with cents, and a third decimal only when there is one ($0.015)."""
    cents = amount.quantize(Decimal("0.01"))
    return f"${cents}" if cents == amount else f"${amount.quantize(Decimal('0.001'))}"


def month_bounds(zone: tzinfo, now: datetime | None = None) -> tuple[datetime, datetime]:
    """The calendar month around ``now`` in ``zone``: its first instant and the next month's."""
    local = (now or timezone.now()).astimezone(zone)
    following = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    return datetime(local.year, local.month, 1, tzinfo=zone), datetime(*following, 1, tzinfo=zone)


def month_usage(*, month_starts: dict[int, datetime]) -> dict[int, tuple[int, Decimal]]:
    """Each account's posts and estimated X spend since its month's start, in
    one query. Claimed posts count whenever they were claimed: they are about
    to go out."""
    if not month_starts:
        return {}
    since = Q()
    by_start: dict[datetime, list[int]] = {}
    for account_id, start in month_starts.items():
        by_start.setdefault(start, []).append(account_id)
    for start, account_ids in by_start.items():
        since |= Q(account_id__in=account_ids, sending_since__gte=start)
    rows = (
        Post.objects.filter(status__in=SPENDING)
        .filter(since | Q(account_id__in=list(month_starts), status=Status.CLAIMED))
        .values("account_id")
        .annotate(n=Count("pk"), spent=Sum("x_price_usd", output_field=DecimalField(max_digits=12, decimal_places=3)))
        .values_list("account_id", "n", "spent")
    )
    usage = {account_id: (0, Decimal("0")) for account_id in month_starts}
    usage.update({account_id: (n, spent or Decimal("0")) for account_id, n, spent in rows})
    return usage


def budgets_of(account_ids: Iterable[int]) -> dict[int, AccountBudget]:
    """The accounts' budgets that are set, with the workspace (for the month's zone)."""
    return {
        budget.account_id: budget
        for budget in AccountBudget.objects.filter(
            account_id__in=list(account_ids), monthly_budget_usd__isnull=False
        ).select_related("account__workspace")
    }


def hold_reason(*, username: str, budget: Decimal, spent: Decimal) -> str:
    return (
        f"{HOLD_PREFIX.format(username=username)} of {money(budget)} (spent {money(spent)}); "
        "raise the budget or wait for next month."
    )


def parse_budget(value: str | Decimal | None) -> Decimal | None:
    """A budget as a person types it: empty for none, else dollars and cents, not negative."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).strip().lstrip("$").strip()
    try:
        amount = Decimal(text)
    except ArithmeticError:
        raise BudgetError(f"“{value}” is not an amount of dollars: write it like 25 or 12.50.") from None
    if not amount.is_finite():
        raise BudgetError(f"“{value}” is not an amount of dollars: write it like 25 or 12.50.")
    if amount < 0:
        raise BudgetError(f"A budget cannot be negative ({value}): enter 0 or more, or leave it empty for none.")
    # Checked before the cents: rounding a number this large to cents overflows.
    if amount > MAX_BUDGET:
        raise BudgetError(f"{value} is more than a budget can be: give at most {money(MAX_BUDGET)}.")
    if amount != amount.quantize(Decimal("0.01")):
        raise BudgetError(f"{value} has fractions of a cent: give the budget in dollars and cents.")
    return amount


@transaction.atomic
@transaction.atomic
def budget_set(*, account: XAccount, amount: str | Decimal | None, now: datetime | None = None,
               by: Any = None) -> AccountBudget:
    """Set (or clear, with None) the account's monthly budget, by an owner
    (``by`` None: the platform). Posts the old budget held become due again at
    once; the dispatcher weighs them against the new one."""
    if by is not None:
        access.require(by, access.OWN, account)
    value = parse_budget(amount)
    budget, _ = AccountBudget.objects.update_or_create(account=account, defaults={"monthly_budget_usd": value})
    if by is not None:
        audit.record(actor=by, action=audit.Action.BUDGET, obj=budget,
                     detail="no budget" if value is None else f"${value} a month")
    Post.objects.filter(
        account=account, status=Status.SCHEDULED,
        last_error__startswith=HOLD_PREFIX.format(username=account.username),
    ).update(next_attempt_at=now or timezone.now(), last_error="")
    return budget


def held_by_budget(account_ids: Iterable[int]) -> dict[int, tuple[int, str]]:
    """Per account: how many posts its budget holds, and one of the reasons."""
    rows = (
        # Also not empty (implied): what lets PostgreSQL read the small index
        # of scheduled posts that carry a reason (post_waiting_reason_idx).
        Post.objects.filter(account_id__in=list(account_ids), status=Status.SCHEDULED,
                            last_error__contains=HOLD_MARK).exclude(last_error="")
        .values("account_id")
        .annotate(n=Count("pk"), reason=Max("last_error"))
        .values_list("account_id", "n", "reason")
    )
    return {account_id: (n, reason) for account_id, n, reason in rows}
