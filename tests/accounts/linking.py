"""Steps of a linking run as a person takes them: start in the platform, consent
on the sandbox's page (the form a browser would post), come back."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from tests.sandbox.consent import approve, deny

OAUTH1_START = "/accounts/x/link/oauth1/"
OAUTH2_START = "/accounts/x/link/oauth2/"


def start(client, path: str, **data) -> str:
    """POST the start form; the authorize URL on X (the sandbox) it redirects to."""
    response = client.post(path, data)
    assert response.status_code == 302, response.content
    return response["Location"]


def link(client, http, sandbox: str, start_path: str, username: str, **data):
    """A whole linking run; the platform's response to X's callback."""
    callback = approve(http, sandbox, start(client, start_path, **data), username)
    return client.get(callback)


def cancel(client, http, sandbox: str, start_path: str):
    return client.get(deny(http, sandbox, start(client, start_path)))


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def messages_of(response) -> list[str]:
    return [str(m) for m in response.wsgi_request._messages]
