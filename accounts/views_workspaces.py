"""The workspace switcher and the invitation link: thin callers of
``accounts.access`` and ``accounts.workspaces``."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from . import access, workspaces
from .workspaces import WorkspaceError


def _back(request: HttpRequest) -> str:
    """The page the person switched from, if it is on this site; the admin's index otherwise."""
    candidate = request.POST.get("next")
    if candidate and url_has_allowed_host_and_scheme(candidate, allowed_hosts={request.get_host()},
                                                     require_https=request.is_secure()):
        # An object's page of the old workspace would say "does not exist": its list instead.
        parts = candidate.split("?")[0].rstrip("/").split("/")
        if len(parts) > 4 and parts[1] == "admin":
            return "/".join(parts[:4]) + "/"
        return candidate
    return reverse("admin:index")


@staff_member_required
@require_POST
def workspace_switch(request: HttpRequest) -> HttpResponse:
    try:
        workspace = access.switch(request.user, request.POST.get("workspace", ""))
    except PermissionDenied as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"You are in {workspace.name}.")
    return HttpResponseRedirect(_back(request))


@require_http_methods(["GET", "POST"])
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    """The link an invitation carries: sign in as the person invited, then accept."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), login_url=reverse("admin:login"))
    try:
        found = workspaces.invitation_for(token=token, user=request.user)
        if request.method == "POST":
            membership = workspaces.invitation_accept(token=token, user=request.user)
            messages.success(request, f"You joined {membership.workspace.name} as "
                                      f"{membership.get_role_display().lower()}.")
            return HttpResponseRedirect(reverse("admin:index"))
    except (WorkspaceError, PermissionDenied) as error:
        return render(request, "accounts/invitation.html", {"title": "Invitation", "problem": str(error)},
                      status=403 if isinstance(error, PermissionDenied) else 400)
    return render(request, "accounts/invitation.html", {"title": f"Join {found.workspace.name}",
                                                         "invitation": found})
