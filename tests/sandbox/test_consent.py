"""The consent page of the three authorize URLs: what it shows, and consenting
by POSTing its form (username + decision) without a browser."""

from __future__ import annotations

import secrets
from urllib.parse import urlencode

import pytest

from .consent import (
    APP_NAME,
    CLIENT_ID,
    CONSUMER_KEY,
    CONSUMER_SECRET,
    OAUTH1_CALLBACK,
    OAUTH2_CALLBACK,
    decide,
    link_oauth1,
    link_oauth2,
)
from .tweepy_redirect import SandboxOAuth1UserHandler, sandbox_client

SEEDED = ("alice_bot", "bob_news", "carol_daily")


def oauth1_url(sandbox_url: str, *, endpoint: str = "authorize", access_type: str | None = None) -> str:
    handler = SandboxOAuth1UserHandler(CONSUMER_KEY, CONSUMER_SECRET, callback=OAUTH1_CALLBACK, sandbox_url=sandbox_url)
    url = handler.get_authorization_url(signin_with_twitter=endpoint == "authenticate", access_type=access_type)
    assert f"/oauth/{endpoint}?" in url
    return url


def oauth2_url(sandbox_url: str, scope: str, state: str = "some-state") -> str:
    verifier = secrets.token_urlsafe(48)
    params = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": OAUTH2_CALLBACK,
        "scope": scope,
        "state": state,
        "code_challenge": verifier,
        "code_challenge_method": "plain",
    }
    return f"{sandbox_url}/i/oauth2/authorize?{urlencode(params)}"


@pytest.mark.parametrize("endpoint", ["authorize", "authenticate"])
def test_oauth1_page_shows_the_app_the_access_the_users_and_the_choices(sandbox_url, http, endpoint):
    page = http.get(oauth1_url(sandbox_url, endpoint=endpoint))

    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert f"Authorize {APP_NAME} to access your account?" in page.text
    assert "Post and delete posts for you" in page.text
    for username in SEEDED:
        assert f'name="username" value="{username}"' in page.text
    assert 'name="new_username"' in page.text
    assert 'name="decision" value="allow"' in page.text
    assert 'name="decision" value="deny"' in page.text


def test_read_access_is_shown_as_read_only(sandbox_url, http):
    page = http.get(oauth1_url(sandbox_url, access_type="read"))

    assert "See posts from your timeline" in page.text
    assert "Post and delete posts" not in page.text


def test_oauth2_page_lists_the_scopes_asked_for(sandbox_url, http):
    page = http.get(oauth2_url(sandbox_url, "tweet.read tweet.write media.write"))

    assert page.status_code == 200
    assert f"Authorize {APP_NAME} to access your account?" in page.text
    assert "Post and repost for you." in page.text
    assert "Upload media for you." in page.text
    assert "See your direct messages." not in page.text
    for username in SEEDED:
        assert f'name="username" value="{username}"' in page.text


def test_everything_on_the_page_is_escaped(sandbox_url, http):
    hostile = '"><script>alert(1)</script>'

    page = http.get(oauth2_url(sandbox_url, "tweet.read", state=hostile))

    assert "<script>" not in page.text
    assert "&quot;&gt;&lt;script&gt;" in page.text


def test_a_new_username_creates_a_user_with_a_fresh_numeric_id(sandbox_url, http):
    username = f"new_{secrets.token_hex(4)}"

    token, _ = link_oauth1(http, sandbox_url, username)
    again = link_oauth2(http, sandbox_url, username.upper())

    user_id = token.split("-")[0]
    assert user_id.isdigit() and user_id not in ("1001", "1002", "1003")
    me = sandbox_client(sandbox_url, bearer_token=again["access_token"]).get_me(user_auth=False)
    assert (str(me.data.id), me.data.username) == (user_id, username)


@pytest.mark.parametrize(
    "form, message",
    [
        ({"username": "no spaces here", "decision": "allow"}, "is not a valid username"),
        ({"username": "", "decision": "allow"}, "Pick a user or type a new username"),
        ({"username": "alice_bot"}, "decision=allow"),
    ],
    ids=["invalid-username", "no-username", "no-decision"],
)
def test_a_form_that_cannot_be_acted_on_is_shown_again_with_the_reason(sandbox_url, http, form, message):
    url = oauth1_url(sandbox_url)

    refused = http.post(url, data=form, allow_redirects=False)

    assert refused.status_code == 400
    assert message in refused.text
    assert 'name="decision" value="allow"' in refused.text
    assert decide(http, sandbox_url, url, decision="allow", username="alice_bot").status_code == 302


def test_approving_signs_the_user_in_for_the_next_page(sandbox_url, http):
    link_oauth2(http, sandbox_url, "carol_daily")

    page = http.get(oauth1_url(sandbox_url))

    assert http.cookies.get("xsandbox_user") == "1003"
    assert 'value="carol_daily" checked' in page.text


def test_an_unknown_request_token_gets_a_page_that_says_so(sandbox_url, http):
    page = http.get(f"{sandbox_url}/oauth/authorize?oauth_token=no-such-token")

    assert page.status_code == 400
    assert "The request token for this page is invalid" in page.text
