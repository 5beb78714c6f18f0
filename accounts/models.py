"""Who may post where: people, the X accounts they link, and the link attempts
between a redirect to X and its callback."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from timezone_field import TimeZoneField

from .crypto import EncryptedTextField, is_undecryptable


def default_timezone() -> str:
    # A callable, so the deployment's TIME_ZONE is read when a user is made,
    # not frozen into a migration.
    return settings.TIME_ZONE


class User(AbstractUser):
    # The zone a person schedules posts in: the admin shows and reads their
    # times in it. Stored as the IANA name, read back as a ZoneInfo.
    timezone = TimeZoneField(default=default_timezone, choices_display="WITH_GMT_OFFSET")


class XAccount(models.Model):
    """An X account linked to the platform, and the credentials to act as it."""

    class AuthMethod(models.TextChoices):
        OAUTH1 = "oauth1", "OAuth 1.0a"
        OAUTH2 = "oauth2", "OAuth 2.0"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        NEEDS_REAUTH = "needs_reauth", "Needs reconnecting"

    TOKEN_FIELDS = ("oauth1_token", "oauth1_token_secret", "oauth2_access_token", "oauth2_refresh_token")

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="x_accounts")
    x_user_id = models.CharField("X user id", max_length=32, unique=True)
    username = models.CharField(max_length=64)
    name = models.CharField(max_length=128, blank=True)
    profile_image_url = models.URLField(max_length=500, blank=True)
    auth_method = models.CharField(max_length=8, choices=AuthMethod.choices)
    oauth1_token = EncryptedTextField(blank=True, default="")
    oauth1_token_secret = EncryptedTextField(blank=True, default="")
    oauth2_access_token = EncryptedTextField(blank=True, default="")
    oauth2_refresh_token = EncryptedTextField(blank=True, default="")
    token_expires_at = models.DateTimeField(null=True, blank=True)
    scopes = models.CharField(max_length=255, blank=True, default="")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    status_reason = models.TextField(blank=True, default="")
    linked_at = models.DateTimeField(default=timezone.now)
    last_verified_at = models.DateTimeField(null=True, blank=True)
    # X said 429 until then: nothing is sent for the account before it.
    rate_limited_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "X account"
        ordering = ["username"]
        indexes = [
            # Token refresh sweeps look for OAuth 2.0 tokens about to expire.
            models.Index(fields=["auth_method", "token_expires_at"], name="xaccount_token_expiry"),
        ]

    def __str__(self) -> str:
        return f"@{self.username}"

    def __repr__(self) -> str:
        # Never the tokens: only what identifies the account.
        return f"<XAccount {self.pk} @{self.username} {self.auth_method} {self.status}>"

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE

    @property
    def tokens_undecryptable(self) -> bool:
        """True when a stored token could not be decrypted with the configured keys."""
        return any(is_undecryptable(getattr(self, name)) for name in self.TOKEN_FIELDS)

    def mark_needs_reauth(self, reason: str) -> None:
        self.status = self.Status.NEEDS_REAUTH
        self.status_reason = reason
        self.save(update_fields=["status", "status_reason"])


class LinkAttempt(models.Model):
    """One run of an OAuth handshake, kept server-side between the redirect to X
    and X's callback: bound to the user (and, through the session, to the
    browser), single use, short-lived."""

    class Method(models.TextChoices):
        OAUTH1 = "oauth1", "OAuth 1.0a"
        OAUTH1_PIN = "oauth1_pin", "OAuth 1.0a PIN"
        OAUTH2 = "oauth2", "OAuth 2.0"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="x_link_attempts")
    method = models.CharField(max_length=16, choices=Method.choices)
    request_token = EncryptedTextField(blank=True, default="")
    request_token_secret = EncryptedTextField(blank=True, default="")
    state = EncryptedTextField(blank=True, default="")
    code_verifier = EncryptedTextField(blank=True, default="")
    redirect_uri = models.URLField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    TOKEN_FIELDS = ("request_token", "request_token_secret", "state", "code_verifier")

    def __repr__(self) -> str:
        return f"<LinkAttempt {self.pk} {self.method} user={self.user_id}>"

    @property
    def tokens_undecryptable(self) -> bool:
        return any(is_undecryptable(getattr(self, name)) for name in self.TOKEN_FIELDS)

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()
