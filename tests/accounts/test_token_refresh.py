"""OAuth 2.0 tokens are refreshed before they expire and once on a 401, under
the account's row lock, so concurrent workers never burn the rotating refresh
token."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import requests
from django.db import connection
from django.utils import timezone

from accounts import gateway
from accounts.gateway import XError, XErrorKind
from accounts.models import XAccount

from .linking import OAUTH2_START, link


def token_requests(sandbox: str) -> list[dict]:
    answer = requests.get(f"{sandbox}/_sandbox/requests", params={"endpoint": "POST /2/oauth2/token"}, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()["requests"]


def linked_oauth2_account(client, http, sandbox) -> XAccount:
    link(client, http, sandbox, OAUTH2_START, "bob_news")
    return XAccount.objects.get()


def test_a_token_about_to_expire_is_refreshed_before_the_call(alice_client, http, sandbox):
    account = linked_oauth2_account(alice_client, http, sandbox)
    old_access, old_refresh = account.oauth2_access_token, account.oauth2_refresh_token
    XAccount.objects.filter(pk=account.pk).update(token_expires_at=timezone.now() + timedelta(minutes=4))
    account.refresh_from_db()

    assert gateway.get_me(account).username == "bob_news"

    account.refresh_from_db()
    assert account.oauth2_access_token != old_access
    assert account.oauth2_refresh_token != old_refresh
    assert account.token_expires_at > timezone.now() + timedelta(hours=1)


def test_a_401_on_a_token_x_expired_early_refreshes_once_and_retries(alice_client, http, sandbox):
    account = linked_oauth2_account(alice_client, http, sandbox)
    old_access = account.oauth2_access_token
    expired = requests.post(f"{sandbox}/_sandbox/users/{account.x_user_id}/expire-tokens", timeout=10)
    assert expired.status_code == 200, expired.text
    before = len(token_requests(sandbox))

    assert gateway.get_me(account).username == "bob_news"

    account.refresh_from_db()
    assert account.oauth2_access_token != old_access
    assert len(token_requests(sandbox)) == before + 1


def test_a_dead_refresh_token_marks_the_account_needs_reauth(alice_client, http, sandbox):
    account = linked_oauth2_account(alice_client, http, sandbox)
    revoked = requests.post(f"{sandbox}/_sandbox/users/{account.x_user_id}/revoke", timeout=10)
    assert revoked.status_code == 200, revoked.text

    with pytest.raises(XError) as raised:
        gateway.get_me(account)

    assert raised.value.kind == XErrorKind.NEEDS_REAUTH
    account.refresh_from_db()
    assert account.status == XAccount.Status.NEEDS_REAUTH
    assert "Reconnect @bob_news" in account.status_reason


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_callers_cause_one_refresh(alice_client, http, sandbox):
    account = linked_oauth2_account(alice_client, http, sandbox)
    XAccount.objects.filter(pk=account.pk).update(token_expires_at=timezone.now() - timedelta(seconds=1))
    before = len(token_requests(sandbox))
    start = threading.Barrier(20)
    results: list[str | Exception] = []

    def caller() -> None:
        try:
            mine = XAccount.objects.get(pk=account.pk)
            start.wait()
            results.append(gateway.get_me(mine).username)
        except Exception as exc:  # collected and asserted on below
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=caller) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert results == ["bob_news"] * 20
    assert len(token_requests(sandbox)) == before + 1
    account.refresh_from_db()
    assert account.status == XAccount.Status.ACTIVE
