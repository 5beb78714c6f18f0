"""Codes as a person's authenticator app makes them, and time passing for
sign-in safety's pauses, for the tests of tests/accounts and tests/browser.

Time passing is made, not waited for: a pause "ends" by moving its failed
tries back by the cool-off, and a throttled code's wait by moving the failure
back. A person whose shown code was just used waits for the next one: the
tests take the next one at once.
"""

from __future__ import annotations

import base64
import time
from datetime import timedelta

from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import F
from django_otp.oath import hotp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import two_factor


def key_of_secret(secret: str) -> bytes:
    """The key behind the secret the setup page shows (base32 in groups)."""
    return base64.b32decode(secret.replace(" ", ""))


def code_now(key: bytes) -> str:
    return f"{hotp(key, int(time.time()) // 30):06d}"


def next_code(key: bytes, user) -> str:
    """The code the app shows now, or, when that one was used already, the
    next one (a person waits for it; the test takes it at once, which the
    platform's one-step tolerance accepts)."""
    used = TOTPDevice.objects.filter(user=user, confirmed=True).values_list("last_t", flat=True).first()
    step = max(int(time.time()) // 30, (used if used is not None else -1) + 1)
    return f"{hotp(key, step):06d}"


def wrong_code(key: bytes) -> str:
    """A code the app shows at no moment near now."""
    near = {f"{hotp(key, int(time.time()) // 30 + n):06d}" for n in range(-3, 4)}
    return next(code for code in (f"{d}" * 6 for d in range(10)) if code not in near)


def with_app(user) -> bytes:
    """The person set up an app (through the setup page's service) and it is confirmed."""
    key = two_factor.new_app_key()
    two_factor.app_confirm(user=user, key=key, code=f"{hotp(bytes.fromhex(key), int(time.time()) // 30):06d}")
    return bytes.fromhex(key)


def time_passes_for_throttle(user, seconds: float) -> None:
    TOTPDevice.objects.filter(user=user).update(
        throttling_failure_timestamp=F("throttling_failure_timestamp") - timedelta(seconds=seconds))


def cool_off_passes() -> None:
    """As if the pause's minutes went by with no new try."""
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - settings.AXES_COOLOFF_TIME - timedelta(seconds=1))
