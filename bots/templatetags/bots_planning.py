"""Template helpers of the planning pages: the calendar's links and colours,
and the dashboard on the admin index."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django import template
from django.utils import timezone

from accounts import access, gateway
from accounts.models import Workspace, XAccount
from bots.planning import checklist, costs, dashboard

register = template.Library()

# The admin index's query parameter for the dashboard's page of accounts.
PAGE_PARAMETER = "accounts"


@register.simple_tag
def calendar_query(view: str, day: date, account: XAccount | None) -> str:
    params: dict[str, Any] = {"view": view, "day": day.isoformat()}
    if account is not None:
        params["account"] = account.pk
    return urlencode(params)


@register.filter
def status_colour(colours: dict[str, tuple[str, str]], key: str) -> tuple[str, str]:
    return colours.get(key, colours["draft"])


@register.inclusion_tag("admin/bots/dashboard.html", takes_context=True)
def planning_dashboard(context: dict[str, Any]) -> dict[str, Any]:
    """The dashboard of the accounts of the person's current workspace (every
    account for a superuser), under the first-run checklist until it is done."""
    request = context["request"]
    accounts = access.accounts(request.user)
    return {
        "dashboard": dashboard.dashboard_for(
            accounts=accounts, workspaces=access.visible(request.user, Workspace.objects.all()),
            zone=timezone.get_current_timezone(), page=request.GET.get(PAGE_PARAMETER, 1),
        ),
        "checklist": checklist.checklist_for(accounts),
        "page_parameter": PAGE_PARAMETER,
        "zone": timezone.get_current_timezone(),
    }


@register.filter
def usd(amount: Decimal | None) -> str:
    return "" if amount is None else costs.money(amount)


@register.filter
def on_x(url: str) -> str:
    """Where a link to the post at ``url`` (as X gave it) goes: the X in use."""
    return gateway.browser_url(url)
