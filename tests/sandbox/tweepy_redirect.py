"""An unmodified tweepy pointed at the sandbox the way the platform does it: a
transport adapter that rewrites X's URLs after the request is signed, and
subclasses of the OAuth handlers that replace the URLs tweepy hard-codes."""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

import requests
import tweepy
from requests.adapters import HTTPAdapter
from requests_oauthlib import OAuth2Session

X_HOSTS = ("api.twitter.com", "api.x.com", "twitter.com", "x.com")

# The sandbox and the development callbacks are plain http, which oauthlib's
# OAuth 2.0 client refuses unless told this is not production.
os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")


def to_sandbox(url: str, sandbox_url: str) -> str:
    """``url`` with an X host replaced by the sandbox; other URLs unchanged."""
    parts = urlsplit(url)
    if parts.scheme != "https" or parts.hostname not in X_HOSTS:
        return url
    base = urlsplit(sandbox_url)
    return urlunsplit((base.scheme, base.netloc, parts.path, parts.query, parts.fragment))


class SandboxAdapter(HTTPAdapter):
    """Sends a request meant for X to the sandbox. The request is already
    signed for the X URL, which the sandbox verifies the signature against."""

    def __init__(self, sandbox_url: str):
        super().__init__()
        self.sandbox_url = sandbox_url

    def send(self, request: requests.PreparedRequest, **kwargs) -> requests.Response:
        request.url = to_sandbox(request.url, self.sandbox_url)
        return super().send(request, **kwargs)


def redirect_session(session: requests.Session, sandbox_url: str) -> requests.Session:
    adapter = SandboxAdapter(sandbox_url)
    for host in X_HOSTS:
        session.mount(f"https://{host}/", adapter)
    return session


def sandbox_client(sandbox_url: str, **kwargs) -> tweepy.Client:
    """A ``tweepy.Client`` whose requests reach the sandbox."""
    client = tweepy.Client(**kwargs)
    redirect_session(client.session, sandbox_url)
    return client


class SandboxOAuth1UserHandler(tweepy.OAuth1UserHandler):
    def __init__(self, *args, sandbox_url: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.sandbox_url = sandbox_url

    def _get_oauth_url(self, endpoint: str) -> str:
        return f"{self.sandbox_url}/oauth/{endpoint}"


class SandboxOAuth2UserHandler(tweepy.OAuth2UserHandler):
    def __init__(self, *, sandbox_url: str, **kwargs):
        super().__init__(**kwargs)
        self.sandbox_url = sandbox_url

    def get_authorization_url(self) -> str:
        authorization_url, _ = self.authorization_url(
            f"{self.sandbox_url}/i/oauth2/authorize",
            code_challenge=self._client.create_code_challenge(self._client.create_code_verifier(128), "S256"),
            code_challenge_method="S256",
        )
        return authorization_url

    def fetch_token(self, authorization_response: str) -> dict:
        return OAuth2Session.fetch_token(
            self,
            f"{self.sandbox_url}/2/oauth2/token",
            authorization_response=authorization_response,
            auth=self.auth,
            include_client_id=True,
            code_verifier=self._client.code_verifier,
        )

    def refresh(self, refresh_token: str) -> dict:
        """tweepy has no refresh; requests-oauthlib's works with the handler's auth."""
        return self.refresh_token(f"{self.sandbox_url}/2/oauth2/token", refresh_token=refresh_token, auth=self.auth)
