"""The sign-in safety pages: setting up and removing an authenticator app,
the code asked after the password, and the page of a paused sign-in. Thin
callers of ``accounts.two_factor``."""

from __future__ import annotations

import django_otp
from axes.helpers import get_client_username, get_cool_off, get_failure_limit
from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from accounts import two_factor
from accounts.two_factor import Step, TwoFactorError

# The secret being set up, until a code confirms it: kept in the session, so
# a reload shows the same QR code and nothing is saved before it is confirmed.
PENDING_KEY = "two_factor_pending_key"


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code", max_length=20, strip=True,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
        error_messages={"required": "Enter the 6-digit code your authenticator app shows.",
                        "max_length": "Enter the 6-digit code your authenticator app shows (digits only)."},
    )


def _next_page(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next")
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("admin:index")


def _context(request: HttpRequest, step: Step | None, **extra) -> dict:
    return {
        **admin.site.each_context(request),
        # While a step is owed, no other page opens: the page shows no menus.
        "owed": step,
        "is_nav_sidebar_enabled": step is None and admin.site.enable_nav_sidebar,
        "next": _next_page(request),
        **extra,
    }


def _step(request: HttpRequest) -> Step | None:
    return two_factor.step_before_admin(user=request.user, verified=request.user.is_verified())


def _signed_in_with(request: HttpRequest, device) -> None:
    """This session gave a code of ``device``: it is through. A new session
    key, as after any sign-in."""
    django_otp.login(request, device)
    request.session.cycle_key()


@require_http_methods(["GET", "POST"])
def setup(request: HttpRequest) -> HttpResponse:
    """Set up an authenticator app (QR code, the secret in text, a code to
    confirm it), or, with one on, remove it."""
    step = _step(request)
    user = request.user
    if two_factor.has_app(user):
        return _render_setup(request, step, on=True)
    key = request.session.get(PENDING_KEY)
    form = CodeForm(request.POST if request.method == "POST" else None)
    error = ""
    if request.method == "POST" and form.is_valid():
        try:
            device = two_factor.app_confirm(user=user, key=key, code=form.cleaned_data["code"])
        except TwoFactorError as refusal:
            error = str(refusal)
        else:
            request.session.pop(PENDING_KEY, None)
            _signed_in_with(request, device)
            messages.success(request, "Two-factor sign-in is on. From now on you sign in with your password "
                                      "and then a code from your authenticator app.")
            return HttpResponseRedirect(_next_page(request) if step is Step.SET_UP else reverse("two_factor:setup"))
    if not two_factor.is_app_key(key):
        key = request.session[PENDING_KEY] = two_factor.new_app_key()
    return _render_setup(request, step, on=False, form=form, error=error, key=key)


def _render_setup(request: HttpRequest, step: Step | None, *, on: bool, form: CodeForm | None = None,
                  error: str = "", key: str = "") -> HttpResponse:
    user = request.user
    extra = {"on": on, "form": form or CodeForm(), "error": error}
    if on:
        extra["apps"] = two_factor.confirmed_apps(user)
    else:
        extra["secret"] = two_factor.app_secret_text(key)
        extra["qr_svg"] = two_factor.app_setup_qr_svg(user=user, key=key)
    return render(request, "accounts/two_factor/setup.html",
                  _context(request, step, title="Two-factor sign-in", **extra))


@require_http_methods(["GET", "POST"])
def remove(request: HttpRequest) -> HttpResponse:
    """Turn two-factor sign-in off, with a current code."""
    if request.method == "GET" or not two_factor.has_app(request.user):
        return HttpResponseRedirect(reverse("two_factor:setup"))
    form = CodeForm(request.POST)
    error = ""
    if form.is_valid():
        try:
            two_factor.app_remove(user=request.user, code=form.cleaned_data["code"])
        except TwoFactorError as refusal:
            error = str(refusal)
        else:
            messages.success(request, "Two-factor sign-in is off: you sign in with your password alone."
                             if not two_factor.two_factor_required(request.user) else
                             "Your authenticator app was removed. Two-factor sign-in is required here: "
                             "set up an app to go on.")
            return HttpResponseRedirect(reverse("two_factor:setup"))
    return _render_setup(request, _step(request), on=True, form=form, error=error)


@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    """The code asked after the password."""
    step = _step(request)
    if step is not Step.VERIFY:
        return HttpResponseRedirect(_next_page(request))
    form = CodeForm(request.POST if request.method == "POST" else None)
    error = ""
    if request.method == "POST" and form.is_valid():
        try:
            device = two_factor.code_check(user=request.user, code=form.cleaned_data["code"])
        except TwoFactorError as refusal:
            error = str(refusal)
        else:
            _signed_in_with(request, device)
            return HttpResponseRedirect(_next_page(request))
    return render(request, "accounts/two_factor/verify.html",
                  _context(request, step, title="Enter your code", form=form, error=error))


def locked_out(request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None
               ) -> HttpResponse:
    """django-axes' answer to a sign-in it refused (AXES_LOCKOUT_CALLABLE):
    what happened and when to try again, in words."""
    # The pause starts again with each refused try, this one included.
    cool_off = get_cool_off(request)
    return render(request, "accounts/locked_out.html", {
        **admin.site.each_context(request),
        "title": "Sign-in paused",
        "username": get_client_username(request, credentials) or "",
        "failure_limit": get_failure_limit(request, credentials),
        "minutes": round(cool_off.total_seconds() / 60),
        "retry_at": request.axes_attempt_time + cool_off,
        "login_url": reverse("admin:login"),
    }, status=429)
