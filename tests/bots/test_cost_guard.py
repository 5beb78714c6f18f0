"""The cost guard: an account's optional monthly budget for X's pay-per-use
prices. The dispatcher records each post's price when it claims it and holds,
with the reason, the posts that would take the month's spend over the budget;
raising the budget lets them go. Budgets are set in the admin, where a
negative amount is refused and changes nothing."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from accounts.models import XAccount
from bots.models import AccountBudget, Post
from bots.planning import costs
from bots.posting import scheduler, services
from tests.bots.conftest import link_with_minted_tokens, published, sandbox_posts
from tests.bots.csv_support import account_of, client_for, staff
from tests.foundation.helpers import wait_until

BUDGETS = "/admin/bots/accountbudget/"
TOKYO = ZoneInfo("Asia/Tokyo")


@pytest.fixture
def kai(db):
    return staff("kai", "Asia/Tokyo")


@pytest.fixture
def account(kai) -> XAccount:
    return account_of(kai, "kai_bot", "7001")


def sent_earlier(account: XAccount, price: str, at: datetime) -> Post:
    return Post.objects.create(account=account, text="Sent before", status=Post.Status.PUBLISHED, scheduled_at=at,
                               sending_since=at, published_at=at, x_price_usd=Decimal(price))


def due(account: XAccount, text: str, now: datetime) -> Post:
    post = Post.objects.create(account=account, text=text, scheduled_at=now - timedelta(seconds=1))
    return services.post_schedule(post=post)


def claim(now: datetime) -> list[int]:
    """What the dispatcher claims at ``now``, in order (enqueueing is the pipeline test's business)."""
    return sorted(scheduler.claim_due_posts(enqueue=lambda post_id, eta=None: None, now=now))


@pytest.mark.django_db
def test_posts_over_the_monthly_budget_are_held_with_the_reason(account):
    now = datetime(2031, 5, 20, 12, 0, tzinfo=TOKYO)
    costs.budget_set(account=account, amount="0.05")
    sent_earlier(account, "0.015", now - timedelta(days=3))
    sent_earlier(account, "0.015", now - timedelta(days=2))
    sent_earlier(account, "0.20", datetime(2031, 4, 30, 23, 0, tzinfo=TOKYO))  # last month, in Kai's zone
    plain = due(account, "A plain post", now)
    linked = due(account, "A post with a link: example.com/news", now)
    another = due(account, "Another plain post", now)

    assert claim(now) == [plain.pk]
    plain.refresh_from_db()
    assert plain.status == Post.Status.CLAIMED and plain.x_price_usd == Decimal("0.015")
    reason = ("Held: @kai_bot reached its monthly X budget of $0.05 (spent $0.045); raise the budget or wait for "
              "next month.")
    next_month = datetime(2031, 6, 1, 0, 0, tzinfo=TOKYO)
    for post in (linked, another):
        post.refresh_from_db()
        assert post.status == Post.Status.SCHEDULED
        assert post.last_error == reason
        assert post.next_attempt_at == next_month
    assert claim(now + timedelta(minutes=5)) == []

    Post.objects.filter(pk=plain.pk).update(status=Post.Status.PUBLISHED, sending_since=now, published_at=now)
    # Next month the spend starts again from nothing; a post with a link costs
    # more than the whole budget, and waits for a person to raise it.
    assert claim(next_month) == [another.pk]
    linked.refresh_from_db()
    assert linked.last_error == ("Held: @kai_bot reached its monthly X budget of $0.05 (spent $0.015); raise the "
                                 "budget or wait for next month.")
    assert linked.next_attempt_at == datetime(2031, 7, 1, 0, 0, tzinfo=TOKYO)


@pytest.mark.django_db
def test_without_a_budget_nothing_is_held_and_each_price_is_recorded(account):
    now = timezone.now()
    plain = due(account, "Plain", now)
    linked = due(account, "See https://example.com/a", now)
    assert claim(now) == sorted([plain.pk, linked.pk])
    assert Post.objects.get(pk=plain.pk).x_price_usd == Decimal("0.015")
    assert Post.objects.get(pk=linked.pk).x_price_usd == Decimal("0.200")


@pytest.mark.django_db
def test_prices_are_settings(account, settings):
    settings.X_PRICE_PER_POST_USD = Decimal("0.5")
    now = timezone.now()
    costs.budget_set(account=account, amount="1")
    first, second, third = (due(account, f"Post {n}", now) for n in range(3))
    assert claim(now) == [first.pk, second.pk]
    assert "of $1.00 (spent $1.00)" in Post.objects.get(pk=third.pk).last_error


@pytest.mark.django_db
def test_raising_the_budget_in_the_admin_releases_held_posts(kai, account):
    now = timezone.now()
    client = client_for(kai)
    response = client.post(f"{BUDGETS}add/", {"account": account.pk, "monthly_budget_usd": "0.01"})
    assert response.status_code == 302
    budget = AccountBudget.objects.get(account=account)
    held = due(account, "Held for now", now)
    assert claim(now) == []
    held.refresh_from_db()
    assert held.last_error.startswith("Held: @kai_bot reached its monthly X budget of $0.01 (spent $0.00)")
    assert held.next_attempt_at > now

    # The reason shows on the post and on the dashboard.
    page = client.get(f"/admin/bots/post/{held.pk}/change/").content.decode()
    assert "Held: @kai_bot reached its monthly X budget of $0.01" in page
    index = client.get("/admin/").content.decode()
    assert "1 post held. Held: @kai_bot reached its monthly X budget of $0.01" in index

    response = client.post(f"{BUDGETS}{budget.pk}/change/", {"monthly_budget_usd": "$5"})
    assert response.status_code == 302
    held.refresh_from_db()
    assert held.last_error == "" and held.next_attempt_at <= timezone.now()
    assert claim(timezone.now()) == [held.pk]
    listing = client.get(BUDGETS).content.decode()
    assert "$5.00" in listing and "$4.985" in listing


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("-5", "A budget cannot be negative (-5): enter 0 or more, or leave it empty for none."),
        ("five", "“five” is not an amount of dollars: write it like 25 or 12.50."),
        ("1.234", "1.234 has fractions of a cent: give the budget in dollars and cents."),
    ],
)
def test_a_bad_budget_is_refused_and_changes_nothing(kai, account, amount, message):
    costs.budget_set(account=account, amount="10")
    budget = AccountBudget.objects.get()
    client = client_for(kai)
    response = client.post(f"{BUDGETS}{budget.pk}/change/", {"monthly_budget_usd": amount})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert AccountBudget.objects.get().monthly_budget_usd == Decimal("10.00")
    other = account_of(kai, "kai_two", "7002")
    response = client.post(f"{BUDGETS}add/", {"account": other.pk, "monthly_budget_usd": amount})
    assert message in response.content.decode()
    assert AccountBudget.objects.count() == 1
    with pytest.raises(costs.BudgetError):
        costs.budget_set(account=account, amount=amount)
    assert AccountBudget.objects.get().monthly_budget_usd == Decimal("10.00")


