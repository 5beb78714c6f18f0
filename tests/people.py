"""The people of the tests: staff users in a time zone, and a browser-less
client signed in as one of them."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.test import Client


def staff(username: str, zone: str = "UTC", **extra):
    """A staff user who is not a superuser, scheduling in ``zone``."""
    return get_user_model().objects.create_user(
        username, f"{username}@example.com", "pw-" + username, is_staff=True, timezone=zone, **extra
    )


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client
