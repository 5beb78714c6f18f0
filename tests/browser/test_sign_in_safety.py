"""Sign-in safety in a real browser: wrong passwords pause sign-in with words
until the pause ends; a person sets up an authenticator app, then signs in
with the password and its code; where two-factor is required, a person
without an app sets one up before anything else. More cases over HTTP:
tests/accounts/test_sign_in_safety.py."""

from __future__ import annotations

import re

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from accounts import two_factor
from tests.accounts.two_factor_support import (
    code_now,
    cool_off_passes,
    key_of_secret,
    next_code,
    time_passes_for_throttle,
    wrong_code,
)
from tests.browser.conftest import log_in
from tests.people import staff

pytestmark = pytest.mark.django_db(transaction=True)

LOGIN = "/admin/login/"
SETUP = "/admin/two-factor/"
VERIFY = "/admin/two-factor/verify/"


def test_wrong_passwords_pause_sign_in_with_words_until_the_cool_off_ends(page, live_server, settings):
    staff("nadia")
    assert settings.AXES_FAILURE_LIMIT == 5

    for _ in range(4):
        log_in(page, live_server, "nadia", "not my password")
        expect(page.locator(".errornote")).to_contain_text("Please enter the correct username and password")
    log_in(page, live_server, "nadia", "not my password")

    paused = page.locator("#sign-in-paused")
    expect(paused).to_have_text(re.compile(r"Sign-in paused after 5 failed tries\s+for “nadia” from your address\."))
    words = page.locator("#content-main").inner_text()
    assert "paused for 15 minutes, even with the right password" in words
    assert re.search(r"Try again after \d\d:\d\d \(UTC\)\.", words), words

    # The right password is refused while the pause lasts.
    log_in(page, live_server, "nadia", "pw-nadia")
    expect(page.locator("#sign-in-paused")).to_be_visible()
    page.goto(f"{live_server.url}/admin/")
    assert page.url.startswith(f"{live_server.url}{LOGIN}")

    cool_off_passes()
    log_in(page, live_server, "nadia", "pw-nadia")
    expect(page.locator("#user-tools")).to_contain_text("nadia")
    assert page.url == f"{live_server.url}/admin/"


def test_set_up_an_app_then_sign_in_with_its_code(page, live_server):
    omar = staff("omar")
    log_in(page, live_server, "omar", "pw-omar")
    page.goto(f"{live_server.url}{SETUP}")
    expect(page.locator("#two-factor-status")).to_contain_text("Two-factor sign-in is off")
    expect(page.locator(".two-factor-qr svg")).to_be_visible()
    key = key_of_secret(page.locator("#two-factor-secret").inner_text())
    assert two_factor.app_setup_uri(user=omar, key=key.hex()).startswith("otpauth://totp/botplatform%3Aomar?")

    # A wrong code confirms nothing.
    page.fill("#id_code", wrong_code(key))
    page.click("#confirm-app")
    expect(page.locator(".errornote")).to_have_text(
        "That code does not match this QR code. Check that the app's clock is right, then enter the code it "
        "shows now.")
    assert not TOTPDevice.objects.exists()
    # The same secret is still shown: the app scanned before keeps working.
    assert key_of_secret(page.locator("#two-factor-secret").inner_text()) == key

    page.fill("#id_code", code_now(key))
    page.click("#confirm-app")
    expect(page.locator(".messagelist")).to_contain_text("Two-factor sign-in is on.")
    expect(page.locator("#two-factor-status")).to_contain_text("Two-factor sign-in is on")
    assert TOTPDevice.objects.get().confirmed

    page.click("#logout-form button")
    log_in(page, live_server, "omar", "pw-omar")
    # The password alone opens nothing: the code page comes first.
    page.wait_for_url(f"{live_server.url}{VERIFY}?next=/admin/")
    page.goto(f"{live_server.url}/admin/accounts/xaccount/")
    page.wait_for_url(re.compile(re.escape(f"{live_server.url}{VERIFY}?next=") + r".*xaccount"))

    page.fill("#id_code", wrong_code(key))
    page.click("#verify-code")
    expect(page.locator(".errornote")).to_have_text(
        "That code is not right, or it was used already. Enter the code your authenticator app shows now.")
    assert TOTPDevice.objects.get().throttling_failure_count == 1

    time_passes_for_throttle(omar, 1)
    page.fill("#id_code", next_code(key, omar))
    page.click("#verify-code")
    page.wait_for_url(f"{live_server.url}/admin/accounts/xaccount/")
    expect(page.locator("#user-tools")).to_contain_text("omar")
    assert TOTPDevice.objects.get().throttling_failure_count == 0


def test_when_two_factor_is_required_a_person_without_an_app_sets_one_up_first(page, live_server, settings):
    settings.TWO_FACTOR_REQUIRED_FOR_STAFF = True
    staff("pia")
    log_in(page, live_server, "pia", "pw-pia")

    page.wait_for_url(f"{live_server.url}{SETUP}?next=/admin/")
    expect(page.locator("#two-factor-required")).to_have_text(
        "Two-factor sign-in is required for your sign-in. Set up an authenticator app to go on.")
    # No menu leads elsewhere, and no other page opens.
    expect(page.locator("#nav-sidebar")).to_have_count(0)
    for other in ("/admin/", "/admin/accounts/xaccount/", "/admin/password_change/", VERIFY):
        page.goto(f"{live_server.url}{other}")
        assert page.url == f"{live_server.url}{SETUP}?next={other}"

    page.goto(f"{live_server.url}/admin/accounts/xaccount/")
    key = key_of_secret(page.locator("#two-factor-secret").inner_text())
    page.fill("#id_code", code_now(key))
    page.click("#confirm-app")
    page.wait_for_url(f"{live_server.url}/admin/accounts/xaccount/")
    expect(page.locator(".messagelist")).to_contain_text("Two-factor sign-in is on.")
