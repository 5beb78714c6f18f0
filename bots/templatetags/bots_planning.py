"""Template helpers of the planning pages: the calendar's links and colours,
and the dashboard on the admin index."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

from django import template

from accounts.models import XAccount

register = template.Library()


@register.simple_tag
def calendar_query(view: str, day: date, account: XAccount | None) -> str:
    params: dict[str, Any] = {"view": view, "day": day.isoformat()}
    if account is not None:
        params["account"] = account.pk
    return urlencode(params)


@register.filter
def status_colour(colours: dict[str, tuple[str, str]], key: str) -> tuple[str, str]:
    return colours.get(key, colours["draft"])
