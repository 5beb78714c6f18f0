"""The box `make run` ends with: the admin and its login, the sandbox's
timeline, where to link an account and which Redis is in use. Its addresses
come from the real URLconf, and they lead where they say."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests
from django.contrib.auth import get_user_model
from django.test import Client

from botplatform.admin_login import ensure_admin
from botplatform.devrun import Bearings, Redis, box, choose_redis

pytestmark = pytest.mark.django_db

WEB = "http://testserver"


def bearings(tmp_path: Path, *, sandbox_url: str = "http://127.0.0.1:8765", **overrides) -> str:
    values = {
        "web_url": WEB,
        "sandbox_url": sandbox_url,
        "x_api_base": sandbox_url,
        "redis": Redis("redis://127.0.0.1:40123/0", own_port=40123),
        "login": ensure_admin(username="admin", password_file=tmp_path / "admin-password.txt"),
    }
    return box(Bearings(**{**values, **overrides}).rows())


def row(text: str, label: str) -> str:
    """A row's text, its wrapped continuation lines joined."""
    lines = [line.strip("│ ").rstrip() for line in text.splitlines()[1:-1]]
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{label}:"))
    parts = [lines[start].split(":", 1)[1].strip()]
    for line in lines[start + 1:]:
        if not line or re.match(r"^\w[\w ]*:", line):
            break
        parts.append(line.strip())
    return " ".join(parts)


def signed_in(text: str) -> Client:
    """A browser signed in through the admin's login form with the box's login."""
    browser = Client(enforce_csrf_checks=True)
    browser.get("/admin/login/")
    response = browser.post("/admin/login/", {
        "username": row(text, "Username").split()[0],
        "password": row(text, "Password"),
        "csrfmiddlewaretoken": browser.cookies["csrftoken"].value,
    })
    assert response.status_code == 302, response.content
    return browser


def test_the_printed_login_opens_the_admin_it_names(tmp_path: Path) -> None:
    text = bearings(tmp_path)

    admin = row(text, "Admin")
    assert admin == f"{WEB}/admin/"
    assert row(text, "Username") == "admin  (new)"
    assert signed_in(text).get(admin.removeprefix(WEB)).status_code == 200


def test_the_next_step_is_the_page_that_links_an_account(tmp_path: Path) -> None:
    text = bearings(tmp_path)

    next_step = row(text, "Next")
    assert next_step.startswith("link an account: ")
    page = signed_in(text).get(next_step.removeprefix(f"link an account: {WEB}"))
    assert page.status_code == 200
    assert "Link with OAuth 2.0" in page.content.decode()


def test_the_timeline_is_the_sandboxs_page_of_posts(tmp_path: Path, sandbox_url: str) -> None:
    text = bearings(tmp_path, sandbox_url=sandbox_url)

    timeline = row(text, "Timeline")
    url = timeline.split()[0]
    assert url == f"{sandbox_url}/_sandbox/timeline"
    page = requests.get(url, timeout=10)
    assert page.status_code == 200
    assert "X API sandbox" in page.text
    assert "X API:" not in text


def test_x_itself_is_named_when_the_platform_does_not_use_the_sandbox(tmp_path: Path) -> None:
    text = bearings(tmp_path, x_api_base="https://api.x.com")

    assert row(text, "X API") == "https://api.x.com  (X itself, not the sandbox)"


def test_its_own_redis_is_on_a_free_port_not_6379() -> None:
    redis = choose_redis({})

    assert redis.own_port not in (None, 6379)
    assert redis.url == f"redis://127.0.0.1:{redis.own_port}/0"


def test_the_box_says_which_redis_it_uses(tmp_path: Path) -> None:
    own = bearings(tmp_path)
    named = bearings(tmp_path, redis=choose_redis({"REDIS_URL": "redis://:s3cret@cache.example.com:6380/2"}))

    assert row(own, "Redis") == "its own, redis://127.0.0.1:40123/0 (stops with make run)"
    assert row(named, "Redis") == "redis://cache.example.com:6380/2, named by REDIS_URL"
    assert "s3cret" not in named


def test_a_login_it_cannot_show_is_explained(tmp_path: Path) -> None:
    get_user_model().objects.create_superuser(username="alice", password="alice's own")

    text = bearings(tmp_path)

    assert row(text, "Login") == "no 'admin' login was made, as superusers exist: alice"
    assert "Password:" not in text


def test_parts_not_up_in_time_are_named_first(tmp_path: Path) -> None:
    text = bearings(tmp_path, not_ready={"web": "HTTP 503 (beat down)"})

    first = text.splitlines()[1]
    assert "Not up after 120 s: web: HTTP 503 (beat down)." in first


def test_every_line_of_the_box_is_framed_at_one_width(tmp_path: Path) -> None:
    text = bearings(tmp_path, redis=Redis("redis://a-rather-long-host-name.internal.example.com:6379/0"))

    lines = text.splitlines()
    assert lines[0].startswith("┌") and lines[-1].startswith("└")
    assert all(line.startswith("│ ") and line.endswith(" │") for line in lines[1:-1])
    assert len({len(line) for line in lines}) == 1
    assert max(len(line) for line in lines) <= 80
