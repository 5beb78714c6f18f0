"""OAuth 1.0a against the sandbox process: tweepy's web, sign-in and PIN flows,
and the failures X answers with."""

from __future__ import annotations

import secrets
import time
from urllib.parse import parse_qs

import pytest
import requests
import tweepy
from requests_oauthlib import OAuth1, OAuth1Session

from .consent import (
    CONSUMER_KEY,
    CONSUMER_SECRET,
    OAUTH1_CALLBACK,
    approve,
    approve_pin,
    deny,
    link_oauth1,
    query_param,
)
from .tweepy_redirect import SandboxOAuth1UserHandler, redirect_session, sandbox_client

UNAUTHORIZED = {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}
CALLBACK_NOT_APPROVED = (
    '<?xml version="1.0" encoding="UTF-8"?><errors><error code="415">Callback URL not approved for '
    "this client application. Approved callback URLs can be adjusted in your application settings"
    "</error></errors>"
)
COULD_NOT_AUTHENTICATE = {"errors": [{"code": 32, "message": "Could not authenticate you."}]}


def handler(sandbox_url: str, callback: str = OAUTH1_CALLBACK) -> SandboxOAuth1UserHandler:
    return SandboxOAuth1UserHandler(CONSUMER_KEY, CONSUMER_SECRET, callback=callback, sandbox_url=sandbox_url)


def user_client(sandbox_url: str, token: str, secret: str, consumer_secret: str = CONSUMER_SECRET) -> tweepy.Client:
    return sandbox_client(
        sandbox_url,
        consumer_key=CONSUMER_KEY,
        consumer_secret=consumer_secret,
        access_token=token,
        access_token_secret=secret,
    )


def test_web_flow_links_the_user_and_the_token_reads_me(sandbox_url, http):
    auth = handler(sandbox_url)
    url = auth.get_authorization_url()
    assert auth.request_token["oauth_callback_confirmed"] == "true"
    assert http.get(url).status_code == 200  # the consent page

    callback = approve(http, sandbox_url, url, "alice_bot")

    assert callback.startswith(OAUTH1_CALLBACK + "?")
    assert query_param(callback, "oauth_token") == auth.request_token["oauth_token"]
    token, secret = auth.get_access_token(query_param(callback, "oauth_verifier"))
    assert token.startswith("1001-")
    me = user_client(sandbox_url, token, secret).get_me(user_auth=True)
    assert (me.data.id, me.data.username) == (1001, "alice_bot")


def test_access_token_answer_names_the_user(sandbox_url, http):
    auth = handler(sandbox_url)
    callback = approve(http, sandbox_url, auth.get_authorization_url(), "bob_news")
    session = OAuth1Session(
        CONSUMER_KEY,
        client_secret=CONSUMER_SECRET,
        resource_owner_key=auth.request_token["oauth_token"],
        resource_owner_secret=auth.request_token["oauth_token_secret"],
        verifier=query_param(callback, "oauth_verifier"),
    )

    answer = session.post(f"{sandbox_url}/oauth/access_token")

    assert answer.status_code == 200
    body = {k: v[0] for k, v in parse_qs(answer.text).items()}
    assert set(body) == {"oauth_token", "oauth_token_secret", "user_id", "screen_name"}
    assert (body["user_id"], body["screen_name"]) == ("1002", "bob_news")
    assert body["oauth_token"].startswith("1002-")


def test_request_token_is_single_use(sandbox_url, http):
    auth = handler(sandbox_url)
    verifier = query_param(approve(http, sandbox_url, auth.get_authorization_url(), "alice_bot"), "oauth_verifier")
    auth.get_access_token(verifier)

    with pytest.raises(tweepy.TweepyException, match="401"):
        auth.get_access_token(verifier)
    assert "Whoa there!" in http.get(f"{sandbox_url}/oauth/authorize?oauth_token={auth.request_token['oauth_token']}").text


