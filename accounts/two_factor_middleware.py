"""The gate of two-factor sign-in: a person who signed in with their password
but still owes a code (or must first set up an authenticator app) reaches no
other page until they are through."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect

from accounts.two_factor import Step, step_before_admin

# The pages a person may open while each step is owed: its own page, and
# signing out.
OPEN_DURING = {
    Step.VERIFY: {"two_factor:verify", "admin:logout"},
    Step.SET_UP: {"two_factor:setup", "admin:logout"},
}
PAGE_OF = {Step.VERIFY: "two_factor:verify", Step.SET_UP: "two_factor:setup"}


class TwoFactorMiddleware:
    """Sends a signed-in person who owes a step of ``accounts.two_factor`` to
    its page, with the page they asked for to return to. It must come after
    django-otp's OTPMiddleware, which tells whether this session gave a code."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> HttpResponse | None:
        user = request.user
        if not user.is_authenticated:
            return None
        step = step_before_admin(user=user, verified=user.is_verified())
        if step is None or request.resolver_match.view_name in OPEN_DURING[step]:
            return None
        target = redirect(PAGE_OF[step])
        if request.method == "GET":
            back = QueryDict(mutable=True)
            back["next"] = request.get_full_path()
            target["Location"] += "?" + back.urlencode(safe="/")
        return target
