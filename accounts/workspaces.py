"""Workspaces and their members: making a workspace, inviting people,
accepting an invitation, changing a member's role and removing a member. The
logic behind the admin's workspace pages and the invitation link; each change
is recorded in the workspace's audit trail in the same transaction.

Who may do these is the access policy's answer (``own`` for members and
settings); the functions check it themselves, so that any caller (a page, a
command, the API) gets the same refusal in the same words."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from . import access, audit
from .models import Invitation, Membership, User, Workspace

Role = Membership.Role


class WorkspaceError(Exception):
    """Refused, with words the person can act on."""


def workspace_create(*, name: str, by: User, approval_required: bool = False, two_factor_required: bool = False,
                     time_zone: Any = None) -> Workspace:
    """A new workspace, owned by the person who made it, made their current
    one; in their time zone unless another is given."""
    name = " ".join((name or "").split())
    if not name:
        raise WorkspaceError("Give the workspace a name.")
    with transaction.atomic():
        workspace = Workspace.objects.create(
            name=name[:100], approval_required=approval_required, two_factor_required=two_factor_required,
            time_zone=time_zone or by.timezone)
        Membership.objects.create(workspace=workspace, user=by, role=Role.OWNER)
        User.objects.filter(pk=by.pk).update(workspace=workspace)
        audit.record(actor=by, action=audit.Action.CREATED, obj=workspace)
    by.workspace = workspace
    access.forget(by)
    return workspace


def workspace_settings_change(*, workspace: Workspace, by: User, changed: dict[str, object]) -> None:
    """Record a change of the workspace's settings (approval, two-factor, name)
    that its form saved."""
    access.require(by, access.OWN, workspace)
    if changed:
        words = ", ".join(f"{Workspace._meta.get_field(name).verbose_name} → {value}" for name, value in changed.items())
        audit.record(actor=by, action=audit.Action.SETTINGS, obj=workspace, detail=words)


# --- invitations ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Invited:
    invitation: Invitation
    link: str
    mailed: bool


def invite(*, workspace: Workspace, invitee: str, role: str, by: User, base_url: str) -> Invited:
    """Invite someone by username or e-mail address. Returns the invitation
    and its link (``base_url`` + path), which is e-mailed to an address."""
    access.require(by, access.OWN, workspace)
    invitee = (invitee or "").strip()
    if role not in Role.values:
        raise WorkspaceError(f"“{role}” is not a role: choose owner, admin, editor or viewer.")
    check_invitee(workspace=workspace, invitee=invitee)
    with transaction.atomic():
        invitation = Invitation.objects.create(workspace=workspace, invitee=invitee, role=role, invited_by=by)
        audit.record(actor=by, action=audit.Action.INVITED, obj=invitation,
                     detail=f"{invitee} as {invitation.get_role_display()}")
    link = f"{base_url}{invitation_path(invitation)}"
    mailed = False
    if "@" in invitee:
        send_mail(
            subject=f"You are invited to {workspace.name}",
            message=(f"{by.get_username()} invites you to the workspace {workspace.name} as "
                     f"{invitation.get_role_display().lower()}.\n\nSign in, then open this link to accept "
                     f"(it expires on {invitation.expires_at:%d %b %Y}):\n{link}\n"),
            from_email=settings.DEFAULT_FROM_EMAIL, recipient_list=[invitee], fail_silently=True,
        )
        mailed = True
    return Invited(invitation, link, mailed)


def check_invitee(*, workspace: Workspace, invitee: str) -> None:
    """Refuse, in words, an invitee who cannot be invited to the workspace."""
    invitee = (invitee or "").strip()
    if not invitee:
        raise WorkspaceError("Give the username or e-mail address of the person to invite.")
    if "@" in invitee:
        try:
            validate_email(invitee)
        except ValidationError:
            raise WorkspaceError(f"“{invitee}” is not an e-mail address: give one like name@example.com, "
                                 "or a username.") from None
    elif not User.objects.filter(username__iexact=invitee).exists():
        raise WorkspaceError(f"There is no person with the username “{invitee}”: check the spelling, or invite "
                             "them by e-mail address.")
    if Membership.objects.filter(workspace=workspace).filter(_person(invitee)).exists():
        raise WorkspaceError(f"{invitee} is already a member of {workspace.name}.")


def invitation_path(invitation: Invitation) -> str:
    return reverse("accounts:invitation", args=[invitation.token])


def _person(invitee: str) -> Q:
    return Q(user__email__iexact=invitee) if "@" in invitee else Q(user__username__iexact=invitee)


def invitation_for(*, token: str, user: User) -> Invitation:
    """The open invitation behind a link, for the signed-in person it names."""
    invitation = Invitation.objects.select_related("workspace").filter(token=token).first()
    if invitation is None:
        raise WorkspaceError("This invitation link is not valid: ask for a new one.")
    if invitation.accepted_at is not None:
        raise WorkspaceError(f"This invitation to {invitation.workspace.name} was accepted already.")
    if invitation.expires_at <= timezone.now():
        raise WorkspaceError(f"This invitation to {invitation.workspace.name} has expired: ask an owner for a new one.")
    if not _names(invitation.invitee, user):
        raise PermissionDenied(f"This invitation is for someone else, and you are signed in as "
                               f"{user.get_username()}: sign in as the person it was sent to, to accept it.")
    return invitation


def _names(invitee: str, user: User) -> bool:
    if "@" in invitee:
        return bool(user.email) and user.email.lower() == invitee.lower()
    return user.get_username().lower() == invitee.lower()


def invitation_accept(*, token: str, user: User) -> Membership:
    """Join the workspace with the invitation's role; it becomes the person's
    current workspace, and they may use the admin."""
    with transaction.atomic():
        invitation = invitation_for(token=token, user=user)
        if not Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True).update(
                accepted_at=timezone.now(), accepted_by=user):
            raise WorkspaceError("This invitation was accepted already.")
        membership, made = Membership.objects.get_or_create(
            workspace=invitation.workspace, user=user, defaults={"role": invitation.role})
        if not made:
            raise WorkspaceError(f"You are already a member of {invitation.workspace.name}.")
        User.objects.filter(pk=user.pk).update(workspace=invitation.workspace, is_staff=True)
        audit.record(actor=user, action=audit.Action.JOINED, obj=membership.workspace,
                     detail=f"as {membership.get_role_display()}")
    user.workspace, user.is_staff = invitation.workspace, True
    access.forget(user)
    return membership


# --- members --------------------------------------------------------------------------------


def _other_owners(membership: Membership) -> bool:
    return Membership.objects.filter(workspace=membership.workspace_id, role=Role.OWNER).exclude(
        pk=membership.pk).exists()


def member_role_change(*, membership: Membership, role: str, by: User) -> Membership:
    access.require(by, access.OWN, membership.workspace)
    if role not in Role.values:
        raise WorkspaceError(f"“{role}” is not a role: choose owner, admin, editor or viewer.")
    with transaction.atomic():
        membership = Membership.objects.select_for_update().select_related("user", "workspace").get(pk=membership.pk)
        if membership.role == role:
            return membership
        if membership.role == Role.OWNER and not _other_owners(membership):
            raise WorkspaceError(f"{membership.user} is the only owner of {membership.workspace.name}: make someone "
                                 "else an owner first.")
        before = membership.get_role_display()
        membership.role = role
        membership.save(update_fields=["role"])
        audit.record(actor=by, action=audit.Action.MEMBER_CHANGED, obj=membership,
                     detail=f"{membership.user}: {before} → {membership.get_role_display()}")
    return membership


def member_remove(*, membership: Membership, by: User) -> None:
    """Remove a member: they lose the workspace at once (every page asks the
    policy, which reads the memberships as they are). Its bots and scheduled
    posts go on."""
    access.require(by, access.OWN, membership.workspace)
    with transaction.atomic():
        membership = Membership.objects.select_for_update().select_related("user", "workspace").get(pk=membership.pk)
        if membership.role == Role.OWNER and not _other_owners(membership):
            raise WorkspaceError(f"{membership.user} is the only owner of {membership.workspace.name}: make someone "
                                 "else an owner first.")
        workspace = membership.workspace
        membership.delete()
        User.objects.filter(pk=membership.user_id, workspace=workspace).update(workspace=None)
        audit.record(actor=by, action=audit.Action.MEMBER_REMOVED, obj=workspace, detail=str(membership.user))
