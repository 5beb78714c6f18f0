"""The base every admin page of the platform stands on: who may see and do
what comes from the one access policy (``accounts.access``), never from a
check of its own."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.db import connections
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.functional import cached_property

from . import access

# The longest search the admin's lists take.
MAX_SEARCH = 500


class EstimatingPaginator(Paginator):
    """Exact counts up to ``EXACT_UP_TO`` rows; past that, on PostgreSQL, the
    planner's estimate of the rows (``estimated`` is then true), since an exact
    ``COUNT(*)`` reads every matching row: most of a list's time at a million
    posts. The count only sizes the page links; each page is read exactly."""

    EXACT_UP_TO = 10_000
    # From this row on, a page's ids are read first, alone: skipping tens of
    # thousands of rows then walks an index only, not the rows and their joins.
    IDS_FIRST_FROM = 1_000
    estimated = False

    @cached_property
    def count(self) -> int:
        rows = self.object_list
        if not isinstance(rows, QuerySet):
            return super().count
        counted = rows.order_by()[: self.EXACT_UP_TO + 1].count()
        if counted <= self.EXACT_UP_TO:
            return counted
        if connections[rows.db].vendor != "postgresql":
            return super().count
        plan = json.loads(rows.order_by().explain(format="json"))
        self.estimated = True
        return max(self.EXACT_UP_TO + 1, int(plan[0]["Plan"]["Plan Rows"]))

    def page(self, number: int | str) -> Page:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        rows = self.object_list
        if bottom < self.IDS_FIRST_FROM or not isinstance(rows, QuerySet):
            return super().page(number)
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        ids = list(rows.prefetch_related(None).values_list("pk", flat=True)[bottom:top])
        found = {row.pk: row for row in rows.filter(pk__in=ids)}
        return self._get_page([found[pk] for pk in ids if pk in found], number, self)


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
        if self.search_too_long(request, search_term):
            return queryset.none(), False
        return super().get_search_results(request, queryset, search_term)

    def search_too_long(self, request: HttpRequest, search_term: str) -> bool:
        """Whether the search is refused for its length, with the reason shown.
        SQLite refuses a LIKE pattern over 50,000 bytes outright, and no name,
        handle or text is anywhere near this long."""
        if len(search_term) <= MAX_SEARCH:
            return False
        messages.error(request, f"A search is at most {MAX_SEARCH} characters; this one is "
                                f"{len(search_term):,}. Search for a shorter part of what you are looking for.")
        return True

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        # Django answers an action it does not offer the person "No action
        # selected", or nothing at all when it offers none: say why instead.
        if request.method == "POST" and "_save" not in request.POST:
            chosen = self._chosen_action(request)
            if chosen and chosen not in self.get_actions(request):
                self.message_user(request, f"{self._why_not(request, chosen)} Nothing was done.", messages.ERROR)
                return HttpResponseRedirect(request.get_full_path())
        return super().changelist_view(request, extra_context)

    def _why_not(self, request: HttpRequest, name: str) -> str:
        """Why an action is not offered: the role it needs, in the policy's words."""
        action = getattr(type(self), name, None) or dict(self.admin_site.actions).get(name)
        if action is None:
            return f"There is no action “{name}” on {self.opts.verbose_name_plural}."
        verbs = {"view": self.view_verb, "add": self.add_verb, "change": self.change_verb,
                 "delete": self.delete_verb, "write": access.WRITE, "approve": access.APPROVE,
                 "manage": access.MANAGE, "own": access.OWN}
        for permission in getattr(action, "allowed_permissions", ()):
            verb = verbs.get(permission)
            if verb in access.NEEDS and not self.allows(request, verb):
                return access.NEEDS[verb]
        return f"Your role in this workspace does not take “{name}” on {self.opts.verbose_name_plural}."

    @staticmethod
    def _chosen_action(request: HttpRequest) -> str:
        """The action whose button was pressed (the list has a form above and below)."""
        names = request.POST.getlist("action")
        index = request.POST.get("index", "0")
        return names[int(index)] if index.isdecimal() and int(index) < len(names) else ""

    def response_action(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        """An action posted to the list, its selection checked before Django
        runs it, so that what is not done is said in words: selected rows that
        are not among those listed (another workspace's, deleted, or not an
        id at all)."""
        plural = self.opts.verbose_name_plural
        selected = set(request.POST.getlist(helpers.ACTION_CHECKBOX_NAME))
        try:
            ids = {self.opts.pk.to_python(value) for value in selected}
            self._check_storable(ids, queryset.db)
        except ValidationError:
            self.message_user(request, f"The selection names something that is not one of the {plural} listed: "
                                       "nothing was done. Tick the rows again.", messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())
        if ids and not request.POST.get("select_across") == "1":
            found = queryset.filter(pk__in=ids).count()
            if found < len(ids):
                missing = len(ids) - found
                self.message_user(
                    request, f"{missing:,} of the {len(ids):,} selected {plural} are not among those listed here "
                             "(deleted, or not yours to see): nothing was done to them.",
                    messages.WARNING)
                if not found:
                    return HttpResponseRedirect(request.get_full_path())
        return super().response_action(request, queryset)

    def _check_storable(self, ids: set, using: str) -> None:
        """Refuse an integer id the database could not hold (it names no row,
        and SQLite refuses to compare with it at all)."""
        field = self.opts.pk
        if not all(isinstance(pk, int) for pk in ids):
            return
        low, high = connections[using].ops.integer_field_range(field.get_internal_type())
        if any(not low <= pk <= high for pk in ids):
            raise ValidationError("out of range")

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
