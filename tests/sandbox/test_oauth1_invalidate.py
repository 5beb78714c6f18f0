"""OAuth 1.0a tokens can be given up: ``POST /1.1/oauth/invalidate_token``,
signed with the token itself, as X documents it ("POST oauth/invalidate_token":
200 with the token, then 401 code 89 "Invalid or expired token.")."""

from __future__ import annotations

import pytest
import requests
from requests_oauthlib import OAuth1

from .consent import CONSUMER_KEY, CONSUMER_SECRET, link_oauth1
from .tweepy_redirect import redirect_session

INVALID_OR_EXPIRED = {"errors": [{"code": 89, "message": "Invalid or expired token."}]}


def signed(token: str, secret: str, consumer_secret: str = CONSUMER_SECRET) -> OAuth1:
    return OAuth1(CONSUMER_KEY, client_secret=consumer_secret, resource_owner_key=token, resource_owner_secret=secret)


@pytest.mark.parametrize("path", ["/1.1/oauth/invalidate_token", "/1.1/oauth/invalidate_token.json"])
def test_an_invalidated_token_stops_working(sandbox_url, http, path):
    token, secret = link_oauth1(http, sandbox_url, "alice_bot")
    other_token, other_secret = link_oauth1(requests.Session(), sandbox_url, "bob_news")
    # Signed for X's URL, as the platform signs it; the transport brings it here.
    x = redirect_session(requests.Session(), sandbox_url)
    assert x.get("https://api.x.com/2/users/me", auth=signed(token, secret)).status_code == 200

    answer = x.post(f"https://api.x.com{path}", auth=signed(token, secret))

    assert answer.status_code == 200, answer.text
    assert answer.json() == {"access_token": token}
    me = x.get("https://api.x.com/2/users/me", auth=signed(token, secret))
    assert me.status_code == 401
    again = x.post(f"https://api.x.com{path}", auth=signed(token, secret))
    assert (again.status_code, again.json()) == (401, INVALID_OR_EXPIRED)
    # Only that token: another user's stays good.
    assert x.get("https://api.x.com/2/users/me", auth=signed(other_token, other_secret)).status_code == 200


def test_a_wrongly_signed_request_invalidates_nothing(sandbox_url, http):
    token, secret = link_oauth1(http, sandbox_url, "alice_bot")
    x = redirect_session(requests.Session(), sandbox_url)

    answer = x.post("https://api.x.com/1.1/oauth/invalidate_token", auth=signed(token, secret, "not-the-secret"))

    assert answer.status_code == 401
    assert answer.json() == {"errors": [{"code": 32, "message": "Could not authenticate you."}]}
    assert x.get("https://api.x.com/2/users/me", auth=signed(token, secret)).status_code == 200