def test_request_token_is_signed_for_the_canonical_host_too(sandbox_url, http):
    """A client whose transport rewrote https://api.x.com after signing."""
    redirect_session(http, sandbox_url)

    answer = http.post(
        "https://api.x.com/oauth/request_token",
        auth=OAuth1(CONSUMER_KEY, CONSUMER_SECRET, callback_uri=OAUTH1_CALLBACK),
    )

    assert answer.status_code == 200
    assert set(parse_qs(answer.text)) == {"oauth_token", "oauth_token_secret", "oauth_callback_confirmed"}


def test_unregistered_callback_gets_403_with_code_415(sandbox_url, http):
    with pytest.raises(tweepy.TweepyException, match="403"):
        handler(sandbox_url, callback="http://127.0.0.1:9999/elsewhere/").get_authorization_url()

    answer = http.post(
        f"{sandbox_url}/oauth/request_token",
        auth=OAuth1(CONSUMER_KEY, CONSUMER_SECRET, callback_uri="http://127.0.0.1:8000/accounts/x/link/oauth1/callback"),
    )
    assert answer.status_code == 403
    assert answer.text == CALLBACK_NOT_APPROVED


def test_callback_registered_at_run_time_is_accepted(sandbox_url, http):
    callback = f"http://127.0.0.1:7000/linked/{secrets.token_hex(4)}/"
    auth = handler(sandbox_url, callback=callback)
    with pytest.raises(tweepy.TweepyException, match="403"):
        auth.get_authorization_url()

    assert http.post(f"{sandbox_url}/_sandbox/callbacks", json={"url": callback}).status_code == 201

    assert approve(http, sandbox_url, auth.get_authorization_url(), "alice_bot").startswith(callback + "?")


def test_wrong_consumer_secret_cannot_get_a_request_token(sandbox_url, http):
    answer = http.post(
        f"{sandbox_url}/oauth/request_token", auth=OAuth1(CONSUMER_KEY, "not-the-secret", callback_uri=OAUTH1_CALLBACK)
    )

    assert answer.status_code == 401
    assert answer.json() == COULD_NOT_AUTHENTICATE


def test_wrong_verifier_gets_401(sandbox_url, http):
    auth = handler(sandbox_url)
    approve(http, sandbox_url, auth.get_authorization_url(), "alice_bot")
    session = OAuth1Session(
        CONSUMER_KEY,
        client_secret=CONSUMER_SECRET,
        resource_owner_key=auth.request_token["oauth_token"],
        resource_owner_secret=auth.request_token["oauth_token_secret"],
        verifier="not-the-verifier",
    )

    answer = session.post(f"{sandbox_url}/oauth/access_token")

    assert answer.status_code == 401
    assert answer.text == "Error processing your OAuth request: Invalid oauth_verifier parameter"


def test_authenticate_skips_consent_for_the_signed_in_user_who_approved(sandbox_url, http):
    link_oauth1(http, sandbox_url, "carol_daily")  # approves the app and signs carol in
    auth = handler(sandbox_url)
    url = auth.get_authorization_url(signin_with_twitter=True)
    assert "/oauth/authenticate?" in url

    straight_back = http.get(url, allow_redirects=False)

    assert straight_back.status_code == 302
    token, _ = auth.get_access_token(query_param(straight_back.headers["Location"], "oauth_verifier"))
    assert token.startswith("1003-")


def test_authenticate_asks_when_forced_or_not_signed_in(sandbox_url, http):
    link_oauth1(http, sandbox_url, "carol_daily")
    forced = handler(sandbox_url).get_authorization_url(signin_with_twitter=True) + "&force_login=true"
    assert http.get(forced, allow_redirects=False).status_code == 200

    url = handler(sandbox_url).get_authorization_url(signin_with_twitter=True)
    with requests.Session() as another_browser:
        assert another_browser.get(url, allow_redirects=False).status_code == 200


def test_authorize_always_asks(sandbox_url, http):
    link_oauth1(http, sandbox_url, "carol_daily")

    page = http.get(handler(sandbox_url).get_authorization_url(), allow_redirects=False)

    assert page.status_code == 200
    assert 'name="decision" value="allow"' in page.text


def test_pin_flow(sandbox_url, http):
    auth = handler(sandbox_url, callback="oob")
    url = auth.get_authorization_url()

    pin = approve_pin(http, sandbox_url, url, "bob_news")

    assert len(pin) == 7 and pin.isdigit()
    token, _ = auth.get_access_token(pin)
    assert token.startswith("1002-")
    with pytest.raises(tweepy.TweepyException, match="401"):
        auth.get_access_token(pin)


