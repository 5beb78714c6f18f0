"""OAuth 2.0 authorization code with PKCE against the sandbox process: tweepy's
flow, plain PKCE, refresh rotation, revocation, and the failures X answers with."""

from __future__ import annotations

import secrets
import time
from urllib.parse import urlencode

import pytest
import requests
import tweepy

from tests.support import start_sandbox, stop_sandbox
from .consent import (
    CLIENT_ID,
    CLIENT_SECRET,
    OAUTH2_CALLBACK,
    POSTER_SCOPES,
    approve,
    deny,
    link_oauth2,
    oauth2_handler,
    query_param,
)
from .tweepy_redirect import redirect_session, sandbox_client

INVALID_TOKEN = {"error": "invalid_request", "error_description": "Value passed for the token was invalid."}
MISSING_CLIENT_AUTH = {"error": "unauthorized_client", "error_description": "Missing valid authorization header"}
READ_SCOPES = "tweet.read users.read"


@pytest.fixture(scope="module")
def short_lived_sandbox():
    """A second sandbox whose codes live 1 s and access tokens 60 s."""
    proc, url = start_sandbox("--memory", "--code-ttl", "1", "--access-token-ttl", "60")
    yield url
    stop_sandbox(proc)


def authorize_url(sandbox_url: str, verifier: str, **overrides: str | None) -> str:
    """An authorize URL with a plain PKCE challenge (the verifier itself); an
    override of None leaves the parameter out."""
    params = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": OAUTH2_CALLBACK,
        "scope": READ_SCOPES,
        "state": secrets.token_urlsafe(16),
        "code_challenge": verifier,
        "code_challenge_method": "plain",
        **overrides,
    }
    return f"{sandbox_url}/i/oauth2/authorize?{urlencode({k: v for k, v in params.items() if v is not None})}"


def exchange(http: requests.Session, sandbox_url: str, code: str, verifier: str, *, auth=(CLIENT_ID, CLIENT_SECRET), **overrides: str) -> requests.Response:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": OAUTH2_CALLBACK,
        "code_verifier": verifier,
        "client_id": CLIENT_ID,
        **overrides,
    }
    return http.post(f"{sandbox_url}/2/oauth2/token", data=data, auth=auth)


def code_for(http: requests.Session, sandbox_url: str, verifier: str, username: str = "alice_bot") -> str:
    return query_param(approve(http, sandbox_url, authorize_url(sandbox_url, verifier), username), "code")


def test_pkce_s256_flow_with_tweepy(sandbox_url, http):
    handler = oauth2_handler(sandbox_url)
    url = handler.get_authorization_url()
    assert http.get(url).status_code == 200  # the consent page

    callback = approve(http, sandbox_url, url, "bob_news")

    assert callback.startswith(OAUTH2_CALLBACK + "?")
    assert query_param(callback, "state") == query_param(url, "state")
    token = handler.fetch_token(callback)
    assert token["token_type"] == "bearer"
    assert token["expires_in"] == 7200
    assert token["scope"] == list(POSTER_SCOPES)
    assert token["refresh_token"]
    me = sandbox_client(sandbox_url, bearer_token=token["access_token"]).get_me(user_auth=False)
    assert (me.data.id, me.data.username) == (1002, "bob_news")


def test_pkce_plain_flow_on_x_hosts(sandbox_url, http):
    """tweepy's spelling of the hosts: twitter.com to authorize, api.twitter.com for tokens."""
    redirect_session(http, sandbox_url)
    verifier = secrets.token_urlsafe(48)
    url = authorize_url("https://twitter.com", verifier, state="plain-state")

    callback = approve(http, sandbox_url, url, "alice_bot")
    answer = exchange(http, "https://api.twitter.com", query_param(callback, "code"), verifier)

    assert query_param(callback, "state") == "plain-state"
    assert answer.status_code == 200
    body = answer.json()
    # No offline.access, no refresh token.
    assert set(body) == {"token_type", "expires_in", "access_token", "scope"}
    assert body["scope"] == READ_SCOPES


def test_refresh_rotates_and_a_used_refresh_token_is_dead(sandbox_url, http):
    handler = oauth2_handler(sandbox_url)
    first = handler.fetch_token(approve(http, sandbox_url, handler.get_authorization_url(), "carol_daily"))

    second = handler.refresh(first["refresh_token"])

    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert second["scope"] == list(POSTER_SCOPES)
    me = sandbox_client(sandbox_url, bearer_token=second["access_token"]).get_me(user_auth=False)
    assert me.data.username == "carol_daily"
    reused = http.post(
        f"{sandbox_url}/2/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"], "client_id": CLIENT_ID},
        auth=(CLIENT_ID, CLIENT_SECRET),
    )
    assert reused.status_code == 400
    assert reused.json() == INVALID_TOKEN
    assert handler.refresh(second["refresh_token"])["access_token"]


def test_revoked_tokens_stop_working(sandbox_url, http):
    token = link_oauth2(http, sandbox_url, "alice_bot")
    revoke_url = f"{sandbox_url}/2/oauth2/revoke"

    for name in ("access_token", "refresh_token"):
        answer = http.post(revoke_url, data={"token": token[name], "token_type_hint": name}, auth=(CLIENT_ID, CLIENT_SECRET))
        assert answer.status_code == 200
        assert answer.json() == {"revoked": True}

    with pytest.raises(tweepy.Unauthorized):
        sandbox_client(sandbox_url, bearer_token=token["access_token"]).get_me(user_auth=False)
    with pytest.raises(Exception, match="Value passed for the token was invalid"):
        oauth2_handler(sandbox_url).refresh(token["refresh_token"])


