"""OAuth 2.0 tokens are refreshed before they expire and once on a 401, under
the account's row lock, so concurrent workers never burn the rotating refresh
token."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
import requests
from django.db import DatabaseError, connection
from django.utils import timezone

from accounts import gateway
from accounts.gateway import XError, XErrorKind
from accounts.models import XAccount

from .linking import OAUTH2_START, link


def token_requests(sandbox: str) -> list[dict]:
    answer = requests.get(f"{sandbox}/_sandbox/requests", params={"endpoint": "POST /2/oauth2/token"}, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()["requests"]


@contextmanager
def tokens_never_saved() -> Iterator[None]:
    """The database refuses to store an account's new refresh token, as one
    that stopped between X's answer and the commit would lose it."""
    refusal = "the database stopped before the new tokens were committed"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("CREATE FUNCTION refuse_tokens() RETURNS trigger AS $$ BEGIN "
                           f"RAISE EXCEPTION '{refusal}'; END $$ LANGUAGE plpgsql")
            cursor.execute("CREATE TRIGGER refuse_tokens BEFORE UPDATE OF oauth2_refresh_token ON accounts_xaccount "
                           "FOR EACH ROW EXECUTE FUNCTION refuse_tokens()")
        else:
            cursor.execute("CREATE TRIGGER refuse_tokens BEFORE UPDATE OF oauth2_refresh_token ON accounts_xaccount "
                           f"BEGIN SELECT RAISE(ABORT, '{refusal}'); END")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER refuse_tokens" + (" ON accounts_xaccount" if connection.vendor == "postgresql"
                                                           else ""))
            if connection.vendor == "postgresql":
                cursor.execute("DROP FUNCTION refuse_tokens()")


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
def test_a_refresh_whose_tokens_were_never_saved_is_recovered_from_the_journal(alice_client, http, sandbox):
    account = linked_oauth2_account(alice_client, http, sandbox)
    XAccount.objects.filter(pk=account.pk).update(token_expires_at=timezone.now() - timedelta(seconds=1))
    account.refresh_from_db()
    dead = account.oauth2_refresh_token

    with tokens_never_saved():
        with pytest.raises(DatabaseError, match="before the new tokens were committed"):
            gateway.get_me(account)
    stored = XAccount.objects.get(pk=account.pk)
    assert stored.oauth2_refresh_token == dead

    assert gateway.get_me(stored).username == "bob_news"

    stored.refresh_from_db()
    assert stored.status == XAccount.Status.ACTIVE
    assert stored.oauth2_refresh_token not in ("", dead)
    assert stored.token_expires_at > timezone.now() + timedelta(hours=1)
    # X rotated the token at the first refresh and refused it at the second:
    # the account lives on the answer X gave the first time.
    assert [r["status"] for r in token_requests(sandbox)[-2:]] == [200, 400]
    # And a third call needs no refresh at all: the link's code exchange and those two are all.
    assert gateway.get_me(stored).username == "bob_news"
    assert len(token_requests(sandbox)) == 3


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
