"""A 429 waits for the window that is used up: X's 15-minute window, the
account's daily posting limit or the app's, read from all of X's reset
headers. The limits are the sandbox's real ones, made small."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests
import tweepy
from django.utils import timezone

from accounts import gateway
from accounts.gateway import RateLimit, XError, XErrorKind
from accounts.models import XAccount
from tests.bots.conftest import link_with_minted_tokens

CREATE = "POST /2/tweets"


@pytest.fixture
def account(sandbox, alice) -> XAccount:
    return link_with_minted_tokens(sandbox, alice, "alice_bot")


def limit_posting(sandbox: str, **windows: dict) -> None:
    response = requests.put(f"{sandbox}/_sandbox/rate-limits", json={CREATE: windows}, timeout=10)
    assert response.status_code == 200, response.text


def refused(account: XAccount, text: str) -> XError:
    with pytest.raises(XError) as raised:
        gateway.create_post(account, text=text)
    assert raised.value.kind == XErrorKind.RATE_LIMITED
    return raised.value


def resets_x_gives(sandbox: str, account: XAccount) -> dict[str, datetime]:
    """Ask X once more, as the account, and read every reset of its 429."""
    response = requests.post(
        f"{sandbox}/2/tweets",
        json={"text": "Still limited?"},
        headers={"Authorization": f"Bearer {account.oauth2_access_token}"},
        timeout=10,
    )
    assert response.status_code == 429
    return {
        prefix: datetime.fromtimestamp(int(response.headers[f"{prefix}-reset"]), tz=UTC)
        for prefix in ("x-rate-limit", "x-user-limit-24hour", "x-app-limit-24hour")
    }


def test_a_spent_daily_limit_waits_for_its_own_reset(account, sandbox):
    limit_posting(sandbox, user_24h={"limit": 1, "window_secs": 6 * 3600})
    gateway.create_post(account, text="The one post of the day")

    error = refused(account, text="One too many")

    resets = resets_x_gives(sandbox, account)
    assert error.reset_at == resets["x-user-limit-24hour"]
    assert error.reset_at - resets["x-rate-limit"] > timedelta(hours=5), "not the 15-minute window's reset"
    assert error.limit == RateLimit.USER_24H
    assert error.message.startswith("X's daily limit for @alice_bot's posts was reached; it resets at ")
    assert error.message.endswith("and posting waits until then.")


def test_a_spent_15_minute_window_waits_for_it_not_for_the_days_reset(account, sandbox):
    limit_posting(sandbox, rate={"limit": 1, "window_secs": 60})
    gateway.create_post(account, text="First")

    error = refused(account, text="Second")

    resets = resets_x_gives(sandbox, account)
    assert error.reset_at == resets["x-rate-limit"]
    assert resets["x-user-limit-24hour"] > error.reset_at, "a later reset, of a window with posts left"
    assert error.limit == RateLimit.FIFTEEN_MINUTES
    assert error.message.startswith("X's 15-minute rate limit for @alice_bot was reached; it resets at ")


def test_with_both_spent_the_later_reset_wins(account, sandbox):
    limit_posting(sandbox, rate={"limit": 1, "window_secs": 60}, user_24h={"limit": 1, "window_secs": 7200})
    gateway.create_post(account, text="First")

    error = refused(account, text="Second")

    assert error.reset_at == resets_x_gives(sandbox, account)["x-user-limit-24hour"]
    assert error.limit == RateLimit.USER_24H


def test_the_apps_daily_limit_says_it_is_shared(account, sandbox, alice):
    limit_posting(sandbox, app_24h={"limit": 1, "window_secs": 7200})
    other = link_with_minted_tokens(sandbox, alice, "bob_news")
    gateway.create_post(other, text="bob_news used the app's last post")

    error = refused(account, text="Nothing left for alice_bot")

    assert error.reset_at == resets_x_gives(sandbox, account)["x-app-limit-24hour"]
    assert error.limit == RateLimit.APP_24H
    assert "daily limit for this app's posts, shared by every account it posts for" in error.message


def too_many(headers: dict[str, str]) -> XError:
    """X's 429 with these headers, as tweepy raises it."""
    response = requests.Response()
    response.status_code = 429
    response.headers.update(headers)
    response._content = b""
    return gateway.classify(tweepy.TooManyRequests(response), applied_if_sent=True)


def test_without_a_spent_window_the_latest_reset_given():
    soon, later = int(timezone.now().timestamp()) + 60, int(timezone.now().timestamp()) + 3600

    error = too_many({
        "x-rate-limit-remaining": "3", "x-rate-limit-reset": str(soon),
        "x-user-limit-24hour-remaining": "5", "x-user-limit-24hour-reset": str(later),
    })

    assert error.reset_at == datetime.fromtimestamp(later, tz=UTC)
    assert error.limit == RateLimit.USER_24H


def test_without_any_reset_header_15_minutes():
    before = timezone.now()

    error = too_many({"x-rate-limit-reset": "soon"})

    assert before + timedelta(minutes=15) <= error.reset_at <= timezone.now() + timedelta(minutes=15)
    assert error.limit is None
    assert "X did not say when it resets" in error.message
