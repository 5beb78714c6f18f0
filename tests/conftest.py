"""Fixtures every part of the suite may use: the real services the platform
talks to, started for the test session."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from celery.worker import WorkController
from django.test import override_settings

from botplatform.celery import app as celery_app


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
        port = unused_port()
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
