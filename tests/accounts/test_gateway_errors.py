"""Every failure talking to X leaves the gateway as one of five kinds, with
words a person can act on. The failures are real: a closed port, the sandbox's
injected latency, status codes and dropped connections."""

from __future__ import annotations

import pytest
import requests

from accounts import gateway
from accounts.gateway import XError, XErrorKind
from tests.bots.conftest import link_with_minted_tokens
from tests.support import free_port

CREATE = "POST /2/tweets"


@pytest.fixture
def account(sandbox, alice):
    return link_with_minted_tokens(sandbox, alice, "alice_bot")


def fault(sandbox: str, **rule) -> None:
    answer = requests.put(f"{sandbox}/_sandbox/faults", json={"faults": [rule]}, timeout=10)
    assert answer.status_code == 200, answer.text


def failure(call) -> XError:
    with pytest.raises(XError) as raised:
        call()
    return raised.value


def test_nothing_listening_is_transient(account, settings):
    settings.X_API_BASE = f"http://127.0.0.1:{free_port()}"

    error = failure(lambda: gateway.create_post(account, text="hello"))

    assert error.kind == XErrorKind.TRANSIENT
    assert "could not be reached" in error.message


def test_no_answer_in_time_is_unknown_for_a_post_and_transient_for_a_read(account, sandbox, settings):
    settings.X_HTTP_READ_TIMEOUT = 1
    fault(sandbox, endpoint="*", mode="latency", seconds=2)

    assert failure(lambda: gateway.create_post(account, text="slow")).kind == XErrorKind.UNKNOWN_OUTCOME
    assert failure(lambda: gateway.get_me(account)).kind == XErrorKind.TRANSIENT


def test_a_dropped_connection_after_commit_is_unknown(account, sandbox):
    fault(sandbox, endpoint=CREATE, mode="drop_after_commit")

    error = failure(lambda: gateway.create_post(account, text="dropped"))

    assert error.kind == XErrorKind.UNKNOWN_OUTCOME


def test_a_5xx_is_unknown_for_a_post(account, sandbox):
    fault(sandbox, endpoint=CREATE, mode="status", status=503, empty_body=True)

    error = failure(lambda: gateway.create_post(account, text="server error"))

    assert (error.kind, error.status) == (XErrorKind.UNKNOWN_OUTCOME, 503)


def test_a_429_carries_its_reset(account, sandbox):
    fault(sandbox, endpoint=CREATE, mode="status", status=429, reset_after_secs=30)

    error = failure(lambda: gateway.create_post(account, text="too many"))

    assert error.kind == XErrorKind.RATE_LIMITED
    assert error.reset_at is not None
    assert "rate limit" in error.message


def test_a_refusal_is_permanent_with_xs_words(account):
    error = failure(lambda: gateway.create_post(account, text="x" * 300))

    assert error.kind == XErrorKind.PERMANENT
    assert "too long" in error.message


def test_a_duplicate_is_flagged(account):
    gateway.create_post(account, text="only once")

    error = failure(lambda: gateway.create_post(account, text="only once"))

    assert error.kind == XErrorKind.PERMANENT and error.duplicate


def test_a_revoked_oauth1_token_needs_reauth(sandbox, alice):
    account = link_with_minted_tokens(sandbox, alice, "carol_daily", method="oauth1")
    requests.post(f"{sandbox}/_sandbox/users/{account.x_user_id}/revoke", timeout=10)

    assert failure(lambda: gateway.get_me(account)).kind == XErrorKind.NEEDS_REAUTH
