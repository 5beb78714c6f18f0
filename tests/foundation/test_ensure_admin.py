"""`make run` makes an admin login once, keeps its password under var/ and
prints it on every start; the printed login opens /admin/."""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

pytestmark = pytest.mark.django_db


def ensure_admin(password_file: Path) -> str:
    out = StringIO()
    call_command("ensure_admin", "--password-file", str(password_file), stdout=out, no_color=True)
    return out.getvalue()


def printed_password(output: str) -> str:
    return re.search(r"password: (\S+)", output).group(1)


def test_the_first_run_makes_a_login_that_opens_the_admin(tmp_path: Path) -> None:
    password_file = tmp_path / "admin-password.txt"

    output = ensure_admin(password_file)

    assert "Admin login (new)" in output
    password = printed_password(output)
    assert password_file.read_text().strip() == password
    browser = Client(enforce_csrf_checks=True)
    browser.get("/admin/login/")
    response = browser.post(
        "/admin/login/?next=/admin/",
        {"username": "admin", "password": password, "csrfmiddlewaretoken": browser.cookies["csrftoken"].value},
    )
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert browser.get("/admin/").status_code == 200


def test_later_runs_print_the_same_login(tmp_path: Path) -> None:
    password_file = tmp_path / "admin-password.txt"
    first = ensure_admin(password_file)

    second = ensure_admin(password_file)

    assert "(new)" not in second
    assert printed_password(second) == printed_password(first)
    assert get_user_model().objects.count() == 1


def test_a_kept_password_outlives_a_new_database(tmp_path: Path) -> None:
    password_file = tmp_path / "admin-password.txt"
    password_file.write_text("kept-from-last-time\n")

    assert printed_password(ensure_admin(password_file)) == "kept-from-last-time"
    assert get_user_model().objects.get(username="admin").check_password("kept-from-last-time")


def test_a_password_changed_by_hand_is_reported_not_reset(tmp_path: Path) -> None:
    password_file = tmp_path / "admin-password.txt"
    ensure_admin(password_file)
    admin = get_user_model().objects.get(username="admin")
    admin.set_password("chosen by a person")
    admin.save()

    output = ensure_admin(password_file)

    assert "exists with a password other than the one in admin-password.txt" in output
    assert "python manage.py changepassword admin" in output
    admin.refresh_from_db()
    assert admin.check_password("chosen by a person")


def test_no_admin_is_made_beside_an_existing_superuser(tmp_path: Path) -> None:
    get_user_model().objects.create_superuser(username="alice", password="alice's own")

    output = ensure_admin(tmp_path / "admin-password.txt")

    assert "no 'admin' login was made, as superusers exist: alice" in output
    assert not get_user_model().objects.filter(username="admin").exists()
    assert not (tmp_path / "admin-password.txt").exists()
