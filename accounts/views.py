"""The link views: thin callers of ``accounts.services``."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods

from . import services
from .services import LinkCancelled, LinkError

SESSION_KEY = "x_link"


def _accounts_page() -> str:
    return reverse("admin:accounts_xaccount_changelist")


def _safe_next(request: HttpRequest, candidate: str | None) -> str:
    """Where to go after linking: ``next`` only if it stays on this site."""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return _accounts_page()


def _remember(request: HttpRequest, attempt_id, next_url: str) -> None:
    request.session[SESSION_KEY] = {"attempt": str(attempt_id), "next": next_url}


def _recall(request: HttpRequest) -> tuple[str | None, str]:
    # Popped: a callback is answered once per attempt, whatever its outcome.
    stored = request.session.pop(SESSION_KEY, None) or {}
    return stored.get("attempt"), stored.get("next") or _accounts_page()


@staff_member_required
@require_http_methods(["GET", "POST"])
def link_oauth1(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _choose(request)
    callback = request.build_absolute_uri(reverse("accounts:link_oauth1_callback"))
    try:
        attempt, url = services.link_start_oauth1(
            user=request.user, callback_url=callback, signin=request.POST.get("signin") == "1"
        )
    except LinkError as error:
        messages.error(request, error.message)
        return HttpResponseRedirect(_accounts_page())
    _remember(request, attempt.pk, _safe_next(request, request.POST.get("next")))
    return HttpResponseRedirect(url)


@staff_member_required
@require_http_methods(["GET", "POST"])
def link_oauth2(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _choose(request)
    redirect_uri = request.build_absolute_uri(reverse("accounts:link_oauth2_callback"))
    try:
        attempt, url = services.link_start_oauth2(user=request.user, redirect_uri=redirect_uri)
    except LinkError as error:
        messages.error(request, error.message)
        return HttpResponseRedirect(_accounts_page())
    _remember(request, attempt.pk, _safe_next(request, request.POST.get("next")))
    return HttpResponseRedirect(url)


def _choose(request: HttpRequest) -> HttpResponse:
    """The page behind “Link X account”: pick OAuth 2.0 or OAuth 1.0a. Starting
    is a POST, so no other site can start a link in a person's name."""
    return render(
        request,
        "accounts/link_choose.html",
        {
            "title": "Link an X account",
            "next": _safe_next(request, request.GET.get("next")),
            "signin": request.GET.get("signin") == "1",
        },
    )


def _finish(request: HttpRequest, finish, next_url: str) -> HttpResponse:
    try:
        account = finish()
    except LinkCancelled:
        messages.warning(request, "Linking was cancelled on X. Nothing was linked.")
        return HttpResponseRedirect(next_url)
    except LinkError as error:
        if error.status == 403:
            return render(
                request,
                "accounts/link_refused.html",
                {"title": "Linking refused", "message": error.message, "accounts_url": _accounts_page()},
                status=403,
            )
        messages.error(request, error.message)
        return HttpResponseRedirect(_accounts_page())
    messages.success(request, f"@{account.username} is linked ({account.get_auth_method_display()}).")
    return HttpResponseRedirect(next_url)


@staff_member_required
@require_GET
def link_oauth1_callback(request: HttpRequest) -> HttpResponse:
    attempt_id, next_url = _recall(request)
    return _finish(
        request,
        lambda: services.link_finish_oauth1(
            user=request.user,
            attempt_id=attempt_id,
            oauth_token=request.GET.get("oauth_token", ""),
            oauth_verifier=request.GET.get("oauth_verifier", ""),
            denied=request.GET.get("denied", ""),
        ),
        next_url,
    )


@staff_member_required
@require_GET
def link_oauth2_callback(request: HttpRequest) -> HttpResponse:
    attempt_id, next_url = _recall(request)
    return _finish(
        request,
        lambda: services.link_finish_oauth2(
            user=request.user,
            attempt_id=attempt_id,
            state=request.GET.get("state", ""),
            code=request.GET.get("code", ""),
            error=request.GET.get("error", ""),
        ),
        next_url,
    )
