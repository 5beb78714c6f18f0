"""OAuth 2.0 with PKCE (S256), end to end over HTTP against the sandbox."""

from __future__ import annotations

import requests
from django.conf import settings

from accounts import gateway
from accounts.models import XAccount
from tests.sandbox.consent import approve

from .linking import OAUTH2_START, cancel, link, messages_of, query, start


def test_pkce_flow_links_the_account_with_scopes_and_a_refresh_token(alice_client, alice, http, sandbox):
    authorize_url = start(alice_client, OAUTH2_START)
    params = query(authorize_url)
    assert authorize_url.startswith(f"{sandbox}/i/oauth2/authorize?")
    assert params["code_challenge_method"] == "S256"
    assert params["scope"].split() == ["tweet.read", "tweet.write", "users.read", "offline.access", "media.write"]

    response = alice_client.get(approve(http, sandbox, authorize_url, "bob_news"))

    assert response.status_code == 302
    account = XAccount.objects.get()
    assert (account.owner, account.username, account.auth_method) == (alice, "bob_news", "oauth2")
    assert set(account.scopes.split()) >= {"tweet.write", "offline.access", "media.write"}
    assert account.oauth2_refresh_token
    assert account.token_expires_at is not None
    assert gateway.get_me(account).username == "bob_news"
    assert "@bob_news is linked (OAuth 2.0)." in messages_of(response)


def test_access_denied_links_nothing(alice_client, http, sandbox):
    response = cancel(alice_client, http, sandbox, OAUTH2_START)

    assert "Linking was cancelled on X. Nothing was linked." in messages_of(response)
    assert not XAccount.objects.exists()


def test_a_mismatched_state_is_refused(alice_client, http, sandbox):
    callback = approve(http, sandbox, start(alice_client, OAUTH2_START), "bob_news")
    params = query(callback)

    response = alice_client.get("/accounts/x/link/oauth2/callback/", {"state": "forged", "code": params["code"]})

    assert response.status_code == 403
    assert not XAccount.objects.exists()


def test_a_new_x_user_created_on_the_consent_page_can_be_linked(alice_client, http, sandbox):
    link(alice_client, http, sandbox, OAUTH2_START, "fresh_bot")

    assert XAccount.objects.get().username == "fresh_bot"


def test_relinking_by_the_owner_refreshes_tokens_and_clears_needs_reauth(alice_client, http, sandbox):
    link(alice_client, http, sandbox, OAUTH2_START, "bob_news")
    account = XAccount.objects.get()
    old_token = account.oauth2_access_token
    account.mark_needs_reauth("X no longer accepts this account's authorization.")

    link(alice_client, http, sandbox, OAUTH2_START, "bob_news")

    account.refresh_from_db()
    assert account.status == XAccount.Status.ACTIVE
    assert account.status_reason == ""
    assert account.oauth2_access_token != old_token
    assert XAccount.objects.count() == 1


def test_relinking_with_oauth1_switches_the_method_and_drops_oauth2_tokens(alice_client, http, sandbox):
    link(alice_client, http, sandbox, OAUTH2_START, "bob_news")

    link(alice_client, http, sandbox, "/accounts/x/link/oauth1/", "bob_news")

    account = XAccount.objects.get()
    assert account.auth_method == XAccount.AuthMethod.OAUTH1
    assert account.oauth2_access_token == "" and account.oauth2_refresh_token == ""
    assert account.oauth1_token.startswith("1002-")


def test_an_x_account_linked_in_another_workspace_is_refused(alice_client, bob_client, bob, http, sandbox):
    link(bob_client, http, sandbox, OAUTH2_START, "bob_news")

    response = link(alice_client, http, sandbox, OAUTH2_START, "bob_news")

    assert response.status_code == 403
    assert b"already linked in another workspace" in response.content
    assert XAccount.objects.get().owner == bob


def test_unlink_revokes_the_tokens_on_x(alice_client, alice, http, sandbox):
    from accounts import services

    link(alice_client, http, sandbox, OAUTH2_START, "bob_news")
    account = XAccount.objects.get()
    access_token, refresh_token = account.oauth2_access_token, account.oauth2_refresh_token

    message = services.xaccount_unlink(account=account, by=alice)

    assert "revoked on X" in message
    account.refresh_from_db()
    assert account.status == XAccount.Status.DISCONNECTED
    assert (account.oauth2_access_token, account.oauth2_refresh_token, account.token_expires_at) == ("", "", None)
    answer = requests.get(f"{sandbox}/2/users/me", headers={"Authorization": f"Bearer {access_token}"}, timeout=10)
    assert answer.status_code == 401
    refreshed = requests.post(
        f"{sandbox}/2/oauth2/token", data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        auth=(settings.X_CLIENT_ID, settings.X_CLIENT_SECRET), timeout=10,
    )
    assert refreshed.status_code == 400