@pytest.mark.django_db
def test_only_ones_own_accounts_budgets(kai, account):
    omar = staff("omar", "UTC")
    omars = account_of(omar, "omar_bot", "7003")
    costs.budget_set(account=omars, amount="3")
    client = client_for(kai)
    assert "@omar_bot" not in client.get(BUDGETS).content.decode()
    assert "omar_bot" not in client.get(f"{BUDGETS}add/").content.decode()
    budget = AccountBudget.objects.get(account=omars)
    assert client.get(f"{BUDGETS}{budget.pk}/change/").status_code == 302
    response = client.post(f"{BUDGETS}add/", {"account": omars.pk, "monthly_budget_usd": "100"})
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert AccountBudget.objects.get(account=omars).monthly_budget_usd == Decimal("3.00")


def test_the_running_dispatcher_publishes_within_the_budget_and_holds_the_rest(pipeline, sandbox, owner):
    account = link_with_minted_tokens(sandbox, owner, "alice_bot")
    costs.budget_set(account=account, amount="0.02")
    first = published(services.post_schedule(post=Post.objects.create(
        account=account, text="Within the budget", scheduled_at=timezone.now())))
    assert first.x_price_usd == Decimal("0.015")
    second = services.post_schedule(post=Post.objects.create(
        account=account, text="Over the budget", scheduled_at=timezone.now()))

    def held() -> bool:
        return Post.objects.get(pk=second.pk).last_error != ""

    wait_until(held, seconds=15, what="the second post being held")
    second.refresh_from_db()
    assert second.status == Post.Status.SCHEDULED
    assert second.last_error == ("Held: @alice_bot reached its monthly X budget of $0.02 (spent $0.015); raise "
                                 "the budget or wait for next month.")
    assert [p["text"] for p in sandbox_posts(sandbox, username="alice_bot")] == ["Within the budget"]

    costs.budget_set(account=account, amount="1")
    published(second)
    assert sorted(p["text"] for p in sandbox_posts(sandbox, username="alice_bot")) == [
        "Over the budget", "Within the budget"]
