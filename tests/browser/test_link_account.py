"""A person links an X account from the admin in a real browser."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from accounts.models import XAccount
from tests.browser.conftest import log_in
from tests.conftest import register_callbacks

pytestmark = pytest.mark.django_db(transaction=True)


def test_link_an_account_with_oauth2_and_see_it_active(page, live_server, sandbox):
    register_callbacks(sandbox, f"{live_server.url}/accounts/x/link/oauth2/callback/")
    get_user_model().objects.create_superuser("admin", "admin@example.com", "correct horse")

    log_in(page, live_server, "admin")
    page.goto(f"{live_server.url}/admin/accounts/xaccount/")
    page.click("#link-x-account")
    page.click("#link-oauth2")

    assert page.url.startswith(f"{sandbox}/i/oauth2/authorize")
    assert "Authorize botplatform (dev)" in page.locator("h1").inner_text()
    page.fill("input[name=new_username]", "browser_bot")
    page.click("button[value=allow]")

    page.wait_for_url(f"{live_server.url}/admin/accounts/xaccount/")
    row = page.locator("#result_list tbody tr", has_text="@browser_bot")
    assert row.locator(".x-status-active").inner_text() == "Active"
    assert "@browser_bot is linked (OAuth 2.0)." in page.locator(".messagelist").inner_text()
    assert XAccount.objects.get().username == "browser_bot"
