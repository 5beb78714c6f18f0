"""The post list's date drill-down, without reading every post."""

from __future__ import annotations

from datetime import date, timedelta

from django import template
from django.contrib.admin.templatetags.admin_list import date_hierarchy
from django.db.models import Max, Min
from django.utils import formats, timezone
from django.utils.text import capfirst

from accounts.admin_base import EstimatingPaginator

register = template.Library()


@register.inclusion_tag("admin/date_hierarchy.html")
def post_date_hierarchy(cl) -> dict:
    """Django's drill-down (years, then a year's months, then a month's days),
    each level's choices worked out from the first and the last date listed
    (two short walks of an index, or the few rows a filter leaves), where
    Django lists the distinct years, months or days of every listed post by
    reading them all. A period between the first and the last with no posts
    in it is offered too, and lists none."""
    field = cl.date_hierarchy
    year, month, day = (cl.params.get(f"{field}__{part}") for part in ("year", "month", "day"))
    if year and month and day:
        return date_hierarchy(cl)
    dated = cl.queryset.exclude(**{f"{field}__isnull": True}).values_list(field, flat=True)
    if cl.result_count > EstimatingPaginator.EXACT_UP_TO:
        # Many threads listed: each end on its own, ORDER BY … LIMIT 1, walks
        # the date's index from that end and soon meets one of them, where MIN
        # and MAX together over the list's join read every row.
        ends = [dated.order_by(field).first(), dated.order_by(f"-{field}").first()]
    else:
        # A few (a filter such as one account): the walk could pass most of
        # the table before meeting one, and reading the few costs little.
        bounds = dated.aggregate(first=Min(field), last=Max(field))
        ends = [bounds["first"], bounds["last"]]
    if ends[0] is None:
        return {"show": True, "back": None, "choices": []}
    first, last = (timezone.localtime(end).date() for end in ends)
    if not year and first.year == last.year:
        year = first.year
        if first.month == last.month:
            month = first.month

    def link(**filters) -> str:
        return cl.get_query_string({f"{field}__{part}": value for part, value in filters.items()}, [f"{field}__"])

    if year and month:
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        return {
            "show": True,
            "back": {"link": link(year=year), "title": str(year)},
            "choices": [{"link": link(year=year, month=month, day=d.day),
                         "title": capfirst(formats.date_format(d, "MONTH_DAY_FORMAT"))} for d in days],
        }
    if year:
        months = [date(int(year), m, 1) for m in range(first.month, last.month + 1)]
        return {
            "show": True,
            "back": {"link": link(), "title": "All dates"},
            "choices": [{"link": link(year=year, month=m.month),
                         "title": capfirst(formats.date_format(m, "YEAR_MONTH_FORMAT"))} for m in months],
        }
    return {
        "show": True,
        "back": None,
        "choices": [{"link": link(year=str(y)), "title": str(y)} for y in range(first.year, last.year + 1)],
    }
