"""The audit trail: what people did in each workspace. Services record their
own actions here as they commit them (in the same transaction), so the trail
holds what happened, not what a page meant to do.

django-auditlog was considered: it records field changes of models, but not
actions such as "approved" or "unlinked" by name, and not per workspace, which
is how owners and admins read the trail; these are recorded explicitly."""

from __future__ import annotations

from typing import Any

from django.db import models

from . import access
from .models import AuditEvent, Workspace

Action = AuditEvent.Action


def record(*, actor: Any, action: str, obj: models.Model, workspace: Workspace | int | None = None,
           detail: str = "") -> AuditEvent | None:
    """Record that ``actor`` (a person, or None for the platform itself) did
    ``action`` to ``obj``. The workspace is the object's own unless given.
    Nothing is recorded for an object outside any workspace."""
    workspace_id = workspace.pk if isinstance(workspace, Workspace) else workspace
    if workspace_id is None:
        workspace_id = access.workspace_id_of(obj)
    if workspace_id is None:
        return None
    person = actor if getattr(actor, "is_authenticated", False) else None
    return AuditEvent.objects.create(
        workspace_id=workspace_id,
        actor=person,
        actor_name=person.get_username() if person else "",
        action=action,
        object_type=obj._meta.verbose_name[:40],
        object_id=str(obj.pk)[:40],
        object_repr=str(obj)[:200],
        detail=detail,
    )
