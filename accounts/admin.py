from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import ValidationError
from django.db.models import Field, Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
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


class CheckedSelection:
    """For a ModelAdmin with actions: a selection that names no row (a form
    edited by hand) is refused in words. Django passes it to the database
    query as it is, where a value that is no id breaks the page."""

    def response_action(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        try:
            for value in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME):
                self.opts.pk.to_python(value)
        except ValidationError:
            self.message_user(request, f"The selection names something that is not one of the "
                                       f"{self.opts.verbose_name_plural} listed: nothing was done. Tick the "
                                       "rows again.", messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())
        return super().response_action(request, queryset)


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
class XAccountAdmin(CheckedSelection, PolicyAdmin, admin.ModelAdmin):
    """Linked X accounts. Tokens are never shown: the form lists only what a
    person can read. Everyone in the workspace sees its accounts; admins and
    owners verify and unlink them. Accounts are added by linking through X,
    never by typing tokens, and deleting must revoke on X first: that is the
    "unlink" action."""

    add_verb = change_verb = delete_verb = None

    list_display = ("avatar", "handle", "auth_method", "status_badge", "owner", "workspace", "last_verified_at")
    list_filter = (("auth_method", KnownChoicesFilter), ("status", KnownChoicesFilter))
    search_fields = ("username", "name", "x_user_id")
    actions = ("verify_now", "unlink")
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
    readonly_fields = fields

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

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj):
        colour = "#1d6b37" if obj.is_active else "#a33"
        background = "#e3f2e8" if obj.is_active else "#fbe3e3"
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

    @admin.action(description="Unlink (revoke on X, then delete the tokens)", permissions=["manage"])
    def unlink(self, request, queryset):
        for account in queryset:
            try:
                message = services.xaccount_unlink(account=account)
            except LinkError as error:
                self.message_user(request, error.message, messages.ERROR)
            else:
                self.message_user(request, message, messages.SUCCESS)
