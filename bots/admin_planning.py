"""The planning admin: the calendar, CSV import and export, the monthly X
budgets, and the dashboard on the admin index.

Views are thin: the calendar, the CSV rows, the dashboard's figures and the
budgets come from ``bots.calendar``, ``bots.csv_io``, ``bots.dashboard`` and
``bots.costs``. Staff who are not superusers see their own accounts only.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from accounts.models import XAccount

from . import calendar
from .models import PostCalendar


def is_staff(request: HttpRequest) -> bool:
    return request.user.is_active and request.user.is_staff


def owned_accounts(request: HttpRequest) -> QuerySet[XAccount]:
    accounts = XAccount.objects.order_by("username")
    return accounts if request.user.is_superuser else accounts.filter(owner=request.user)


def badge_colours() -> dict[str, tuple[str, str]]:
    # The post list's colours, so a status looks the same everywhere. Read at
    # request time: bots.admin imports this module while it is being loaded.
    from .admin import BADGE_COLOURS

    return {str(key): colours for key, colours in BADGE_COLOURS.items()}


class ReadOnlyPage:
    """An admin that is a page to look at: staff may view it, nobody adds,
    changes or deletes through it."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_staff(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_staff(request)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(PostCalendar)
class CalendarAdmin(ReadOnlyPage, admin.ModelAdmin):
    """Bots → Calendar: the month or week of posts, by account."""

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        zone = timezone.get_current_timezone()
        today = timezone.localdate()
        accounts = owned_accounts(request)
        try:
            view = calendar.parse_view(request.GET.get("view"))
        except calendar.CalendarError as error:
            self.message_user(request, str(error), messages.ERROR)
            view = "month"
        try:
            anchor = calendar.parse_day(request.GET.get("day"), today=today)
        except calendar.CalendarError as error:
            self.message_user(request, str(error), messages.ERROR)
            anchor = today
        account = None
        chosen = request.GET.get("account", "")
        if chosen:
            account = accounts.filter(pk=chosen).first() if chosen.isdigit() else None
            if account is None:
                self.message_user(request, "There is no such account among yours: showing all of them.",
                                  messages.ERROR)
        built = calendar.calendar_build(accounts=accounts, view=view, anchor=anchor, zone=zone, account=account)
        colours = badge_colours()
        context = {
            **self.admin_site.each_context(request),
            "title": f"Calendar · {built.title}",
            "subtitle": None,
            "opts": self.opts,
            "calendar": built,
            "accounts": accounts,
            "account": account,
            "legend": [(key, label, colours.get(key, colours["draft"])) for key, label in calendar.LEGEND],
            "colours": colours,
            "weekdays": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
        }
        return TemplateResponse(request, "admin/bots/calendar/calendar.html", context)
