"""Fixtures every part of the suite may use: the real services the platform
talks to, started for the test session."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
import redis
import requests
from celery.beat import Service
from celery.contrib.testing.worker import start_worker
from celery.worker import WorkController
from django.db import connections
from django.test import Client, override_settings
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler

from botplatform.celery import app as celery_app
from botplatform.schedules import install_schedules
from tests.people import client_for, staff
from tests.support import free_port, start_sandbox, stop_sandbox


def _wait_for_redis(url: str, process: subprocess.Popen[bytes], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited with {process.returncode}")
        try:
            with redis.Redis.from_url(url, socket_connect_timeout=0.2) as client:
                client.ping()
            return
        except redis.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError(f"redis-server did not answer within {seconds} s")


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis for the session: $REDIS_URL when set (CI), otherwise a private
    redis-server on a free port that keeps nothing on disk. Settings and the
    Celery app are pointed at it."""
    url = os.environ.get("REDIS_URL")
    process = None
    if not url:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed: run `make test`, which installs it, or set REDIS_URL")
        port = free_port()
        url = f"redis://127.0.0.1:{port}/0"
        process = subprocess.Popen(
            [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        _wait_for_redis(url, process)
    celery_app.conf.broker_url = url
    try:
        with override_settings(REDIS_URL=url, CELERY_BROKER_URL=url):
            yield url
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=10)


@pytest.fixture
def worker(redis_url: str) -> Iterator[WorkController]:
    """A real Celery worker consuming from the session's Redis, in a thread of
    the test process (so it uses the test database)."""
    with start_worker(celery_app, pool="solo", perform_ping_check=False, loglevel="WARNING") as running:
        yield running


@pytest.fixture
def beat(transactional_db: None, worker: object) -> Iterator[None]:
    """Real beat, reading the installed schedule from the test database."""
    install_schedules()
    # As if beat had been down a while: the heartbeat is due at once instead
    # of one interval after beat starts.
    PeriodicTask.objects.update(last_run_at=timezone.now() - timedelta(hours=1))
    service = Service(app=celery_app, scheduler_cls=DatabaseScheduler, max_interval=1)

    def run_beat() -> None:
        try:
            service.start()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run_beat, daemon=True)
    thread.start()
    yield
    service.stop()
    thread.join(timeout=10)


# Callback URLs of the Django test client; the live server's are registered by
# the tests that use it, since its port is chosen at run time.
TEST_CALLBACKS = (
    "http://testserver/accounts/x/link/oauth1/callback/",
    "http://testserver/accounts/x/link/oauth2/callback/",
)


@pytest.fixture(scope="session")
def sandbox_url() -> Iterator[str]:
    """The X API sandbox, as a real process for the whole session."""
    proc, url = start_sandbox("--memory")
    yield url
    stop_sandbox(proc)


def register_callbacks(sandbox_url: str, *urls: str) -> None:
    for url in urls:
        response = requests.post(f"{sandbox_url}/_sandbox/callbacks", json={"url": url}, timeout=10)
        assert response.status_code == 201, response.text


@pytest.fixture
def sandbox(sandbox_url, settings) -> str:
    """A clean sandbox that the platform's gateway talks to instead of X."""
    response = requests.post(f"{sandbox_url}/_sandbox/reset", timeout=10)
    assert response.status_code == 200, response.text
    register_callbacks(sandbox_url, *TEST_CALLBACKS)
    settings.X_API_BASE = sandbox_url
    return sandbox_url


@pytest.fixture
def http() -> Iterator[requests.Session]:
    """A browser's worth of HTTP (cookies kept) for pages on the sandbox."""
    with requests.Session() as session:
        yield session


# Two staff users who are not superusers, each signed in on a client of their own.


@pytest.fixture
def alice(db):
    return staff("alice")


@pytest.fixture
def bob(db):
    return staff("bob")


@pytest.fixture
def alice_client(client, alice) -> Client:
    client.force_login(alice)
    return client


@pytest.fixture
def bob_client(bob) -> Client:
    return client_for(bob)
