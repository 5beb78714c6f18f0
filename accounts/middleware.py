"""Per-request behaviour that follows the signed-in person."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone


class UserTimezoneMiddleware:
    """Activates the signed-in user's time zone for the request.

    Forms then read the times a person types as times in their zone, and
    templates show stored UTC times in it: a person in New York who schedules a
    post for 09:00 means 09:00 in New York, and sees 09:00 again afterwards.
    Anonymous requests run in the deployment's TIME_ZONE.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.timezone:
            timezone.activate(user.timezone)
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            # The thread serves other people's requests next.
            timezone.deactivate()
