"""A worker keeps each account's tweepy client between posts, and reads the
environment's proxy settings once, when a client is built: requests reached
X through the proxy the environment names, as requests would per request."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from accounts import gateway
from accounts.models import XAccount
from tests.bots.conftest import link_with_minted_tokens


@pytest.fixture
def account(sandbox, alice):
    return link_with_minted_tokens(sandbox, alice, "alice_bot")


class RecordingProxy(BaseHTTPRequestHandler):
    """A forward proxy for plain HTTP: it notes each request's target and
    passes the request on."""

    seen: list[str] = []

    def _forward(self) -> None:
        self.seen.append(f"{self.command} {self.path}")
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k: v for k, v in self.headers.items() if k.lower() not in {"host", "proxy-connection"}}
        with requests.Session() as direct:
            direct.trust_env = False  # not back through itself
            answer = direct.request(self.command, self.path, data=body, headers=headers, timeout=10)
        self.send_response(answer.status_code)
        for name in ("Content-Type", "x-rate-limit-limit", "x-rate-limit-remaining", "x-rate-limit-reset"):
            if name in answer.headers:
                self.send_header(name, answer.headers[name])
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    do_GET = do_POST = do_PUT = do_DELETE = _forward

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def proxy() -> Iterator[tuple[str, list[str]]]:
    seen: list[str] = []
    handler = type("Proxy", (RecordingProxy,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


@pytest.mark.django_db(transaction=True)
def test_an_accounts_client_is_kept_until_its_token_changes(sandbox, account):
    first = gateway.client_for(account)
    assert gateway.client_for(XAccount.objects.get(pk=account.pk)) is first

    refreshed = gateway.refresh_tokens(XAccount.objects.get(pk=account.pk), force=True)
    assert refreshed.oauth2_access_token != account.oauth2_access_token
    second = gateway.client_for(refreshed)
    assert second is not first
    assert second.bearer_token == refreshed.oauth2_access_token
    assert gateway.get_me(refreshed).username == "alice_bot"


@pytest.mark.django_db(transaction=True)
def test_requests_go_through_the_proxy_the_environment_names(sandbox, account, proxy, monkeypatch):
    address, seen = proxy
    monkeypatch.setenv("HTTP_PROXY", address)
    monkeypatch.setenv("HTTPS_PROXY", address)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)

    assert gateway.get_me(account).username == "alice_bot"
    assert seen == [f"GET {sandbox}/2/users/me?user.fields=profile_image_url"]


@pytest.mark.django_db(transaction=True)
def test_a_host_the_environment_exempts_is_reached_directly(sandbox, account, proxy, monkeypatch):
    address, seen = proxy
    monkeypatch.setenv("HTTP_PROXY", address)
    monkeypatch.setenv("HTTPS_PROXY", address)
    monkeypatch.setenv("NO_PROXY", "api.x.com")

    assert gateway.get_me(account).username == "alice_bot"
    assert seen == []
