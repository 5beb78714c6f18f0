"""The base every admin page of the platform stands on: who may see and do
what comes from the one access policy (``accounts.access``), never from a
check of its own."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest

from . import access

# The longest search the admin's lists take.
MAX_SEARCH = 500


def is_staff(request: HttpRequest) -> bool:
    """May the person use the admin at all: signed in, active and staff."""
    user = request.user
    return bool(user.is_authenticated and user.is_active and user.is_staff)


class PolicyAdmin:
    """ModelAdmin permissions from the access policy: the list holds the rows
    of the person's current workspace, and each verb needs the role that
    grants it there (None: nobody, e.g. rows that only the platform adds)."""

    view_verb: str = access.VIEW
    add_verb: str | None = access.WRITE
    change_verb: str | None = access.WRITE
    delete_verb: str | None = access.WRITE

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return access.visible(request.user, super().get_queryset(request))

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
        # SQLite refuses a LIKE pattern over 50,000 bytes outright, and no
        # name, handle or text is anywhere near this long.
        if len(search_term) > MAX_SEARCH:
            messages.error(request, f"A search is at most {MAX_SEARCH} characters; this one is "
                                    f"{len(search_term):,}. Search for a shorter part of what you are looking for.")
            return queryset.none(), False
        return super().get_search_results(request, queryset, search_term)

    def allows(self, request: HttpRequest, verb: str | None, obj: Any = None) -> bool:
        return verb is not None and is_staff(request) and access.allows(request.user, verb, obj)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.allows(request, self.view_verb)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.allows(request, self.view_verb, obj)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.allows(request, self.add_verb)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.allows(request, self.change_verb, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.allows(request, self.delete_verb, obj)

    # For actions: ``@admin.action(permissions=["manage"])`` and the like ask
    # these, for the person's current workspace.
    def has_write_permission(self, request: HttpRequest) -> bool:
        return self.allows(request, access.WRITE)

    def has_approve_permission(self, request: HttpRequest) -> bool:
        return self.allows(request, access.APPROVE)

    def has_manage_permission(self, request: HttpRequest) -> bool:
        return self.allows(request, access.MANAGE)

    def has_own_permission(self, request: HttpRequest) -> bool:
        return self.allows(request, access.OWN)


class FollowsParent:
    """An inline follows the object it is shown under: the parent's admin
    decides who may see and change it (through the policy), and Django turns
    the inlines read-only where the parent is."""

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_staff(request)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_staff(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_staff(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_staff(request)
