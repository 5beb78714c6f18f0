"""The X accounts admin: what it shows, its actions, and that a staff user who is
not a superuser sees and acts on their own accounts only."""

from __future__ import annotations

import requests
from django.contrib.auth import get_user_model

from accounts.models import XAccount

from .linking import OAUTH1_START, OAUTH2_START, link, messages_of

CHANGELIST = "/admin/accounts/xaccount/"


def test_changelist_shows_avatar_handle_method_status_owner(alice_client, http, sandbox):
    link(alice_client, http, sandbox, OAUTH2_START, "bob_news")

    page = alice_client.get(CHANGELIST).content.decode()

    assert "@bob_news" in page
    assert "OAuth 2.0" in page
    assert 'class="x-status x-status-active"' in page
    assert f'src="{sandbox}/_sandbox/avatars/1002.svg"' in page
    assert "alice" in page
    assert 'id="link-x-account"' in page


def test_link_page_offers_both_methods_as_post_forms(alice_client, sandbox):
    page = alice_client.get("/accounts/x/link/oauth2/").content.decode()

    assert 'id="link-oauth2"' in page and 'id="link-oauth1"' in page
    assert page.count('method="post"') == 2


def test_verify_now_asks_x_and_flags_a_revoked_account(alice_client, http, sandbox):
    link(alice_client, http, sandbox, OAUTH1_START, "alice_bot")
    account = XAccount.objects.get()

    ok = alice_client.post(CHANGELIST, {"action": "verify_now", "_selected_action": [account.pk]}, follow=True)
    assert "@alice_bot is working." in messages_of(ok)

    requests.post(f"{sandbox}/_sandbox/users/1001/revoke", timeout=10)
    failed = alice_client.post(CHANGELIST, {"action": "verify_now", "_selected_action": [account.pk]}, follow=True)

    assert any("no longer accepts" in m for m in messages_of(failed))
    account.refresh_from_db()
    assert account.status == XAccount.Status.NEEDS_REAUTH
    assert 'class="x-status x-status-needs_reauth"' in failed.content.decode()


def test_unlink_action_revokes_and_keeps_the_account_disconnected(alice_client, http, sandbox):
    link(alice_client, http, sandbox, OAUTH2_START, "bob_news")
    account = XAccount.objects.get()
    token = account.oauth2_access_token

    response = alice_client.post(CHANGELIST, {"action": "unlink", "_selected_action": [account.pk]}, follow=True)

    assert any("tokens were revoked on X" in m for m in messages_of(response))
    account.refresh_from_db()
    assert account.status == XAccount.Status.DISCONNECTED
    assert account.oauth2_access_token == "" and account.oauth2_refresh_token == ""
    assert 'class="x-status x-status-disconnected"' in response.content.decode()
    me = requests.get(f"{sandbox}/2/users/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert me.status_code == 401


def test_another_staff_user_cannot_see_or_act_on_the_account(alice_client, bob_client, http, sandbox):
    link(alice_client, http, sandbox, OAUTH2_START, "bob_news")
    account = XAccount.objects.get()

    listing = bob_client.get(CHANGELIST).content.decode()
    change = bob_client.get(f"{CHANGELIST}{account.pk}/change/", follow=True)
    for action in ("verify_now", "unlink"):
        bob_client.post(CHANGELIST, {"action": action, "_selected_action": [account.pk]})

    assert "@bob_news" not in listing
    assert "@bob_news" not in change.content.decode()
    account.refresh_from_db()
    assert account.last_verified_at is not None and XAccount.objects.count() == 1
    me = requests.get(
        f"{sandbox}/2/users/me", headers={"Authorization": f"Bearer {account.oauth2_access_token}"}, timeout=10
    )
    assert me.status_code == 200


def test_a_superuser_sees_every_account(alice_client, http, sandbox, client):
    link(alice_client, http, sandbox, OAUTH2_START, "bob_news")
    root = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(root)

    assert "@bob_news" in client.get(CHANGELIST).content.decode()


def test_accounts_cannot_be_added_or_edited_by_hand(alice_client, http, sandbox):
    link(alice_client, http, sandbox, OAUTH2_START, "bob_news")
    account = XAccount.objects.get()

    assert alice_client.get(f"{CHANGELIST}add/").status_code == 403
    page = alice_client.get(f"{CHANGELIST}{account.pk}/change/")
    assert page.status_code == 200
    assert b'name="oauth2_access_token"' not in page.content
