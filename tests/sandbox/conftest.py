"""The sandbox under test runs as a real process and is reached over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest
import requests

from .xapi import ALICE, BOB, ApiClient, bearer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_sandbox(*args: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "xsandbox", "--port", str(port), *args],
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the sandbox exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, url
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("the sandbox did not start within 20 s")


def stop_sandbox(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def sandbox_url():
    proc, url = start_sandbox("--memory")
    yield url
    stop_sandbox(proc)


@pytest.fixture
def http():
    with requests.Session() as session:
        yield session


@pytest.fixture(autouse=True)
def clean_world(sandbox_url):
    """Every test starts from the world the sandbox started with."""
    response = requests.post(f"{sandbox_url}/_sandbox/reset", timeout=10)
    assert response.status_code == 200, response.text


@pytest.fixture
def control(sandbox_url) -> ApiClient:
    """The control API, ``/_sandbox/``."""
    return ApiClient(sandbox_url)


@pytest.fixture
def alice(sandbox_url) -> ApiClient:
    """alice_bot (1001) with an OAuth 2.0 token holding every poster scope."""
    return ApiClient(sandbox_url, bearer(sandbox_url, ALICE))


@pytest.fixture
def bob(sandbox_url) -> ApiClient:
    """bob_news (1002) with an OAuth 2.0 token holding every poster scope."""
    return ApiClient(sandbox_url, bearer(sandbox_url, BOB))
