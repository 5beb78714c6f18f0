"""Who may post where: people, and (later) the X accounts they link."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from timezone_field import TimeZoneField


def default_timezone() -> str:
    # A callable, so the deployment's TIME_ZONE is read when a user is made,
    # not frozen into a migration.
    return settings.TIME_ZONE


class User(AbstractUser):
    # The zone a person schedules posts in: the admin shows and reads their
    # times in it. Stored as the IANA name, read back as a ZoneInfo.
    timezone = TimeZoneField(default=default_timezone, choices_display="WITH_GMT_OFFSET")
