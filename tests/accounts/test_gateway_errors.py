"""Every failure talking to X leaves the gateway as one of five kinds, with
words a person can act on. The failures are real: a closed port, the sandbox's
injected latency, status codes, dropped connections and answers that cannot be
read. A post is never failed while it may be on X."""

from __future__ import annotations

import signal
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
import tweepy
from celery.exceptions import SoftTimeLimitExceeded
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from accounts import gateway
from accounts.gateway import XError, XErrorKind
from tests.bots.conftest import link_with_minted_tokens
from tests.support import free_port

CREATE = "POST /2/tweets"
NO_ID = "X's answer could not be read (it names no post id)"


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


def texts_on_x(sandbox: str) -> list[str]:
    return [p["text"] for p in requests.get(f"{sandbox}/_sandbox/posts", timeout=10).json()["posts"]]


@contextmanager
def soft_time_limit_after(seconds: float) -> Iterator[None]:
    """Celery's soft time limit as a prefork worker gets it: SIGUSR1, whose
    handler raises SoftTimeLimitExceeded wherever the task is."""

    def expire(signum: int, frame: object) -> None:
        raise SoftTimeLimitExceeded()

    previous = signal.signal(signal.SIGUSR1, expire)
    timer = threading.Timer(seconds, signal.pthread_kill, (threading.main_thread().ident, signal.SIGUSR1))
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        timer.join()
        signal.signal(signal.SIGUSR1, previous)


def test_nothing_listening_is_transient(account, settings):
    settings.X_API_BASE = f"http://127.0.0.1:{free_port()}"

    error = failure(lambda: gateway.create_post(account, text="hello"))

    assert error.kind == XErrorKind.TRANSIENT
    assert "could not be reached" in error.message


@pytest.fixture
def untrusted_tls(tmp_path: Path) -> Iterator[str]:
    """A TLS server on localhost with a self-signed certificate that no client
    trusts: the handshake fails before any request is written."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)
    received: list[bytes] = []

    def serve() -> None:
        connection, _ = listener.accept()
        try:
            with context.wrap_socket(connection, server_side=True) as tls:
                received.append(tls.recv(1024))
        except (ssl.SSLError, OSError):
            pass

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    yield f"https://127.0.0.1:{listener.getsockname()[1]}"
    server.join(timeout=5)
    listener.close()
    assert received == [], "no request was written"


def test_a_certificate_that_cannot_be_verified_is_transient(account, settings, untrusted_tls):
    settings.X_API_BASE = untrusted_tls

    error = failure(lambda: gateway.create_post(account, text="hello"))

    assert error.kind == XErrorKind.TRANSIENT
    assert "certificate could not be verified" in error.message


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


@pytest.mark.parametrize(
    "rule, words",
    [
        ({"mode": "garbled_body"}, "X's answer could not be read (it was not JSON)"),
        ({"mode": "garbled_body", "body": '{"data": {"text": "no id"}}'}, NO_ID),
        ({"mode": "garbled_body", "body": '{"data": null}'}, NO_ID),
        ({"mode": "truncated_body"}, "X's answer could not be read (it was cut off)"),
    ],
    ids=["not-json", "no-id", "no-data", "cut-off"],
)
def test_a_201_that_cannot_be_read_is_unknown_and_the_post_is_on_x(account, sandbox, rule, words):
    fault(sandbox, endpoint=CREATE, count=1, **rule)

    error = failure(lambda: gateway.create_post(account, text="Published, but who can tell?"))

    assert error.kind == XErrorKind.UNKNOWN_OUTCOME
    assert error.message == f"{words}; checking on X whether the post was published."
    assert texts_on_x(sandbox) == ["Published, but who can tell?"], "failing it would have been wrong"


def test_an_answer_to_a_read_that_cannot_be_read_is_transient(account, sandbox):
    fault(sandbox, endpoint="GET /2/users/me", mode="truncated_body", count=1)

    error = failure(lambda: gateway.get_me(account))

    assert error.kind == XErrorKind.TRANSIENT
    assert "could not be read" in error.message


def test_a_soft_time_limit_while_x_answers_is_unknown_for_a_post(account, sandbox):
    fault(sandbox, endpoint=CREATE, mode="latency", seconds=1, count=1)

    with soft_time_limit_after(0.3):
        error = failure(lambda: gateway.create_post(account, text="Slow to answer"))

    assert error.kind == XErrorKind.UNKNOWN_OUTCOME
    assert error.message == (
        "The worker ran out of time while talking to X; checking on X whether the post was published."
    )
    deadline = time.monotonic() + 5
    while not texts_on_x(sandbox) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert texts_on_x(sandbox) == ["Slow to answer"], "X published it after the worker gave up"


@pytest.mark.parametrize("exc", [KeyError("id"), TypeError("'NoneType' object is not subscriptable"), RuntimeError()])
def test_an_error_nobody_foresaw_is_unknown_for_a_post_and_permanent_for_a_read(exc):
    posted = gateway.classify(exc, applied_if_sent=True)
    read = gateway.classify(exc, applied_if_sent=False)

    assert posted.kind == XErrorKind.UNKNOWN_OUTCOME
    assert posted.message.endswith("checking on X whether the post was published.")
    assert type(exc).__name__ in posted.message
    assert read.kind == XErrorKind.PERMANENT


def test_an_answer_neither_success_nor_refusal_is_unknown_for_a_post():
    response = requests.Response()
    response.status_code = 302
    response._content = b""

    error = gateway.classify(tweepy.HTTPException(response), applied_if_sent=True)

    assert (error.kind, error.status) == (XErrorKind.UNKNOWN_OUTCOME, 302)


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
