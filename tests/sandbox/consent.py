"""Completing the sandbox's consent page without a browser: POST the form to the
authorize URL (OAuth 1.0a authorize/authenticate or OAuth 2.0 authorize) with
``username`` and ``decision``, as the sandbox documents."""

from __future__ import annotations

import re

import requests

from .tweepy_redirect import to_sandbox


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
