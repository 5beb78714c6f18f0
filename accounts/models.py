"""Who may post where: people, the workspaces they are members of (with a role
each), the X accounts a workspace holds, and the link attempts between a
redirect to X and its callback. Who may do what with them is decided in
``accounts.access`` alone."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta

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
    # The workspace the person last chose in the admin: the pages show its
    # accounts, posts and bots. Kept only while they are a member of it.
    workspace = models.ForeignKey("Workspace", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                                  verbose_name="current workspace")


class Workspace(models.Model):
    """A team, brand or person that holds X accounts and everything hanging
    from them (posts, bots, queues, budgets, imports). People reach it as
    members, each with one role."""

    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)
    approval_required = models.BooleanField(
        "editors' posts need approval", default=False,
        help_text="When on, an editor's post waits for an admin or owner to approve it before it is scheduled.")
    two_factor_required = models.BooleanField(
        "two-factor sign-in required", default=False,
        help_text="When on, every member signs in with a code from an authenticator app as well as the password.")
    time_zone = TimeZoneField(
        default=default_timezone, choices_display="WITH_GMT_OFFSET",
        help_text="The zone of the workspace's posting slots and of its budgets' months.")

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A person's place in a workspace: one role each."""

    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        ADMIN = "admin", "Admin"
        EDITOR = "editor", "Editor"
        VIEWER = "viewer", "Viewer"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=8, choices=Role.choices)
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["workspace", "user__username"]
        constraints = [models.UniqueConstraint(fields=["workspace", "user"], name="membership_once_per_workspace")]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()}) in {self.workspace}"


def invitation_token() -> str:
    return secrets.token_urlsafe(32)


def invitation_expiry() -> datetime:
    return timezone.now() + timedelta(days=14)


class Invitation(models.Model):
    """An invitation to join a workspace with a role, by username or e-mail,
    accepted by the person invited (signed in as them) through its link."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="invitations")
    invitee = models.CharField("username or e-mail", max_length=254)
    role = models.CharField(max_length=8, choices=Membership.Role.choices, default=Membership.Role.EDITOR)
    token = models.CharField(max_length=64, unique=True, default=invitation_token, editable=False)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(default=invitation_expiry)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.invitee} as {self.get_role_display()} in {self.workspace}"

    @property
    def is_open(self) -> bool:
        return self.accepted_at is None and self.expires_at > timezone.now()


class XAccount(models.Model):
    """An X account linked to the platform, and the credentials to act as it."""

    class AuthMethod(models.TextChoices):
        OAUTH1 = "oauth1", "OAuth 1.0a"
        OAUTH2 = "oauth2", "OAuth 2.0"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        NEEDS_REAUTH = "needs_reauth", "Needs reconnecting"
        # Unlinked by a person: the tokens are revoked and gone, the posts,
        # bots and figures are kept, read-only. Linking it again brings it back.
        DISCONNECTED = "disconnected", "Disconnected"

    TOKEN_FIELDS = ("oauth1_token", "oauth1_token_secret", "oauth2_access_token", "oauth2_refresh_token")

    # The workspace the account belongs to; whoever may act on it is decided
    # by its members' roles. The owner is the person who linked it, whose time
    # zone its slots and budgets keep; they cannot be deleted while it exists.
    workspace = models.ForeignKey(Workspace, on_delete=models.PROTECT, related_name="x_accounts")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="x_accounts",
                              verbose_name="linked by")
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
            # The dispatcher leaves out the few accounts that may not post now
            # (not active, or paused by a rate limit), read through these two
            # small indexes instead of a scan of every account.
            models.Index(fields=["status"], condition=~models.Q(status="active"), name="xaccount_not_active_idx"),
            models.Index(fields=["rate_limited_until"], condition=models.Q(rate_limited_until__isnull=False),
                         name="xaccount_rate_limited_idx"),
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
    # The workspace the account goes into once linked: the person's current
    # one when they started.
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, null=True, related_name="+")
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


class AuditEvent(models.Model):
    """One thing a person did in a workspace, for its audit trail: who, what,
    to which object, when. Written by the services as they act
    (``accounts.audit.record``); never changed afterwards."""

    class Action(models.TextChoices):
        LINKED = "linked", "linked an account"
        UNLINKED = "unlinked", "unlinked an account"
        DELETED = "deleted", "deleted for good"
        CREATED = "created", "created"
        SCHEDULED = "scheduled", "scheduled"
        SUBMITTED = "submitted", "sent for approval"
        APPROVED = "approved", "approved"
        REJECTED = "rejected", "rejected"
        CANCELLED = "cancelled", "cancelled"
        RETRIED = "retried", "retried"
        PUBLISHED_NOW = "published_now", "published now"
        RAN_NOW = "ran_now", "ran a bot now"
        CHANGED = "changed", "changed"
        BUDGET = "budget", "changed a budget"
        MEMBER_ADDED = "member_added", "added a member"
        MEMBER_CHANGED = "member_changed", "changed a member's role"
        MEMBER_REMOVED = "member_removed", "removed a member"
        INVITED = "invited", "invited"
        JOINED = "joined", "joined"
        SETTINGS = "settings", "changed the workspace's settings"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="audit_events")
    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="+", verbose_name="person")
    # Kept as written: the person may be deleted, the object too.
    actor_name = models.CharField("person", max_length=150, blank=True, default="")
    action = models.CharField(max_length=16, choices=Action.choices)
    object_type = models.CharField("kind", max_length=40, blank=True, default="")
    object_id = models.CharField(max_length=40, blank=True, default="")
    object_repr = models.CharField("object", max_length=200, blank=True, default="")
    detail = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name = "audit event"
        indexes = [models.Index(fields=["workspace", "-at"], name="audit_workspace_at")]

    def __str__(self) -> str:
        return f"{self.actor_name or 'the platform'} {self.get_action_display()} {self.object_repr}".strip()
