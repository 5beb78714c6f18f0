"""What every admin page's frame shows of workspaces: the ones the person can
switch to, the current one and their role in it."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from . import access
from .models import Membership


def workspaces(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_staff:
        return {}
    current = access.current_workspace(user)
    role = access.role(user, current)
    return {
        "workspace_choices": list(access.workspaces(user).only("pk", "name")[:200]),
        "current_workspace": current,
        "current_role": Membership.Role(role).label.lower() if role else ("superuser" if user.is_superuser else ""),
    }
