"""Completing the sandbox's consent page without a browser: POST the form to the
authorize URL (OAuth 1.0a authorize/authenticate or OAuth 2.0 authorize) with
``username`` and ``decision``, as the sandbox documents."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import requests

from .tweepy_redirect import SandboxOAuth1UserHandler, SandboxOAuth2UserHandler, to_sandbox

# The sandbox's default app (its flags and environment variables can change it).
CONSUMER_KEY = "sandbox-consumer-key"
CONSUMER_SECRET = "sandbox-consumer-secret"
CLIENT_ID = "sandbox-client-id"
CLIENT_SECRET = "sandbox-client-secret"
APP_NAME = "botplatform (dev)"
OAUTH1_CALLBACK = "http://127.0.0.1:8000/accounts/x/link/oauth1/callback/"
OAUTH2_CALLBACK = "http://127.0.0.1:8000/accounts/x/link/oauth2/callback/"
POSTER_SCOPES = ("tweet.read", "tweet.write", "users.read", "offline.access", "media.write")


def decide(
    http: requests.Session, sandbox_url: str, authorize_url: str, *, decision: str, username: str = ""
) -> requests.Response:
    """The sandbox's answer to the consent form, redirects not followed."""
    return http.post(
        to_sandbox(authorize_url, sandbox_url),
        data={"username": username, "decision": decision},
        allow_redirects=False,
    )


def approve(http: requests.Session, sandbox_url: str, authorize_url: str, username: str) -> str:
    """Approve as ``username`` (created if new); the callback URL X sends the user to."""
    response = decide(http, sandbox_url, authorize_url, decision="allow", username=username)
    assert response.status_code == 302, response.text
    return response.headers["Location"]


def approve_pin(http: requests.Session, sandbox_url: str, authorize_url: str, username: str) -> str:
    """Approve an ``oob`` request token as ``username``; the PIN the page shows."""
    response = decide(http, sandbox_url, authorize_url, decision="allow", username=username)
    assert response.status_code == 200, response.text
    match = re.search(r'id="pin">(\d+)<', response.text)
    assert match, response.text
    return match.group(1)


def deny(http: requests.Session, sandbox_url: str, authorize_url: str) -> str:
    """Cancel; the callback URL X sends the user to."""
    response = decide(http, sandbox_url, authorize_url, decision="deny")
    assert response.status_code == 302, response.text
    return response.headers["Location"]


def query_param(url: str, name: str) -> str:
    return parse_qs(urlsplit(url).query)[name][0]


def link_oauth1(
    http: requests.Session, sandbox_url: str, username: str, *, access_type: str | None = None
) -> tuple[str, str]:
    """An OAuth 1.0a access token and secret for ``username``, through tweepy's web flow."""
    handler = SandboxOAuth1UserHandler(CONSUMER_KEY, CONSUMER_SECRET, callback=OAUTH1_CALLBACK, sandbox_url=sandbox_url)
    callback = approve(http, sandbox_url, handler.get_authorization_url(access_type=access_type), username)
    return handler.get_access_token(query_param(callback, "oauth_verifier"))


def link_oauth2(
    http: requests.Session, sandbox_url: str, username: str, *, scopes: tuple[str, ...] = POSTER_SCOPES
) -> dict:
    """An OAuth 2.0 token response for ``username``, through tweepy's PKCE flow."""
    handler = oauth2_handler(sandbox_url, scopes)
    return handler.fetch_token(approve(http, sandbox_url, handler.get_authorization_url(), username))


def oauth2_handler(sandbox_url: str, scopes: tuple[str, ...] = POSTER_SCOPES) -> SandboxOAuth2UserHandler:
    return SandboxOAuth2UserHandler(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uri=OAUTH2_CALLBACK,
        scope=list(scopes),
        sandbox_url=sandbox_url,
    )
