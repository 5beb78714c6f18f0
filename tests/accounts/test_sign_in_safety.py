"""Sign-in safety over HTTP: wrong passwords pause sign-in (django-axes), and
a person with an authenticator app gives its code after the password
(django-otp). The journeys in a real browser are tests/browser/test_sign_in_safety.py;
these cover the rest (another address, a success clearing the count, the
admin's reset, bad codes, throttled codes, removing the app, the decision
itself, the settings)."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from io import StringIO

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.db.models import F
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import two_factor
from tests.accounts.two_factor_support import (
    code_now,
    key_of_secret,
    next_code,
    time_passes_for_throttle,
    with_app,
    wrong_code,
)
from tests.foundation.django_process import manage, settings_of
from tests.people import staff

LOGIN = "/admin/login/"
SETUP = "/admin/two-factor/"
VERIFY = "/admin/two-factor/verify/"
REMOVE = "/admin/two-factor/remove/"


def sign_in(client: Client, username: str, password: str, **extra):
    return client.post(LOGIN, {"username": username, "password": password, "next": "/admin/"}, **extra)


def signed_in(client: Client) -> bool:
    return client.get("/admin/").status_code == 200


@pytest.mark.django_db
def test_a_pause_holds_one_name_from_one_address_only():
    staff("nadia")
    staff("nils")
    for _ in range(5):
        answer = sign_in(Client(), "nadia", "guess")
    assert answer.status_code == 429

    elsewhere = Client(REMOTE_ADDR="203.0.113.9")
    assert sign_in(elsewhere, "nadia", "pw-nadia").status_code == 302
    assert signed_in(elsewhere)
    here = Client()
    assert sign_in(here, "nils", "pw-nils").status_code == 302
    assert signed_in(here)


@pytest.mark.django_db
def test_a_success_clears_the_count():
    staff("nadia")
    client = Client()
    for _ in range(4):
        assert sign_in(client, "nadia", "guess").status_code == 200
    assert sign_in(client, "nadia", "pw-nadia").status_code == 302
    client.post("/admin/logout/")

    for _ in range(4):
        assert sign_in(client, "nadia", "guess").status_code == 200
    assert sign_in(client, "nadia", "pw-nadia").status_code == 302
    assert signed_in(client)


@pytest.mark.django_db
def test_an_admin_lifts_a_pause_with_axes_reset_username():
    staff("nadia")
    client = Client()
    for _ in range(5):
        sign_in(client, "nadia", "guess")
    assert sign_in(client, "nadia", "pw-nadia").status_code == 429

    call_command("axes_reset_username", "nadia", stdout=StringIO())

    assert sign_in(client, "nadia", "pw-nadia").status_code == 302
    assert signed_in(client)


@pytest.mark.django_db
def test_each_try_during_the_pause_starts_it_again(settings):
    staff("nadia")
    client = Client()
    for _ in range(5):
        sign_in(client, "nadia", "guess")
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - settings.AXES_COOLOFF_TIME + timedelta(minutes=1))
    # A minute before the pause would end, another try: it starts again.
    assert sign_in(client, "nadia", "pw-nadia").status_code == 429
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=2))
    assert sign_in(client, "nadia", "pw-nadia").status_code == 429


def test_who_must_give_a_second_factor(db, settings):
    omar = staff("omar")
    assert not two_factor.two_factor_required(omar)
    TOTPDevice.objects.create(user=omar, name="never confirmed", confirmed=False)
    assert not two_factor.two_factor_required(omar)
    assert two_factor.step_before_admin(user=omar, verified=False) is None

    with_app(omar)
    assert two_factor.two_factor_required(omar)
    assert two_factor.step_before_admin(user=omar, verified=False) is two_factor.Step.VERIFY
    assert two_factor.step_before_admin(user=omar, verified=True) is None

    pia = staff("pia")
    settings.TWO_FACTOR_REQUIRED_FOR_STAFF = True
    assert two_factor.two_factor_required(pia)
    assert two_factor.step_before_admin(user=pia, verified=False) is two_factor.Step.SET_UP


@pytest.mark.django_db
def test_the_setup_page_saves_nothing_until_a_code_confirms_it():
    omar = staff("omar")
    client = Client()
    client.force_login(omar)

    page = client.get(SETUP).content.decode()
    secret = re.search(r'id="two-factor-secret">([A-Z2-7 ]+)<', page).group(1)
    assert len(secret.replace(" ", "")) == 32
    # The QR code holds the same secret as the text.
    assert two_factor.app_setup_qr_svg(user=omar, key=key_of_secret(secret).hex()) in page
    # A reload shows the same secret.
    assert secret in client.get(SETUP).content.decode()
    assert not TOTPDevice.objects.exists()

    for bad in ("", "12345", "١٢٣٤٥٦", "12345\x00", "9" * 100_000, "abcdef"):
        answer = client.post(SETUP, {"code": bad})
        assert answer.status_code == 200
        assert 'class="errornote"' in answer.content.decode(), bad
        assert not TOTPDevice.objects.exists()

    answer = client.post(SETUP, {"code": code_now(key_of_secret(secret))})
    assert answer.status_code == 302
    assert TOTPDevice.objects.get(user=omar).confirmed
    assert signed_in(client)


@pytest.mark.django_db
def test_a_code_is_accepted_once():
    omar = staff("omar")
    key = with_app(omar)
    first, second = Client(), Client()
    sign_in(first, "omar", "pw-omar")
    sign_in(second, "omar", "pw-omar")
    code = next_code(key, omar)

    assert first.post(VERIFY, {"code": code, "next": "/admin/"})["Location"] == "/admin/"
    replay = second.post(VERIFY, {"code": code})
    assert "That code is not right, or it was used already." in replay.content.decode()
    assert signed_in(first)
    assert not signed_in(second)


@pytest.mark.django_db
def test_wrong_codes_in_a_row_make_the_next_try_wait_with_words():
    omar = staff("omar")
    key = with_app(omar)
    client = Client()
    sign_in(client, "omar", "pw-omar")

    client.post(VERIFY, {"code": wrong_code(key)})
    time_passes_for_throttle(omar, 1)
    answer = client.post(VERIFY, {"code": wrong_code(key)}).content.decode()
    assert re.search(r"After 2 wrong codes in a row, the next try waits until \d\d:\d\d:\d\d \(UTC\)\.", answer)

    # While it waits, even the right code is refused, and the count stays.
    answer = client.post(VERIFY, {"code": next_code(key, omar)}).content.decode()
    assert re.search(r"Too many wrong codes in a row: try again at \d\d:\d\d:\d\d \(UTC\)\.", answer)
    assert TOTPDevice.objects.get().throttling_failure_count == 2
    assert not signed_in(client)

    time_passes_for_throttle(omar, 2)
    assert client.post(VERIFY, {"code": next_code(key, omar)}).status_code == 302
    assert signed_in(client)


@pytest.mark.django_db
def test_the_code_page_and_a_post_elsewhere_are_all_a_half_signed_in_person_gets():
    omar = staff("omar")
    with_app(omar)
    client = Client()
    answer = sign_in(client, "omar", "pw-omar")
    assert answer["Location"] == "/admin/"

    assert client.get("/admin/")["Location"] == f"{VERIFY}?next=/admin/"
    assert client.get(SETUP)["Location"].startswith(VERIFY)
    assert client.post(REMOVE, {"code": "123456"})["Location"] == VERIFY
    assert client.get("/accounts/x/link/oauth2/")["Location"].startswith(VERIFY)
    assert TOTPDevice.objects.filter(user=omar).exists()
    # A next that leads off the site is not followed.
    assert client.post(VERIFY, {"code": next_code(bytes.fromhex(TOTPDevice.objects.get().key), omar),
                                "next": "https://elsewhere.example/"})["Location"] == "/admin/"


@pytest.mark.django_db
def test_removing_the_app_takes_a_current_code():
    omar = staff("omar")
    key = with_app(omar)
    client = Client()
    sign_in(client, "omar", "pw-omar")
    client.post(VERIFY, {"code": next_code(key, omar)})

    refused = client.post(REMOVE, {"code": wrong_code(key)}).content.decode()
    assert "That code is not right" in refused
    assert TOTPDevice.objects.filter(user=omar).exists()

    time_passes_for_throttle(omar, 1)
    answer = client.post(REMOVE, {"code": next_code(key, omar)})
    assert answer["Location"] == SETUP
    assert not TOTPDevice.objects.filter(user=omar).exists()
    client.post("/admin/logout/")
    sign_in(client, "omar", "pw-omar")
    assert signed_in(client)


@pytest.mark.django_db
def test_removing_a_required_app_leads_back_to_setup(settings):
    settings.TWO_FACTOR_REQUIRED_FOR_STAFF = True
    omar = staff("omar")
    key = with_app(omar)
    client = Client()
    sign_in(client, "omar", "pw-omar")
    client.post(VERIFY, {"code": next_code(key, omar)})
    assert signed_in(client)

    client.post(REMOVE, {"code": next_code(key, omar)})

    assert client.get("/admin/")["Location"] == f"{SETUP}?next=/admin/"
    assert "required for your sign-in" in client.get(SETUP).content.decode()


@pytest.mark.django_db
def test_the_two_factor_pages_refuse_a_post_without_the_csrf_token():
    omar = staff("omar")
    client = Client(enforce_csrf_checks=True)
    client.force_login(omar)

    for url in (SETUP, REMOVE, VERIFY):
        assert client.post(url, {"code": "123456"}).status_code == 403, url
    assert not TOTPDevice.objects.exists()


def test_the_sign_in_settings_come_from_the_environment():
    result = settings_of(["AXES_FAILURE_LIMIT", "AXES_COOLOFF_TIME", "TWO_FACTOR_REQUIRED_FOR_STAFF"],
                         {"AXES_FAILURE_LIMIT": "3", "AXES_COOLOFF_MINUTES": "60", "TWO_FACTOR_REQUIRED_FOR_STAFF": "yes"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"AXES_FAILURE_LIMIT": 3, "AXES_COOLOFF_TIME": "1:00:00",
                                         "TWO_FACTOR_REQUIRED_FOR_STAFF": True}


@pytest.mark.parametrize(("env", "message"), [
    ({"AXES_FAILURE_LIMIT": "0"}, "AXES_FAILURE_LIMIT must be at least 1, got 0"),
    ({"AXES_COOLOFF_MINUTES": "soon"}, "AXES_COOLOFF_MINUTES must be a whole number, got 'soon'"),
    ({"TWO_FACTOR_REQUIRED_FOR_STAFF": "sometimes"}, "TWO_FACTOR_REQUIRED_FOR_STAFF must be true or false"),
])
def test_a_bad_sign_in_setting_stops_startup_with_words(env, message):
    result = manage("check", env=env)

    assert result.returncode == 1
    assert f"botplatform is misconfigured: {message}" in result.stderr
