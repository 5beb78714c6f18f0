"""The development admin login that ``make run`` prints: made once, kept in a
file under var/, and shown again on every start."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model

from botplatform.environment import secret_from_file


@dataclass(frozen=True)
class AdminLogin:
    username: str
    # None when the password is not known here (see ``problem``).
    password: str | None
    created: bool
    problem: str = ""


def default_password_file() -> Path:
    """Where the development admin's generated password is kept."""
    return settings.VAR_DIR / "admin-password.txt"


def ensure_admin(*, username: str, password_file: Path) -> AdminLogin:
    """Make the superuser ``username`` unless it or another superuser exists.

    A password someone changed by hand is never reset: it is reported instead.
    """
    User = get_user_model()
    user = User.objects.filter(username=username).first()
    if user is None:
        others = sorted(User.objects.filter(is_superuser=True).values_list("username", flat=True))
        if others:
            return AdminLogin(
                username=username,
                password=None,
                created=False,
                problem=f"no {username!r} login was made, as superusers exist: {', '.join(others)}",
            )
        # A saved password outlives a deleted database, so the login stays the same.
        password = secret_from_file(password_file, lambda: secrets.token_urlsafe(12))
        User.objects.create_superuser(username=username, email="", password=password)
        return AdminLogin(username=username, password=password, created=True)
    saved = password_file.read_text().strip() if password_file.is_file() else ""
    if saved and user.check_password(saved):
        return AdminLogin(username=username, password=saved, created=False)
    return AdminLogin(
        username=username,
        password=None,
        created=False,
        problem=f"{username!r} exists with a password other than the one in {password_file.name}; "
        f"set a new one with: python manage.py changepassword {username}",
    )
