"""People who link accounts: two staff users who are not superusers."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client


def _staff(username: str):
    return get_user_model().objects.create_user(username, f"{username}@example.com", "pw-" + username, is_staff=True)


@pytest.fixture
def alice(db):
    return _staff("alice")


@pytest.fixture
def bob(db):
    return _staff("bob")


@pytest.fixture
def alice_client(client, alice) -> Client:
    client.force_login(alice)
    return client


@pytest.fixture
def bob_client(bob) -> Client:
    other = Client()
    other.force_login(bob)
    return other
