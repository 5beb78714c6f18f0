from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Field, Model
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from accounts import services
from accounts.admin_base import PolicyAdmin
from accounts.models import User, XAccount
from accounts.services import LinkError


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    fieldsets = (*DjangoUserAdmin.fieldsets, ("Preferences", {"fields": ("timezone",)}))
    add_fieldsets = (*DjangoUserAdmin.add_fieldsets, ("Preferences", {"fields": ("timezone",)}))
    list_display = (*DjangoUserAdmin.list_display, "timezone")


class KnownChoicesFilter(admin.ChoicesFieldListFilter):
    """Django's filter by a field's choices, for links edited by hand: a value
    the field has no choice for is dropped, and the page says so. Passed on,
    it would reach the database, which refuses some characters (NUL) outright."""

    def __init__(self, field: Field, request: HttpRequest, params: dict[str, list[str]], model: type[Model],
                 model_admin: admin.ModelAdmin, field_path: str) -> None:
        super().__init__(field, request, params, model, model_admin, field_path)
        known = {str(value) for value, _ in field.flatchoices}
        unknown = [value for value in self.used_parameters.get(self.lookup_kwarg) or () if value not in known]
        if unknown:
            del self.used_parameters[self.lookup_kwarg]
            self.lookup_val = None
            messages.error(request, f"There is no {field.verbose_name} “{unknown[0]}”: showing every "
                                    f"{field.verbose_name}. Choose one from the filter.")


@admin.register(XAccount)
class XAccountAdmin(PolicyAdmin, admin.ModelAdmin):
    """Linked X accounts. Tokens are never shown: the form lists only what a
    person can read. Everyone in the workspace sees its accounts; admins and
    owners verify and unlink them. Accounts are added by linking through X,
    never by typing tokens. Unlinking revokes the tokens on X and keeps the
    account, disconnected, with its history; only an owner deletes a
    disconnected account for good, after a page that says what goes."""

    add_verb = change_verb = delete_verb = None

    list_display = ("avatar", "handle", "auth_method", "status_badge", "owner", "workspace", "last_verified_at")
    list_filter = (("auth_method", KnownChoicesFilter), ("status", KnownChoicesFilter))
    search_fields = ("username", "name", "x_user_id")
    actions = ("verify_now", "unlink", "delete_for_good")
    fields = (
        "avatar",
        "handle",
        "name",
        "x_user_id",
        "workspace",
        "owner",
        "auth_method",
        "scopes",
        "token_expires_at",
        "status_badge",
        "status_reason",
        "linked_at",
        "last_verified_at",
    )
    readonly_fields = (*fields, "bring_back")

    def get_fields(self, request: HttpRequest, obj: XAccount | None = None) -> tuple[str, ...]:
        if obj is not None and obj.status == XAccount.Status.DISCONNECTED:
            at = self.fields.index("status_reason") + 1
            return (*self.fields[:at], "bring_back", *self.fields[at:])
        return self.fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("owner", "workspace")

    @admin.display(description="")
    def avatar(self, obj):
        if not obj.profile_image_url:
            return ""
        return format_html(
            '<img src="{}" alt="" width="32" height="32" style="border-radius:50%;vertical-align:middle">',
            obj.profile_image_url,
        )

    @admin.display(description="account", ordering="username")
    def handle(self, obj):
        return f"@{obj.username}"

    @admin.display(description="to bring it back")
    def bring_back(self, obj):
        return format_html(
            'Use <a href="{}">Link X account</a> and sign in to X as @{}: the account is active again, the same '
            "account with all its posts, bots and figures. Its held posts then wait for you to schedule them "
            "again, and its paused bots for you to enable them.",
            reverse("accounts:link_oauth2"),
            obj.username,
        )

    # Text colour and background of each status's badge.
    STATUS_COLOURS = {
        XAccount.Status.ACTIVE: ("#1d6b37", "#e3f2e8"),
        XAccount.Status.NEEDS_REAUTH: ("#a33", "#fbe3e3"),
        XAccount.Status.DISCONNECTED: ("#555", "#ececec"),
    }

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj):
        colour, background = self.STATUS_COLOURS.get(obj.status, self.STATUS_COLOURS[XAccount.Status.NEEDS_REAUTH])
        return format_html(
            '<span class="x-status x-status-{}" title="{}" style="color:{};background:{};'
            'border-radius:3px;padding:2px 8px;white-space:nowrap">{}</span>',
            obj.status,
            obj.status_reason,
            colour,
            background,
            obj.get_status_display(),
        )

    @admin.action(description="Verify now (ask X who the tokens belong to)", permissions=["manage"])
    def verify_now(self, request, queryset):
        for account in queryset:
            result = services.xaccount_verify(account=account)
            self.message_user(request, result.message, messages.SUCCESS if result.ok else messages.ERROR)

    @admin.action(description="Unlink (revoke on X; keep its posts and bots)", permissions=["manage"])
    def unlink(self, request, queryset):
        for account in queryset:
            try:
                message = services.xaccount_unlink(account=account, by=request.user)
            except LinkError as error:
                self.message_user(request, error.message, messages.ERROR)
            else:
                self.message_user(request, message, messages.SUCCESS)

    @admin.action(description="Delete for good (disconnected accounts, with their posts and bots)",
                  permissions=["own"])
    def delete_for_good(self, request, queryset):
        """First a page that says what goes; deleted only once confirmed on it."""
        accounts = list(queryset)
        if request.POST.get("confirmed") == "yes":
            for account in accounts:
                try:
                    message = services.xaccount_delete(account=account, by=request.user)
                except LinkError as error:
                    self.message_user(request, error.message, messages.ERROR)
                else:
                    self.message_user(request, message, messages.SUCCESS)
            return None
        going = [account for account in accounts if account.status == XAccount.Status.DISCONNECTED]
        staying = [
            f"@{account.username} is still linked ({account.get_status_display().lower()}): only a disconnected "
            "account can be deleted for good. Unlink it first, which keeps its history."
            for account in accounts if account.status != XAccount.Status.DISCONNECTED
        ]
        if not going:
            for words in staying:
                self.message_user(request, f"{words} Nothing was deleted.", messages.ERROR)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Delete for good?",
            "opts": self.opts,
            "going": [(account, services.xaccount_holdings(account=account)) for account in going],
            "staying": staying,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/accounts/xaccount/delete_for_good.html", context)