def test_wrong_pkce_verifier_gets_400(sandbox_url, http):
    verifier = secrets.token_urlsafe(48)

    answer = exchange(http, sandbox_url, code_for(http, sandbox_url, verifier), secrets.token_urlsafe(48))

    assert answer.status_code == 400
    assert answer.json() == INVALID_TOKEN


def test_code_is_single_use(sandbox_url, http):
    verifier = secrets.token_urlsafe(48)
    code = code_for(http, sandbox_url, verifier)
    assert exchange(http, sandbox_url, code, verifier).status_code == 200

    again = exchange(http, sandbox_url, code, verifier)

    assert again.status_code == 400
    assert again.json() == INVALID_TOKEN


def test_code_expires(short_lived_sandbox, http):
    verifier = secrets.token_urlsafe(48)
    code = code_for(http, short_lived_sandbox, verifier)

    time.sleep(1.2)
    late = exchange(http, short_lived_sandbox, code, verifier)

    assert late.status_code == 400
    assert late.json() == INVALID_TOKEN


def test_expires_in_follows_the_access_token_ttl(short_lived_sandbox, http):
    verifier = secrets.token_urlsafe(48)

    answer = exchange(http, short_lived_sandbox, code_for(http, short_lived_sandbox, verifier), verifier)

    assert answer.status_code == 200
    assert answer.json()["expires_in"] == 60


def test_redirect_uri_must_match_the_authorize_request(sandbox_url, http):
    verifier = secrets.token_urlsafe(48)
    code = code_for(http, sandbox_url, verifier)

    answer = exchange(http, sandbox_url, code, verifier, redirect_uri="http://localhost:8000/accounts/x/link/oauth2/callback/")

    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"


@pytest.mark.parametrize("auth", [None, (CLIENT_ID, "not-the-secret")], ids=["no-basic-auth", "wrong-secret"])
def test_confidential_client_must_use_basic_auth(sandbox_url, http, auth):
    verifier = secrets.token_urlsafe(48)

    answer = exchange(http, sandbox_url, code_for(http, sandbox_url, verifier), verifier, auth=auth)

    assert answer.status_code == 401
    assert answer.json() == MISSING_CLIENT_AUTH


def test_token_without_tweet_write_cannot_post(sandbox_url, http):
    token = link_oauth2(http, sandbox_url, "alice_bot", scopes=("tweet.read", "users.read"))
    client = sandbox_client(sandbox_url, bearer_token=token["access_token"])
    assert client.get_me(user_auth=False).data.username == "alice_bot"

    with pytest.raises(tweepy.Forbidden) as raised:
        client.create_tweet(text="a token without tweet.write must not post this", user_auth=False)

    assert raised.value.response.status_code == 403
    assert "tweet.write" in raised.value.response.json()["detail"]


def test_redirect_uri_registered_at_run_time_is_accepted(sandbox_url, http):
    redirect_uri = f"http://127.0.0.1:7000/linked/{secrets.token_hex(4)}/"
    url = authorize_url(sandbox_url, secrets.token_urlsafe(48), redirect_uri=redirect_uri)
    assert http.get(url).status_code == 400

    assert http.post(f"{sandbox_url}/_sandbox/callbacks", json={"url": redirect_uri}).status_code == 201

    assert approve(http, sandbox_url, url, "alice_bot").startswith(redirect_uri + "?")


def test_cancel_redirects_with_access_denied_and_the_state(sandbox_url, http):
    url = authorize_url(sandbox_url, secrets.token_urlsafe(48), state="cancel-state")

    callback = deny(http, sandbox_url, url)

    assert callback == f"{OAUTH2_CALLBACK}?error=access_denied&state=cancel-state"


@pytest.mark.parametrize(
    "overrides",
    [
        {"redirect_uri": "http://127.0.0.1:8000/not/registered/"},
        {"redirect_uri": "http://127.0.0.1:8000/accounts/x/link/oauth2/callback"},  # no trailing slash
        {"client_id": "someone-else"},
    ],
    ids=["unregistered-redirect-uri", "inexact-redirect-uri", "unknown-client"],
)
def test_bad_client_or_redirect_uri_shows_an_error_instead_of_redirecting(sandbox_url, http, overrides):
    page = http.get(authorize_url(sandbox_url, secrets.token_urlsafe(48), **overrides), allow_redirects=False)

    assert page.status_code == 400
    assert "Location" not in page.headers
    assert "weren&#x27;t able to give access" in page.text


@pytest.mark.parametrize(
    "overrides",
    [{"state": "s" * 501}, {"code_challenge": None, "code_challenge_method": None}, {"scope": "tweet.read no.such.scope"}],
    ids=["state-over-500-chars", "no-pkce", "unknown-scope"],
)
def test_bad_request_redirects_back_with_an_error(sandbox_url, http, overrides):
    answer = http.get(authorize_url(sandbox_url, secrets.token_urlsafe(48), **overrides), allow_redirects=False)

    assert answer.status_code == 302
    assert answer.headers["Location"].startswith(OAUTH2_CALLBACK + "?")
    assert query_param(answer.headers["Location"], "error") in ("invalid_request", "invalid_scope")


def test_state_of_500_chars_is_echoed(sandbox_url, http):
    state = "s" * 500

    callback = approve(http, sandbox_url, authorize_url(sandbox_url, secrets.token_urlsafe(48), state=state), "alice_bot")

    assert query_param(callback, "state") == state
