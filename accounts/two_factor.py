"""Two-factor sign-in: who must give a code from an authenticator app after
the password, and the app itself (a TOTP device of django-otp) that a person
sets up, confirms and removes.

``two_factor_required`` is the one place that decides who needs a second
factor. Everything else follows it: the middleware that keeps a person on the
code page (or on the setup page, when they must but have no app yet) until
they are through, and the pages themselves.
"""

from __future__ import annotations

import enum
import re
from base64 import b32encode
from datetime import datetime

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice, default_key

from . import access

APP_NAME = "Authenticator app"
# Six digits (what apps show by default), or eight for a device made so in
# the admin; people often type the space some apps show in the middle. ASCII
# digits only: int() would read other scripts' digits too.
CODE = re.compile(r"[0-9]{6}(?:[0-9]{2})?", re.ASCII)


class TwoFactorError(Exception):
    """Refused, with words the person can act on."""


class Step(enum.Enum):
    """What stands between a signed-in person and the admin."""

    VERIFY = "verify"  # give the code of their confirmed app
    SET_UP = "set_up"  # two-factor is required of them, and they have no app yet


def two_factor_required(user) -> bool:
    """Must this person give a second factor when they sign in?

    Yes when they confirmed an authenticator app, when a workspace they are
    a member of asks it of its members (an owner's setting), and for everyone
    when the deployment says so (``TWO_FACTOR_REQUIRED_FOR_STAFF``). A person
    for whom it is required but who has no app yet is sent to set one up
    before any other page.
    """
    return settings.TWO_FACTOR_REQUIRED_FOR_STAFF or has_app(user) or access.two_factor_asked(user)


def has_app(user) -> bool:
    """Whether the person has a confirmed authenticator app."""
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).exists()


def confirmed_apps(user) -> list[TOTPDevice]:
    return list(TOTPDevice.objects.devices_for_user(user, confirmed=True).order_by("pk"))


def step_before_admin(*, user, verified: bool) -> Step | None:
    """What this signed-in person must do before they may see any other
    page: nothing, give a code (``VERIFY``) or set up an app (``SET_UP``).
    ``verified``: they gave a code of a confirmed app in this session."""
    if verified or not two_factor_required(user):
        return None
    return Step.VERIFY if has_app(user) else Step.SET_UP


# --- setting up an app ----------------------------------------------------------------------


def new_app_key() -> str:
    """A new secret for an authenticator app: 20 random bytes, hex-encoded as
    django-otp keeps them. It becomes a device only once a code confirms it."""
    return default_key()


def is_app_key(value: object) -> bool:
    return isinstance(value, str) and len(value) == 40 and all(c in "0123456789abcdef" for c in value)


def app_secret_text(key: str) -> str:
    """The secret as a person types it into an app: base32, in groups of four."""
    secret = b32encode(bytes.fromhex(key)).decode().rstrip("=")
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def app_setup_uri(*, user, key: str) -> str:
    """The otpauth:// address an app reads from the QR code."""
    return TOTPDevice(user=user, key=key).config_url


def app_setup_qr_svg(*, user, key: str) -> str:
    """The QR code of the setup address, as inline SVG (dark on white, so it
    scans in the admin's dark theme too)."""
    image = qrcode.make(app_setup_uri(user=user, key=key), image_factory=qrcode.image.svg.SvgPathFillImage)
    return image.to_string(encoding="unicode")


def app_confirm(*, user, key: str, code: str) -> TOTPDevice:
    """Turn two-factor sign-in on with the app holding ``key``, once ``code``
    shows the app makes the right codes. Until then nothing is saved."""
    code = _clean_code(code)
    if not is_app_key(key):
        raise TwoFactorError("This setup page is out of date: scan the new QR code below, "
                             "then enter the code your app shows.")
    with transaction.atomic():
        # One setup at a time per person: two tabs confirming at once make one app.
        get_user_model().objects.select_for_update().get(pk=user.pk)
        if has_app(user):
            raise TwoFactorError("Two-factor sign-in is already on for you. "
                                 "To change apps, remove the one you have first.")
        # django-otp's own check (time steps, tolerance, drift), on a device
        # that is rolled back with the refusal if the code is wrong.
        device = TOTPDevice.objects.create(user=user, key=key, name=APP_NAME, confirmed=False)
        if not device.verify_token(code):
            raise TwoFactorError("That code does not match this QR code. Check that the app's clock is "
                                 "right, then enter the code it shows now.")
        device.confirmed = True
        device.save(update_fields=["confirmed"])
    return device


# --- using it -------------------------------------------------------------------------------


def code_check(*, user, code: str) -> TOTPDevice:
    """The person's confirmed app that accepts ``code``. A wrong code counts
    against each app (django-otp's throttling: after n wrong codes in a row,
    the next try waits 2**(n-1) seconds), and a code is accepted once."""
    code = _clean_code(code)
    with transaction.atomic():
        devices = list(TOTPDevice.objects.devices_for_user(user, confirmed=True).select_for_update().order_by("pk"))
        if not devices:
            raise TwoFactorError("You have no authenticator app set up.")
        waiting = all(not device.verify_is_allowed()[0] for device in devices)
        for device in devices:
            # Refuses without counting while the device makes the person wait.
            if device.verify_token(code):
                return device
    # Past the transaction, so that the wrong code's count is kept.
    retry_at = min(_next_try(device) for device in devices)
    if waiting:
        raise TwoFactorError(f"Too many wrong codes in a row: try again at {_clock(retry_at)}.")
    later = ""
    # A second's wait after one wrong code is not worth a sentence.
    if (retry_at - timezone.now()).total_seconds() > 1:
        wrong = max(device.throttling_failure_count for device in devices)
        later = f" After {wrong} wrong codes in a row, the next try waits until {_clock(retry_at)}."
    raise TwoFactorError(f"That code is not right, or it was used already. "
                         f"Enter the code your authenticator app shows now.{later}")


def app_remove(*, user, code: str) -> int:
    """Turn two-factor sign-in off: with a current code, the person's apps are
    removed. Returns how many were."""
    code_check(user=user, code=code)
    deleted, _ = TOTPDevice.objects.filter(user=user).delete()
    return deleted


def _clean_code(code: str) -> str:
    code = "".join(str(code or "").split())
    if not CODE.fullmatch(code):
        raise TwoFactorError("Enter the 6-digit code your authenticator app shows (digits only).")
    return code


def _next_try(device: TOTPDevice) -> datetime:
    allowed, why = device.verify_is_allowed()
    return timezone.now() if allowed else why["locked_until"]


def _clock(moment: datetime) -> str:
    """A time in the person's zone (the active one), to the second."""
    local = timezone.localtime(moment)
    return f"{local:%H:%M:%S} ({local.tzname()})"
