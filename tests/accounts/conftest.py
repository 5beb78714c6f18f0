"""People who link accounts: two staff users who are not superusers."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.people import client_for, staff


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
