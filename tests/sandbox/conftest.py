"""The sandbox under test runs as a real process and is reached over HTTP."""

from __future__ import annotations

import pytest
import requests

from .xapi import ALICE, BOB, ApiClient, bearer


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
