"""OAuth 1.0a web linking (3-legged) and "Sign in with X", end to end over HTTP
against the sandbox."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from accounts import gateway
from accounts.models import LinkAttempt, XAccount
from tests.sandbox.consent import approve

from .linking import OAUTH1_START, cancel, link, messages_of, query, start


def test_web_flow_links_the_account_for_the_signed_in_user(alice_client, alice, http, sandbox):
    authorize_url = start(alice_client, OAUTH1_START)
    assert authorize_url.startswith(f"{sandbox}/oauth/authorize?oauth_token=")

    response = alice_client.get(approve(http, sandbox, authorize_url, "alice_bot"))

    assert response.status_code == 302
    assert response["Location"] == "/admin/accounts/xaccount/"
    account = XAccount.objects.get()
    assert (account.owner, account.username, account.x_user_id) == (alice, "alice_bot", "1001")
    assert account.auth_method == XAccount.AuthMethod.OAUTH1
    assert account.status == XAccount.Status.ACTIVE
    assert account.oauth1_token.startswith("1001-")
    assert account.last_verified_at is not None
    assert account.profile_image_url.startswith("http")
    assert gateway.get_me(account).username == "alice_bot"
    assert "@alice_bot is linked (OAuth 1.0a)." in messages_of(response)


def test_sign_in_with_x_skips_consent_for_an_app_already_approved(alice_client, alice, http, sandbox):
    link(alice_client, http, sandbox, OAUTH1_START, "alice_bot")

    authorize_url = start(alice_client, OAUTH1_START, signin="1")
    assert authorize_url.startswith(f"{sandbox}/oauth/authenticate?")
    # The same browser (cookie jar) that approved before is sent straight back.
    answer = http.get(authorize_url, allow_redirects=False)
    assert answer.status_code == 302
    response = alice_client.get(answer.headers["Location"])

    assert response.status_code == 302
    assert XAccount.objects.get().username == "alice_bot"


def test_cancel_on_x_links_nothing_and_says_so(alice_client, http, sandbox):
    response = cancel(alice_client, http, sandbox, OAUTH1_START)

    assert response.status_code == 302
    assert "Linking was cancelled on X. Nothing was linked." in messages_of(response)
    assert not XAccount.objects.exists()


def test_a_token_that_does_not_match_the_attempt_is_refused(alice_client, http, sandbox):
    callback = approve(http, sandbox, start(alice_client, OAUTH1_START), "alice_bot")
    params = query(callback)

    response = alice_client.get(
        "/accounts/x/link/oauth1/callback/",
        {"oauth_token": "forged" + params["oauth_token"], "oauth_verifier": params["oauth_verifier"]},
    )

    assert response.status_code == 403
    assert b"does not match the linking you started" in response.content
    assert not XAccount.objects.exists()


def test_a_callback_without_an_attempt_is_a_clear_message(alice_client, sandbox):
    response = alice_client.get("/accounts/x/link/oauth1/callback/", {"oauth_token": "t", "oauth_verifier": "v"})

    assert response.status_code == 302
    assert any("No X account linking is in progress" in m for m in messages_of(response))
    assert not XAccount.objects.exists()


def test_a_replayed_callback_links_nothing_more(alice_client, http, sandbox):
    callback = approve(http, sandbox, start(alice_client, OAUTH1_START), "alice_bot")
    alice_client.get(callback)
    XAccount.objects.all().delete()

    replay = alice_client.get(callback)

    assert any("No X account linking is in progress" in m for m in messages_of(replay))
    assert not XAccount.objects.exists()


def test_a_replayed_attempt_put_back_into_the_session_is_used_up(alice_client, http, sandbox):
    callback = approve(http, sandbox, start(alice_client, OAUTH1_START), "alice_bot")
    attempt_id = alice_client.session["x_link"]["attempt"]
    alice_client.get(callback)
    XAccount.objects.all().delete()
    session = alice_client.session
    session["x_link"] = {"attempt": attempt_id, "next": ""}
    session.save()

    replay = alice_client.get(callback)

    assert any("already used" in m for m in messages_of(replay))
    assert not XAccount.objects.exists()


def test_an_expired_attempt_links_nothing(alice_client, http, sandbox):
    callback = approve(http, sandbox, start(alice_client, OAUTH1_START), "alice_bot")
    LinkAttempt.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    response = alice_client.get(callback)

    assert any("expired" in m for m in messages_of(response))
    assert not XAccount.objects.exists()


def test_another_users_attempt_is_refused(alice_client, bob_client, http, sandbox):
    callback = approve(http, sandbox, start(alice_client, OAUTH1_START), "alice_bot")
    session = bob_client.session
    session["x_link"] = {"attempt": alice_client.session["x_link"]["attempt"], "next": ""}
    session.save()

    response = bob_client.get(callback)

    assert response.status_code == 403
    assert b"belongs to another user" in response.content
    assert not XAccount.objects.exists()


def test_an_x_error_on_exchange_is_a_clear_message(alice_client, http, sandbox):
    callback = approve(http, sandbox, start(alice_client, OAUTH1_START), "alice_bot")
    params = query(callback)

    response = alice_client.get(
        "/accounts/x/link/oauth1/callback/", {"oauth_token": params["oauth_token"], "oauth_verifier": "0000000"}
    )

    assert any("did not accept the verifier" in m for m in messages_of(response))
    assert not XAccount.objects.exists()


def test_linking_needs_login(client, db, sandbox):
    response = client.post(OAUTH1_START)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert not LinkAttempt.objects.exists()


def test_next_cannot_send_the_person_off_site(alice_client, http, sandbox):
    response = link(alice_client, http, sandbox, OAUTH1_START, "alice_bot", next="https://evil.example/phish")

    assert response["Location"] == "/admin/accounts/xaccount/"


def test_next_on_this_site_is_followed(alice_client, http, sandbox):
    response = link(alice_client, http, sandbox, OAUTH1_START, "alice_bot", next="/admin/")

    assert response["Location"] == "/admin/"
