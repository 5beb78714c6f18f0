"""Who may see what and do what: the one access policy.

A workspace holds X accounts and everything hanging from them. People are
members of workspaces with one role each, and a role grants verbs:

- ``view``: read the workspace's accounts, posts, bots, queues, budgets,
  imports and audit trail (viewer and up);
- ``write``: write, schedule, edit, cancel, retry and import posts (editor and
  up; an editor's posts wait for approval where the workspace asks for it);
- ``approve``: approve or reject posts waiting for approval (admin and up);
- ``manage``: link, unlink and verify X accounts, bots, queues and slots
  (admin and up);
- ``own``: members and invitations, budgets, the workspace's settings and
  deleting an account for good (owner).

Superusers may do everything everywhere. A person who is not active (Django's
``is_active``) may do nothing; one removed from a workspace loses it at once,
since every answer here is read from the memberships as they are now.

Every page, action, export, media file, command and API call asks this module;
nothing else checks ownership by hand. Models of other apps say once, with
``register``, how their rows reach a workspace (``bots`` registers
``Post → account__workspace``); this module never imports them.

The admin's pages show the person's current workspace (``current_workspace``),
the one they chose last; ``allows`` answers for any workspace they are a
member of, so services called with an object check it wherever it is.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import QuerySet

from .models import AuditEvent, Invitation, LinkAttempt, Membership, User, Workspace, XAccount

Role = Membership.Role

VIEW = "view"
WRITE = "write"
APPROVE = "approve"
MANAGE = "manage"
OWN = "own"
VERBS = (VIEW, WRITE, APPROVE, MANAGE, OWN)

GRANTS: dict[str, frozenset[str]] = {
    Role.VIEWER: frozenset({VIEW}),
    Role.EDITOR: frozenset({VIEW, WRITE}),
    Role.ADMIN: frozenset({VIEW, WRITE, APPROVE, MANAGE}),
    Role.OWNER: frozenset(VERBS),
}

# What a refusal says, by verb: the person reads it.
NEEDS = {
    VIEW: "You are not a member of the workspace this belongs to.",
    WRITE: "Your role in this workspace is viewer: an editor, admin or owner can write and schedule posts.",
    APPROVE: "Only an admin or owner of the workspace can approve or reject posts.",
    MANAGE: "Only an admin or owner of the workspace can change its X accounts, bots and queues.",
    OWN: "Only an owner of the workspace can change its members, budgets and settings, or delete an account for "
         "good.",
}

# How a row of each model reaches its workspace: a path of foreign keys
# ending at the workspace ("" for a workspace itself).
_PATHS: dict[type[models.Model], str] = {
    Workspace: "",
    Membership: "workspace",
    Invitation: "workspace",
    XAccount: "workspace",
    LinkAttempt: "workspace",
    AuditEvent: "workspace",
}


def register(model: type[models.Model], path: str) -> None:
    """Say how ``model``'s rows reach their workspace, e.g. ``account__workspace``."""
    _PATHS[model] = path


def _path(model: type[models.Model]) -> str:
    for klass in model.__mro__:
        if klass in _PATHS:
            return _PATHS[klass]
    raise LookupError(f"{model.__name__} has no path to a workspace: register one in its app's ready().")


def _active(user: Any) -> bool:
    return bool(user is not None and getattr(user, "is_active", False) and user.is_authenticated)


def roles(user: Any) -> dict[int, str]:
    """The person's role in each workspace they are a member of, read once per
    user object (once per request)."""
    if not _active(user):
        return {}
    cached = getattr(user, "_workspace_roles", None)
    if cached is None:
        cached = dict(Membership.objects.filter(user=user).values_list("workspace_id", "role"))
        user._workspace_roles = cached
    return cached


def forget(user: Any) -> None:
    """Drop what ``roles`` read, after the person's memberships changed."""
    if hasattr(user, "_workspace_roles"):
        del user._workspace_roles


def role(user: Any, workspace: Workspace | int | None) -> str | None:
    workspace_id = workspace.pk if isinstance(workspace, Workspace) else workspace
    return roles(user).get(workspace_id) if workspace_id is not None else None