def test_cancel_redirects_with_denied_and_kills_the_request_token(sandbox_url, http):
    auth = handler(sandbox_url)
    url = auth.get_authorization_url()

    callback = deny(http, sandbox_url, url)

    assert callback == f"{OAUTH1_CALLBACK}?denied={auth.request_token['oauth_token']}"
    assert http.get(url).status_code == 400
    with pytest.raises(tweepy.TweepyException, match="401"):
        auth.get_access_token("0000000")


def test_wrongly_signed_api_request_gets_401(sandbox_url, http):
    token, secret = link_oauth1(http, sandbox_url, "alice_bot")

    with pytest.raises(tweepy.Unauthorized) as raised:
        user_client(sandbox_url, token, secret, consumer_secret="not-the-secret").get_me(user_auth=True)

    assert raised.value.response.json() == UNAUTHORIZED


def test_signature_for_another_host_gets_401(sandbox_url, http):
    token, secret = link_oauth1(http, sandbox_url, "alice_bot")
    auth = OAuth1(CONSUMER_KEY, CONSUMER_SECRET, token, secret)
    signed_elsewhere = requests.Request("GET", "https://api.example.com/2/users/me", auth=auth).prepare()
    signed_elsewhere.url = f"{sandbox_url}/2/users/me"

    answer = http.send(signed_elsewhere)

    assert answer.status_code == 401
    assert answer.json() == UNAUTHORIZED


def test_revoked_access_token_gets_401_and_sign_in_asks_again(sandbox_url, http):
    username = f"revoked_{secrets.token_hex(3)}"
    token, secret = link_oauth1(http, sandbox_url, username)
    client = user_client(sandbox_url, token, secret)
    assert client.get_me(user_auth=True).data.username == username

    revoked = http.post(f"{sandbox_url}/_sandbox/users/{token.split('-')[0]}/revoke")

    assert revoked.status_code == 200
    with pytest.raises(tweepy.Unauthorized) as raised:
        client.get_me(user_auth=True)
    assert raised.value.response.json() == UNAUTHORIZED
    sign_in = handler(sandbox_url).get_authorization_url(signin_with_twitter=True)
    assert http.get(sign_in, allow_redirects=False).status_code == 200


def test_replayed_nonce_gets_401(sandbox_url, http):
    token, secret = link_oauth1(http, sandbox_url, "alice_bot")
    auth = OAuth1(CONSUMER_KEY, CONSUMER_SECRET, token, secret, nonce=f"replay{time.time_ns()}", timestamp=str(int(time.time())))

    first = http.get(f"{sandbox_url}/2/users/me", auth=auth)
    replay = http.get(f"{sandbox_url}/2/users/me", auth=auth)

    assert first.status_code == 200
    assert replay.status_code == 401
    assert replay.json() == UNAUTHORIZED


def test_stale_timestamp_gets_401(sandbox_url, http):
    token, secret = link_oauth1(http, sandbox_url, "alice_bot")
    auth = OAuth1(CONSUMER_KEY, CONSUMER_SECRET, token, secret, timestamp=str(int(time.time()) - 3600))

    answer = http.get(f"{sandbox_url}/2/users/me", auth=auth)

    assert answer.status_code == 401
    assert answer.json() == UNAUTHORIZED


def test_read_access_token_reads_but_cannot_post(sandbox_url, http):
    token, secret = link_oauth1(http, sandbox_url, "bob_news", access_type="read")
    client = user_client(sandbox_url, token, secret)
    assert client.get_me(user_auth=True).data.username == "bob_news"

    with pytest.raises(tweepy.Forbidden) as raised:
        client.create_tweet(text="a read-only token must not post this", user_auth=True)

    assert raised.value.response.json() == {
        "title": "Forbidden",
        "detail": "Your client app is not configured with the appropriate oauth1 app permissions for this endpoint.",
        "type": "https://api.twitter.com/2/problems/oauth1-permissions",
        "status": 403,
    }
