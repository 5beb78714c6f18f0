"""The admin's workspace pages: the workspace's settings and members (owners
change them), invitations, and the audit trail (owners and admins read it).
Changes go through ``accounts.workspaces``, which records them."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponseRedirect
from django.utils.html import format_html

from . import access, workspaces
from .admin import KnownChoicesFilter
from .admin_base import PolicyAdmin, is_staff
from .models import AuditEvent, Invitation, Membership, Workspace
from .workspaces import WorkspaceError


class MembershipInline(admin.TabularInline):
    """The members and their roles; owners change roles and remove members
    (through ``save_formset`` below, never by the formset alone)."""

    model = Membership
    extra = 0
    fields = ("user", "role", "joined_at")
    readonly_fields = ("user", "joined_at")
    verbose_name_plural = "members (invite new ones from Invitations)"

    def has_view_permission(self, request: HttpRequest, obj: Workspace | None = None) -> bool:
        return is_staff(request) and (obj is None or access.allows(request.user, access.VIEW, obj))

    def has_add_permission(self, request: HttpRequest, obj: Workspace | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Workspace | None = None) -> bool:
        return is_staff(request) and obj is not None and access.allows(request.user, access.OWN, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Workspace | None = None) -> bool:
        return self.has_change_permission(request, obj)


@admin.register(Workspace)
class WorkspaceAdmin(PolicyAdmin, admin.ModelAdmin):
    """Accounts → Workspaces: the person's workspaces. Anyone may make a new
    one (they own it); owners change its settings and members."""

    change_verb = access.OWN
    delete_verb = None
    inlines = (MembershipInline,)
    list_display = ("name", "your_role", "members", "approval_required", "two_factor_required")
    fields = ("name", "time_zone", "approval_required", "two_factor_required")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Workspace]:
        # Every workspace of theirs, not only the current one: this is where they see them all.
        mine = Membership.objects.filter(workspace=OuterRef("pk"), user=request.user).values("role")[:1]
        return access.visible(request.user, Workspace.objects.all(), everywhere=True).annotate(
            my_role=Subquery(mine), member_count=Count("memberships"))

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_staff(request)

    @admin.display(description="your role")
    def your_role(self, obj: Workspace) -> str:
        return Membership.Role(obj.my_role).label if obj.my_role else "—"

    @admin.display(description="members", ordering="member_count")
    def members(self, obj: Workspace) -> int:
        return obj.member_count

    def save_model(self, request: HttpRequest, obj: Workspace, form: forms.ModelForm, change: bool) -> None:
        if not change:
            made = workspaces.workspace_create(
                name=obj.name, by=request.user, approval_required=obj.approval_required,
                two_factor_required=obj.two_factor_required, time_zone=obj.time_zone)
            obj.pk = made.pk
            return
        super().save_model(request, obj, form, change)
        workspaces.workspace_settings_change(
            workspace=obj, by=request.user, changed={name: form.cleaned_data[name] for name in form.changed_data})

    def save_formset(self, request: HttpRequest, form: forms.ModelForm, formset: Any, change: bool) -> None:
        if formset.model is not Membership:
            return super().save_formset(request, form, formset, change)
        # What Django's change message reads, as the services left it.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for inline_form in formset.forms:
            membership = inline_form.instance
            if membership.pk is None:
                continue
            try:
                if inline_form in formset.deleted_forms:
                    workspaces.member_remove(membership=membership, by=request.user)
                    formset.deleted_objects.append(membership)
                elif "role" in inline_form.changed_data:
                    workspaces.member_role_change(membership=membership, role=inline_form.cleaned_data["role"],
                                                  by=request.user)
                    formset.changed_objects.append((membership, ["role"]))
            except WorkspaceError as error:
                messages.error(request, str(error))
        return None


class InvitationForm(forms.ModelForm):
    class Meta:
        model = Invitation
        fields = ("invitee", "role")


@admin.register(Invitation)
class InvitationAdmin(PolicyAdmin, admin.ModelAdmin):
    """Accounts → Invitations: owners invite people to the current workspace
    by username or e-mail; the person accepts through the link."""

    form = InvitationForm
    add_verb = access.OWN
    change_verb = None
    delete_verb = access.OWN
    list_display = ("invitee", "role", "workspace", "invited_by", "created_at", "state", "link")

    @admin.display(description="state")
    def state(self, obj: Invitation) -> str:
        if obj.accepted_at:
            return f"accepted by {obj.accepted_by}" if obj.accepted_by else "accepted"
        return "open" if obj.is_open else "expired"

    @admin.display(description="link to send")
    def link(self, obj: Invitation) -> str:
        if not obj.is_open:
            return ""
        return format_html('<a href="{}">{}</a>', workspaces.invitation_path(obj), "invitation link")

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: dict | None = None):
        workspace = access.current_workspace(request.user)
        extra = {**(extra_context or {}), "subtitle": f"to {workspace.name}" if workspace else None}
        return super().add_view(request, form_url, extra)

    def save_model(self, request: HttpRequest, obj: Invitation, form: forms.ModelForm, change: bool) -> None:
        invited = workspaces.invite(workspace=access.current_workspace(request.user), invitee=obj.invitee,
                                    role=obj.role, by=request.user, base_url=request.build_absolute_uri("/")[:-1])
        obj.pk = invited.invitation.pk
        how = "It was e-mailed to them; send" if invited.mailed else "Send"
        messages.info(request, f"{how} them this link to accept: {invited.link}")

    def response_add(self, request: HttpRequest, obj: Invitation, post_url_continue: str | None = None):
        return HttpResponseRedirect("../")

    def get_form(self, request: HttpRequest, obj: Invitation | None = None, change: bool = False, **kwargs: Any):
        form = super().get_form(request, obj, change=change, **kwargs)

        class Checked(form):
            def __init__(self, *args: Any, **form_kwargs: Any) -> None:
                super().__init__(*args, **form_kwargs)
                self.instance.workspace = access.current_workspace(request.user)

            def clean(self) -> dict[str, Any]:
                data = super().clean()
                workspace = access.current_workspace(request.user)
                if workspace is None:
                    raise forms.ValidationError("You have no current workspace to invite people to.")
                try:
                    workspaces.check_invitee(workspace=workspace, invitee=data.get("invitee", ""))
                except WorkspaceError as error:
                    self.add_error("invitee", str(error))
                return data

        return Checked


@admin.register(AuditEvent)
class AuditEventAdmin(PolicyAdmin, admin.ModelAdmin):
    """Accounts → Audit trail: who did what, to what, when, in the current
    workspace. Owners and admins read it; nobody changes it."""

    view_verb = access.MANAGE
    add_verb = change_verb = delete_verb = None
    list_display = ("at", "actor_name", "action", "object_type", "object_repr", "detail")
    # The object is found by searching for it (its name or text, or an account's handle).
    list_filter = (("action", KnownChoicesFilter), ("actor", admin.RelatedOnlyFieldListFilter))
    search_fields = ("object_repr", "actor_name", "detail")
    date_hierarchy = "at"
    readonly_fields = ("at", "actor_name", "action", "object_type", "object_id", "object_repr", "detail")
    fields = readonly_fields