def workspaces(user: Any) -> QuerySet[Workspace]:
    """The workspaces the person can switch to (every one, for a superuser)."""
    if not _active(user):
        return Workspace.objects.none()
    if user.is_superuser:
        return Workspace.objects.all()
    return Workspace.objects.filter(pk__in=list(roles(user)))


def current_workspace(user: Any) -> Workspace | None:
    """The workspace the person's pages show: the one they chose last, while
    they are still a member of it, else the first they belong to."""
    if not _active(user):
        return None
    chosen = user.workspace_id
    if chosen is not None and (user.is_superuser or chosen in roles(user)):
        return user.workspace
    return workspaces(user).first()


def switch(user: User, workspace_id: Any) -> Workspace:
    """Remember the workspace the person chose; refused unless they may see it."""
    workspace = workspaces(user).filter(pk=workspace_id).first() if str(workspace_id).isdecimal() else None
    if workspace is None:
        raise PermissionDenied("There is no such workspace among yours.")
    user.workspace = workspace
    user.save(update_fields=["workspace"])
    return workspace


def workspace_id_of(obj: models.Model) -> int | None:
    """The workspace a row belongs to, following its registered path."""
    path = _path(type(obj))
    if not path:
        return obj.pk
    *through, last = path.split("__")
    for name in through:
        obj = getattr(obj, name)
        if obj is None:
            return None
    return getattr(obj, f"{last}_id")


def allows(user: Any, verb: str, obj: models.Model | Workspace | None) -> bool:
    """May the person do ``verb`` to ``obj`` (a row of a registered model, or a
    workspace)? ``obj`` None asks about the current workspace."""
    if verb not in VERBS:
        raise ValueError(f"unknown verb {verb!r}")
    if not _active(user):
        return False
    if user.is_superuser:
        return True
    if obj is None:
        workspace = current_workspace(user)
        workspace_id = workspace.pk if workspace else None
    else:
        workspace_id = workspace_id_of(obj)
    granted = GRANTS.get(role(user, workspace_id), frozenset())
    return verb in granted


def require(user: Any, verb: str, obj: models.Model | Workspace | None) -> None:
    """Raise PermissionDenied, with words, unless ``allows``."""
    if not allows(user, verb, obj):
        raise PermissionDenied(NEEDS[verb])


def visible(user: Any, queryset: QuerySet, *, verb: str = VIEW, everywhere: bool = False) -> QuerySet:
    """The rows of ``queryset`` the person may ``verb``, in their current
    workspace (in every workspace of theirs with ``everywhere``); every row
    for a superuser."""
    if not _active(user):
        return queryset.none()
    if user.is_superuser:
        return queryset
    path = _path(queryset.model)
    column = f"{path}__in" if path else "pk__in"
    if everywhere:
        allowed = [pk for pk, name in roles(user).items() if verb in GRANTS[name]]
    else:
        workspace = current_workspace(user)
        allowed = [workspace.pk] if workspace and verb in GRANTS.get(role(user, workspace), ()) else []
    return queryset.filter(**{column: allowed})


def accounts(user: Any, *, verb: str = VIEW) -> QuerySet[XAccount]:
    """The X accounts of the current workspace the person may ``verb``."""
    return visible(user, XAccount.objects.order_by("username"), verb=verb)


def members(workspace: Workspace, *, roles_in: Iterable[str] = tuple(GRANTS)) -> QuerySet[User]:
    """The workspace's active members with one of the roles."""
    return User.objects.filter(is_active=True, memberships__workspace=workspace,
                               memberships__role__in=list(roles_in))


def needs_approval(user: Any, workspace: Workspace | int | None) -> bool:
    """Whether the person's posts in the workspace wait for approval: the
    workspace asks for it and they may not approve."""
    if workspace is None:
        return False
    if not isinstance(workspace, Workspace):
        workspace = Workspace.objects.get(pk=workspace)
    return workspace.approval_required and not (user.is_superuser or APPROVE in GRANTS.get(
        role(user, workspace), frozenset()))


def two_factor_asked(user: Any) -> bool:
    """Whether a workspace the person is a member of asks its members to sign
    in with two factors."""
    return _active(user) and Membership.objects.filter(user=user, workspace__two_factor_required=True).exists()
