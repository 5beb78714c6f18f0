"""People are accounts.User: Django's user plus the time zone they schedule in."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

pytestmark = pytest.mark.django_db


def test_a_new_user_takes_the_deployments_time_zone(settings) -> None:
    settings.TIME_ZONE = "Europe/Berlin"

    assert get_user_model()(username="alice").timezone == ZoneInfo("Europe/Berlin")


def test_a_time_zone_is_kept_by_its_iana_name() -> None:
    bob = get_user_model().objects.create_user(username="bob", timezone="America/New_York")

    bob.refresh_from_db()

    assert bob.timezone == ZoneInfo("America/New_York")


def test_the_admin_adds_a_user_with_a_time_zone_and_refuses_an_unknown_one(admin_client: Client) -> None:
    form = {"username": "carol", "password1": "a long passphrase 42", "password2": "a long passphrase 42"}

    refused = admin_client.post("/admin/accounts/user/add/", form | {"timezone": "Mars/Olympus_Mons"})
    added = admin_client.post("/admin/accounts/user/add/", form | {"timezone": "Asia/Tokyo"})

    assert refused.status_code == 200
    assert "Select a valid choice" in refused.content.decode()
    assert added.status_code == 302
    assert get_user_model().objects.get(username="carol").timezone == ZoneInfo("Asia/Tokyo")


def test_the_admin_shows_a_users_time_zone(admin_client: Client, admin_user) -> None:
    response = admin_client.get(f"/admin/accounts/user/{admin_user.pk}/change/")

    assert response.status_code == 200
    assert 'name="timezone"' in response.content.decode()
