"""The scheduling admin: write a post or a thread, attach media, schedule it in
your own time zone, and see what became of it in words.

Status changes go through ``bots.posting.services``, as for the commands; the admin
writes only what a person typed. Staff who are not superusers see and act on
posts of the X accounts they own, and nothing else.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F, ForeignKey, Max, Prefetch, QuerySet
from django.forms import ModelChoiceField
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse, QueryDict
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from accounts import access
from accounts.admin_base import EstimatingPaginator, FollowsParent, PolicyAdmin
from accounts.models import XAccount

# admin_scheduling registers the bot and posting-queue admins, admin_planning
# the calendar, CSV imports, budgets and the dashboard; their actions are
# offered on posts too.
from bots.admin import planning as admin_planning
from bots.admin import scheduling as admin_scheduling
from bots.admin.base import HELD, REJECTED, excerpt, live, local_time, status_badge, x_link
from bots.admin.forms import (
    DRAFT,
    SCHEDULE,
    KeepsUploads,
    PostForm,
    PostMediaForm,
    PostMediaFormSet,
    ThreadPartForm,
    ThreadPartFormSet,
    upload_media_type,
)
from bots.posting import search, services, validation
from bots.posting.models import Post, PostMedia, held_label
from bots.posting.preview import preview_json
from bots.posting.services import PostActionError

Status = Post.Status

# A thread can be edited while nothing of it is in X's hands.
EDITABLE = (Status.DRAFT, Status.PENDING_APPROVAL, Status.SCHEDULED, Status.FAILED, Status.CANCELLED)
# Posts a worker may be sending right now: deleting them would lose the record of a post on X.
IN_FLIGHT = (Status.CLAIMED, Status.SENDING, Status.UNKNOWN)
# How far ahead a scheduled post keeps its page up to date (bots/static/bots/live.js).
LIVE_AHEAD = timedelta(hours=1)
# Texts longer than this are not counted: X takes 280, and counting costs time.
MAX_COUNTED_CHARACTERS = 10_000


def thread_of(root: Post) -> list[Post]:
    """The root and its parts in order (from the prefetch when there is one)."""
    return [root, *sorted(root.parts.all(), key=lambda part: part.position)]


def thread_editable(root: Post) -> bool:
    # An unlinked (disconnected) account's posts are its kept record: read-only.
    return root.account.status != XAccount.Status.DISCONNECTED and all(
        post.status in EDITABLE for post in thread_of(root))


def current_post(root: Post) -> Post:
    """The post a thread is at: its first one not yet published."""
    return next((post for post in thread_of(root) if post.status != Status.PUBLISHED), root)


def in_flight(post: Post, key: str) -> bool:
    """Whether the post (a thread's current one, shown as ``key``) is about
    to change on its own: a worker has it, or it goes out within the hour
    from an account that may post. Its page keeps asking for news meanwhile."""
    if key != post.status:
        return False
    return post.status in IN_FLIGHT or (
        post.status == Status.SCHEDULED and post.scheduled_at is not None
        and post.scheduled_at <= timezone.now() + LIVE_AHEAD
    )


def describe(post: Post) -> str:
    return f"“{excerpt(post.text, 40) or 'Media post'}” on @{post.account.username}"


def reviewer_name(post: Post) -> str:
    return post.reviewed_by.get_username() if post.reviewed_by_id and post.reviewed_by else "an admin"


def rejection(root: Post) -> str:
    """Why a thread was sent back to its author, in words ("" if it was not)."""
    if root.status != Status.DRAFT or not root.review_note:
        return ""
    return f"Rejected by {reviewer_name(root)} on {local_time(root.reviewed_at)}: {root.review_note}"


def waiting_note(root: Post) -> str:
    when = f"to go out {local_time(root.scheduled_at)}" if root.scheduled_at else (
        "to go out as soon as it is approved")
    return f"Waiting for an admin or owner of the workspace to approve it, {when}."


class PostAdminForm(PostForm):
    """The post form in the admin: a post waiting for approval opens on
    "Schedule" (saving sends it again, or approves it for an admin), not on
    "Save as draft", which would take it from the approvers' list."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "publish" in self.fields and self.instance.pk and self.instance.status == Status.PENDING_APPROVAL:
            self.fields["publish"].initial = SCHEDULE


class ThreadStatusFilter(admin.SimpleListFilter):
    """Filters threads by where they are: the status of their first post not
    yet published, as the status column shows it."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> Sequence[tuple[str, str]]:
        return [*Status.choices, (HELD, "Held: account needs reconnecting or linking again")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Post]) -> QuerySet[Post]:
        value = self.value()
        if not value:
            return queryset
        if value == HELD:
            return search.threads_in_status(queryset, Status.SCHEDULED).exclude(
                account__status=XAccount.Status.ACTIVE)
        return search.threads_in_status(queryset, value)


DRILL_DOWN = ("year", "month", "day")
THREAD_STATUSES = {*Status.values, HELD}


def drill_down_period(query: QueryDict, field: str) -> tuple[datetime, datetime] | None:
    """The period the list's date drill-down (``<field>__year``, ``__month``
    and ``__day``) names, worked out as Django's date hierarchy does, or None
    without one. Raises ValueError or OverflowError where Django's own
    arithmetic, which it does not guard, would break the page: the last year
    there is, or a year too large for a date."""
    year = query.get(f"{field}__year")
    if year is None:
        return None
    month, day = query.get(f"{field}__month"), query.get(f"{field}__day")
    start = datetime(int(year), int(month) if month is not None else 1, int(day) if day is not None else 1)
    if day:
        return start, start + timedelta(days=1)
    if month:
        return start, (start + timedelta(days=32)).replace(day=1)
    return start, start.replace(year=start.year + 1)


def link_problems(query: QueryDict, date_field: str) -> dict[str, str]:
    """What in a post list link's query string (edited by hand, or old) names
    nothing the list has: the parameters at fault, each with why in words.
    Passed on, a status reaches the database, which refuses some characters
    (NUL) outright, and a drill-down Django's own arithmetic."""
    problems: dict[str, str] = {}
    status = query.get(ThreadStatusFilter.parameter_name)
    if status and status not in THREAD_STATUSES:
        problems[ThreadStatusFilter.parameter_name] = f"There is no status “{status}”: choose one from the filter."
    try:
        drill_down_period(query, date_field)
    except (ValueError, OverflowError):
        names = [f"{date_field}__{unit}" for unit in DRILL_DOWN if f"{date_field}__{unit}" in query]
        asked = "-".join(query[name] for name in names)
        for name in names:
            problems[name] = (f"The post list cannot show the period “{asked}”: choose a year from 1 to 9998, a "
                              "month from 1 to 12 and a day of that month, or follow the dates above the list.")
    return problems


class AccountFilter(admin.RelatedFieldListFilter):
    """The accounts the person may see, whether or not they have posts (listing
    only those with posts read every post)."""

    def field_choices(self, field, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[object, str]]:
        # Handles only, not accounts: a workspace may have a thousand.
        handles = access.accounts(request.user).order_by("username", "pk").values_list("pk", "username")
        return [(pk, f"@{username}") for pk, username in handles]


class ScheduledFilter(admin.SimpleListFilter):
    """When posts are due, in the person's own time zone."""

    title = "publish time"
    parameter_name = "when"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> Sequence[tuple[str, str]]:
        return [
            ("today", "Today"),
            ("next7", "Next 7 days"),
            ("past7", "Past 7 days"),
            ("month", "This month"),
            ("unset", "No time set"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Post]) -> QuerySet[Post]:
        now = timezone.localtime()
        today = now.replace(hour=0, minute=0, second=0, microsecond=0)
        month = today.replace(day=1)
        next_month = (month + timedelta(days=32)).replace(day=1)
        ranges = {
            "today": (today, today + timedelta(days=1)),
            "next7": (now, now + timedelta(days=7)),
            "past7": (now - timedelta(days=7), now),
            "month": (month, next_month),
        }
        value = self.value()
        if value == "unset":
            return queryset.filter(scheduled_at__isnull=True)
        if value in ranges:
            start, end = ranges[value]
            return queryset.filter(scheduled_at__gte=start, scheduled_at__lt=end)
        return queryset


class PostMediaInline(FollowsParent, admin.TabularInline):
    model = PostMedia
    form = PostMediaForm
    formset = PostMediaFormSet
    extra = 1
    fields = ("file", "staged", "alt_text", "position", "media_type", "media_size")
    readonly_fields = ("media_type", "media_size")
    verbose_name = "image, GIF or video"
    verbose_name_plural = "media: 1 to 4 images, or one GIF or video, each with alt text"

    @admin.display(description="type")
    def media_type(self, obj: PostMedia) -> str:
        return obj.content_type

    @admin.display(description="size")
    def media_size(self, obj: PostMedia) -> str:
        return filesizeformat(obj.size) if obj.pk else ""


class ThreadPartInline(FollowsParent, admin.StackedInline):
    model = Post
    fk_name = "parent"
    form = ThreadPartForm
    formset = ThreadPartFormSet
    extra = 0
    ordering = ("position",)
    verbose_name = "thread part"
    verbose_name_plural = "thread: later parts, each published as a reply to the one before"

    def get_fields(self, request: HttpRequest, obj: Post | None = None) -> Sequence[str]:
        if obj is None:
            return ("order", "text", "media_file", "staged", "media_alt")
        if not thread_editable(obj):
            return ("position", "text", "part_media", "part_status", "part_link", "part_error")
        return ("order", "text", "media_file", "staged", "media_alt", "remove_media", "part_status")

    def get_readonly_fields(self, request: HttpRequest, obj: Post | None = None) -> Sequence[str]:
        return ("part_media", "part_status", "part_link", "part_error")

    @admin.display(description="media")
    def part_media(self, obj: Post) -> str:
        return ", ".join(str(item) for item in obj.media.all()) or "none"

    @admin.display(description="status")
    def part_status(self, obj: Post) -> str:
        return status_badge(obj.status, obj.get_status_display(), title=obj.last_error) if obj.pk else ""

    @admin.display(description="on X")
    def part_link(self, obj: Post) -> str:
        return x_link(obj.x_post_url)

    @admin.display(description="last error")
    def part_error(self, obj: Post) -> str:
        return obj.last_error


@admin.register(Post)
class PostAdmin(PolicyAdmin, admin.ModelAdmin):
    """Posts and threads, one row per thread."""

    form = PostAdminForm
    inlines = (PostMediaInline, ThreadPartInline)
    list_display = ("handle", "post_text", "scheduled", "status_badge", "on_x", "error")
    list_display_links = ("post_text",)
    list_filter = (ThreadStatusFilter, ("account", AccountFilter), ScheduledFilter)
    # At a million posts an exact count of the list is most of its time.
    paginator = EstimatingPaginator
    show_full_result_count = False
    date_hierarchy = "scheduled_at"
    search_fields = ("text", "parts__text", "account__username")
    search_help_text = "Search the text of posts and thread parts, or an account as @name."
    actions = ("publish_now", "cancel", "retry", "duplicate", "approve", "reject", admin_scheduling.add_to_queue,
               admin_planning.export_csv)
    readonly_fields = ("status_badge", "review", "attempts", "on_x", "published_at", "error_full")

    class Media:
        css = {"all": ("bots/post_admin.css", "bots/live.css")}
        js = ("bots/post_counter.js", "bots/live.js")

    # Who sees what.

    def get_queryset(self, request: HttpRequest) -> QuerySet[Post]:
        # A thread is one row; its parts are shown and edited under it.
        queryset = (
            super().get_queryset(request)
            .filter(parent__isnull=True)
            .select_related("account", "reviewed_by")
            .prefetch_related(Prefetch("parts", queryset=Post.objects.order_by("position")), "media")
        )
        return queryset

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Post | None:
        if request.method == "POST" and from_field is None and transaction.get_connection().in_atomic_block:
            try:
                pk = int(object_id)
            except ValueError:
                pk = None
            if pk is not None:
                # Hold the row while the form is checked and saved: the
                # dispatcher's claim waits for us, and a post it claimed
                # first is seen as claimed and not overwritten.
                list(Post.objects.select_for_update().filter(pk=pk).values_list("pk", flat=True))
        return super().get_object(request, object_id, from_field)

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        problems = link_problems(request.GET, self.date_hierarchy)
        if problems:
            for problem in dict.fromkeys(problems.values()):
                self.message_user(request, problem, messages.ERROR)
            kept = request.GET.copy()
            for name in problems:
                kept.pop(name)
            return HttpResponseRedirect(f"{request.path}?{kept.urlencode()}" if kept else request.path)
        return super().changelist_view(request, extra_context)

    def get_changelist_instance(self, request: HttpRequest) -> ChangeList:
        # The CSV export reads the list's query string through here, and
        # answers this error in words.
        problems = link_problems(request.GET, self.date_hierarchy)
        if problems:
            raise IncorrectLookupParameters(" ".join(dict.fromkeys(problems.values())))
        return super().get_changelist_instance(request)

    # Who may do what: the policy (PolicyAdmin), and a thread is changed or
    # deleted only while nothing of it is being sent.

    def has_change_permission(self, request: HttpRequest, obj: Post | None = None) -> bool:
        return super().has_change_permission(request, obj) and (obj is None or thread_editable(obj))

    def has_delete_permission(self, request: HttpRequest, obj: Post | None = None) -> bool:
        return super().has_delete_permission(request, obj) and (
            obj is None or not any(post.status in IN_FLIGHT for post in thread_of(obj.thread_root)))

    def postable_accounts(self, request: HttpRequest) -> QuerySet[XAccount]:
        return access.accounts(request.user, verb=access.WRITE).filter(
            status__in=[XAccount.Status.ACTIVE, XAccount.Status.NEEDS_REAUTH])

    def formfield_for_foreignkey(
        self, db_field: ForeignKey, request: HttpRequest, **kwargs: Any
    ) -> ModelChoiceField | None:
        if db_field.name == "account":
            kwargs["queryset"] = self.postable_accounts(request)
            field = super().formfield_for_foreignkey(db_field, request, **kwargs)
            field.label_from_instance = lambda account: (
                f"@{account.username}" if account.is_active else f"@{account.username} (needs reconnecting)"
            )
            field.help_text = "Posts to an account that needs reconnecting wait until it is reconnected."
            return field
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Post], search_term: str
    ) -> tuple[QuerySet[Post], bool]:
        if not search_term:
            return queryset, False
        if self.search_too_long(request, search_term):
            return queryset.none(), False
        return search.search_threads(queryset, search_term), False

    # The form.

    def get_fieldsets(self, request: HttpRequest, obj: Post | None = None) -> list[tuple[str | None, dict]]:
        has_poll = bool(obj and obj.poll_options)
        content = (None, {"fields": ("account", "text", "reply_settings")})
        poll = (
            "Poll",
            {"fields": ("poll_options", "poll_duration_minutes"), "classes": () if has_poll else ("collapse",)},
        )
        status = ("Status", {"fields": ("status_badge", "review", "attempts", "on_x", "published_at", "error_full")})
        if obj is not None and not thread_editable(obj):
            return [status, content, poll, ("When", {"fields": ("scheduled_at",)})]
        when = ("When", {"fields": ("scheduled_at", "publish")})
        return [status, content, poll, when] if obj is not None else [content, poll, when]

    def get_form(self, request: HttpRequest, obj: Post | None = None, change: bool = False, **kwargs: Any):
        form = super().get_form(request, obj, change, **kwargs)
        workspace = obj.account.workspace if obj is not None else access.current_workspace(request.user)
        if "publish" in form.base_fields and access.needs_approval(request.user, workspace):
            # A copy: the form class's fields are shared by every request.
            publish = copy.deepcopy(form.base_fields["publish"])
            publish.choices = [(SCHEDULE, "Send for approval"), (DRAFT, "Save as draft")]
            publish.help_text = (
                "An admin or owner of the workspace approves the post before it is scheduled for the time above "
                "(empty: as soon as it is approved). A draft waits until you send it.")
            form.base_fields["publish"] = publish
        return form

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = super().get_changeform_initial_data(request)
        accounts = list(self.postable_accounts(request)[:2])
        if len(accounts) == 1:
            initial.setdefault("account", accounts[0].pk)
        return initial

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: dict | None = None) -> HttpResponse:
        if request.method == "GET" and not self.postable_accounts(request).exists():
            self.message_user(
                request,
                format_html(
                    'You have no X account to post to yet: <a href="{}">link one</a> first.',
                    reverse("accounts:link_oauth2"),
                ),
                messages.WARNING,
            )
        return super().add_view(request, form_url, extra_context)

    def get_formset_kwargs(self, request: HttpRequest, obj: Post | None, inline: admin.options.InlineModelAdmin,
                           prefix: str) -> dict[str, Any]:
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        if issubclass(inline.form, KeepsUploads):
            kwargs["form_kwargs"] = {**kwargs.get("form_kwargs", {}), "staging_user": request.user.pk}
        return kwargs

    def render_change_form(self, request: HttpRequest, context: dict[str, Any], add: bool = False,
                           change: bool = False, form_url: str = "", obj: Post | None = None) -> HttpResponse:
        if request.method == "POST":
            # The page comes back with errors: the files chosen are kept for the next try.
            for inline in context.get("inline_admin_formsets", []):
                for form in inline.formset.forms:
                    if isinstance(form, KeepsUploads):
                        form.keep_for_next_try()
        return super().render_change_form(request, context, add, change, form_url, obj)

    def changeform_view(self, request: HttpRequest, object_id: str | None = None, form_url: str = "",
                        extra_context: dict | None = None) -> HttpResponse:
        if request.method == "POST" and object_id is not None:
            post = self.get_object(request, unquote(object_id))
            if post is not None and self.has_view_permission(request, post) and not thread_editable(post):
                # It moved on while the person was editing: say so rather than refuse.
                now = current_post(post)
                self.message_user(
                    request,
                    f"{describe(post)} is {now.get_status_display().lower()} now, so it can no longer be "
                    "changed; your changes were not saved.",
                    messages.ERROR,
                )
                return HttpResponseRedirect(request.path)
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except PostActionError as error:
            # A worker took the post between the check above and the save: the
            # save was rolled back whole, and the person is told why.
            self.message_user(request, f"{error} Your changes were not saved.", messages.ERROR)
            return HttpResponseRedirect(request.path)

    # Saving.

    EDITED_FIELDS = ("account", "text", "poll_options", "poll_duration_minutes", "reply_settings", "scheduled_at")

    def save_model(self, request: HttpRequest, obj: Post, form: PostForm, change: bool) -> None:
        # A new post is made whole, with its media and thread parts, by
        # services.post_create in save_related, which has the inlines.
        if change:
            # Only what the form edits: the status and the claim belong to the
            # services, the dispatcher and the publisher.
            obj.save(update_fields=[*self.EDITED_FIELDS, "updated_at"])

    def save_formset(self, request: HttpRequest, form: PostForm, formset: BaseInlineFormSet, change: bool) -> None:
        if isinstance(formset, ThreadPartFormSet):
            self._save_parts(request, form.instance, formset)
        else:
            super().save_formset(request, form, formset, change)

    def _save_parts(self, request: HttpRequest, root: Post, formset: ThreadPartFormSet) -> None:
        kept = formset.kept_forms()
        formset.save(commit=False)
        for part in formset.deleted_objects:
            part.delete()
        # Positions are unique within a thread: move the parts out of the way
        # before numbering them 1, 2, 3… in their new order.
        highest = root.parts.aggregate(highest=Max("position"))["highest"] or 0
        root.parts.update(position=F("position") + max(highest, len(kept)) + 1)
        for position, part_form in enumerate(kept, start=1):
            part = part_form.instance
            part.parent = root
            part.position = position
            part.account_id = root.account_id
            part.scheduled_at = root.scheduled_at
            if part.pk is None:
                part.created_by = request.user
                part.save()
            else:
                part.save(update_fields=["text", "position", "account", "scheduled_at", "updated_at"])
            if part_form.uploaded() is not None or part_form.cleaned_data.get("remove_media"):
                services.media_replace(post=part, media=self._part_media(part_form))
            elif part_form.existing_media and "media_alt" in part_form.changed_data:
                services.media_alt_text_set(post=part, alt_text=part_form.cleaned_data.get("media_alt") or "")

    def save_related(
        self, request: HttpRequest, form: PostForm, formsets: list[BaseInlineFormSet], change: bool
    ) -> None:
        if not change:
            root = self._create(request, form, formsets)
        else:
            super().save_related(request, form, formsets, change)
            root = form.instance
            if "account" in form.changed_data:
                # Uploads to X belong to the account they were made for.
                PostMedia.objects.filter(post__in=[root, *root.parts.all()]).update(x_media_id="",
                                                                                    x_media_expires_at=None)
            if form.scheduling:
                services.post_schedule(post=root, by=request.user)
            else:
                services.post_make_draft(post=root, by=request.user)
        for warning in form.warnings:
            self.message_user(request, warning, messages.WARNING)
        if not form.scheduling:
            self.message_user(request, "Saved as a draft: it is not published until you schedule it.", messages.INFO)
            return
        size = 1 + root.parts.count()
        thread = f" (a thread of {size} posts)" if size > 1 else ""
        if root.status == Status.PENDING_APPROVAL:
            when = f"for {local_time(root.scheduled_at)}" if root.scheduled_at else (
                "to go out as soon as it is approved")
            self.message_user(request, f"Sent for approval {when}{thread}: an admin or owner of the workspace "
                                       "approves it before it is scheduled.", messages.SUCCESS)
            return
        when = f"for {local_time(root.scheduled_at)}" if form.cleaned_data.get("scheduled_at") else (
            "to be published as soon as possible"
        )
        self.message_user(request, f"Scheduled {when}{thread}.", messages.SUCCESS)
        if root.account.status == XAccount.Status.NEEDS_REAUTH:
            self.message_user(
                request,
                f"@{root.account.username} needs reconnecting: this post is held until you reconnect the account.",
                messages.WARNING,
            )

    def _create(self, request: HttpRequest, form: PostForm, formsets: list[BaseInlineFormSet]) -> Post:
        """The post the add page describes, with its media and thread parts,
        made (and scheduled, sent for approval or kept a draft) by the one
        service that creates posts. The form and the inlines have checked it."""
        media_formset = next(formset for formset in formsets if isinstance(formset, PostMediaFormSet))
        parts_formset = next(formset for formset in formsets if isinstance(formset, ThreadPartFormSet))
        media_forms = sorted(media_formset.kept_forms(), key=lambda media: media.cleaned_data.get("position") or 0)
        data = form.cleaned_data
        poll_options = data.get("poll_options") or []
        root = services.post_create(
            account=data["account"],
            text=data.get("text") or "",
            by=request.user,
            schedule=form.scheduling,
            parts=[services.NewPart(text=part.cleaned_data.get("text") or "", media=self._part_media(part))
                   for part in parts_formset.kept_forms()],
            media=[self._new_media(media) for media in media_forms if media.uploaded() is not None],
            poll=services.Poll(poll_options, data.get("poll_duration_minutes"))
            if poll_options or data.get("poll_duration_minutes") is not None else None,
            reply_settings=data.get("reply_settings") or "",
            scheduled_at=data.get("scheduled_at"),
        )
        # The admin goes on with the form's object (its log entry, the
        # message naming it, the redirect): it becomes the post made.
        form.instance.pk = root.pk
        form.instance._state.adding = False
        form.instance.refresh_from_db()
        # And Django's record of the addition lists what the inlines added.
        media_formset.new_objects = list(root.media.all())
        parts_formset.new_objects = list(root.parts.order_by("position"))
        for formset in (media_formset, parts_formset):
            formset.changed_objects, formset.deleted_objects = [], []
        return form.instance

    @staticmethod
    def _part_media(part_form: ThreadPartForm) -> list[services.NewMedia]:
        upload = part_form.uploaded()
        if upload is None:
            return []
        return [services.NewMedia(name=upload.name or "media", content_type=upload_media_type(upload),
                                  size=upload.size or 0, alt_text=part_form.cleaned_data.get("media_alt") or "",
                                  file=upload)]

    @staticmethod
    def _new_media(media_form: PostMediaForm) -> services.NewMedia:
        upload = media_form.uploaded()
        return services.NewMedia(
            name=upload.name or "media", content_type=upload_media_type(upload), size=upload.size or 0,
            alt_text=media_form.cleaned_data.get("alt_text") or "", file=upload,
        )

    # The count endpoint behind the live counter.

    def get_urls(self) -> list[URLPattern]:
        count = self.admin_site.admin_view(require_POST(self.count_view))
        return [path("count/", count, name="bots_post_count"), *super().get_urls()]

    def count_view(self, request: HttpRequest) -> JsonResponse:
        """X's weighted count of a text and its preview, for the counter beside
        each text box: the same count validate_post applies on save."""
        text = request.POST.get("text", "")
        if len(text) > MAX_COUNTED_CHARACTERS:
            return JsonResponse(
                {"error": f"Over {MAX_COUNTED_CHARACTERS:,} characters: far beyond X's "
                          f"{validation.MAX_WEIGHTED_LENGTH}."},
                status=400,
            )
        count = validation.text_count(text)
        return JsonResponse(
            {
                "weighted_length": count.weighted_length,
                "max_length": count.max_length,
                "remaining": count.remaining,
                "valid": count.valid,
                "preview": preview_json(text),
            }
        )

    # Columns.

    @admin.display(description="account", ordering="account__username")
    def handle(self, obj: Post) -> str:
        return f"@{obj.account.username}"

    @admin.display(description="post")
    def post_text(self, obj: Post) -> str:
        notes = []
        parts = len(obj.parts.all())
        if parts:
            notes.append(f"thread of {parts + 1}")
        media = len(obj.media.all())
        if media:
            notes.append(f"{media} media")
        if obj.poll_options:
            notes.append("poll")
        return format_html(
            '{}{}', excerpt(obj.text) or "(no text)",
            format_html(' <span class="post-notes">· {}</span>', ", ".join(notes)) if notes else "",
        )

    @admin.display(description="publish at", ordering="scheduled_at")
    def scheduled(self, obj: Post) -> str:
        return local_time(obj.scheduled_at) or "not set"

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: Post) -> str:
        thread = thread_of(obj)
        now = current_post(obj)
        label = now.get_status_display()
        key = now.status
        title = now.last_error
        if now.pk == obj.pk and rejection(obj):
            key, label, title = REJECTED, "Rejected: back to draft", rejection(obj)
        elif now.status == Status.PENDING_APPROVAL:
            title = waiting_note(obj)
        elif now.status == Status.SCHEDULED and obj.account.status != XAccount.Status.ACTIVE:
            key, label = HELD, held_label(obj.account.username, obj.account.status)
            title = now.last_error if obj.account.status == XAccount.Status.DISCONNECTED else obj.account.status_reason
        elif now.status == Status.SCHEDULED and now.attempts and now.next_attempt_at:
            title = f"Trying again at {local_time(now.next_attempt_at)}. {now.last_error}".strip()
        if len(thread) > 1:
            label = f"{label} · {len(thread)} posts" if now.status == Status.PUBLISHED else (
                f"{label} · part {thread.index(now) + 1} of {len(thread)}"
            )
        return live(f"post-{obj.pk}-status", status_badge(key, label, title=title), poll=in_flight(now, key))

    @admin.display(description="on X")
    def on_x(self, obj: Post) -> str:
        return live(f"post-{obj.pk}-on-x", x_link(obj.x_post_url), poll=False)

    @admin.display(description="approval")
    def review(self, obj: Post) -> str:
        root = obj.thread_root
        if root.status == Status.PENDING_APPROVAL:
            return waiting_note(root)
        if rejection(root):
            return rejection(root)
        if root.reviewed_at is not None:
            return f"Approved by {reviewer_name(root)} on {local_time(root.reviewed_at)}."
        return self.get_empty_value_display()

    @admin.display(description="last error")
    def error(self, obj: Post) -> str:
        now = current_post(obj)
        message = now.last_error or (rejection(obj) if now.pk == obj.pk else "")
        if not message:
            return ""
        return format_html('<span class="post-error" title="{}">{}</span>', message, excerpt(message, 60))

    @admin.display(description="last error")
    def error_full(self, obj: Post) -> str:
        return current_post(obj).last_error or self.get_empty_value_display()

    # Actions: each reports on every post it was asked about, in words.

    @admin.action(description="Publish now", permissions=["write"])
    def publish_now(self, request: HttpRequest, queryset: QuerySet[Post]) -> None:
        for root in queryset:
            try:
                post = services.post_publish_now(post=root, by=request.user)
            except PostActionError as error:
                self.message_user(request, f"{describe(root)}: {error}", messages.ERROR)
            else:
                self._report_queued(request, root, "will be published within seconds", now=post)

    @admin.action(description="Cancel (what is not sent yet)", permissions=["write"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[Post]) -> None:
        for root in queryset:
            target = next((post for post in thread_of(root) if post.status in Post.CANCELLABLE), root)
            try:
                count = services.post_cancel(post=target, by=request.user)
            except PostActionError as error:
                self.message_user(request, f"{describe(root)}: {error}", messages.ERROR)
                continue
            if target.pk == root.pk:
                what = f"Cancelled {describe(root)}" + (f" ({count} posts)" if count > 1 else "")
            else:
                what = f"Cancelled the rest of the thread {describe(root)}, from part {target.position + 1}"
            self.message_user(request, f"{what}.", messages.SUCCESS)

    @admin.action(description="Retry (failed or cancelled)", permissions=["write"])
    def retry(self, request: HttpRequest, queryset: QuerySet[Post]) -> None:
        for root in queryset:
            statuses = (Status.FAILED, Status.CANCELLED)
            target = next((post for post in thread_of(root) if post.status in statuses), root)
            try:
                post = services.post_retry(post=target, by=request.user)
            except PostActionError as error:
                self.message_user(request, f"{describe(root)}: {error}", messages.ERROR)
            else:
                where = "" if target.pk == root.pk else f" from part {target.position + 1}"
                self._report_queued(request, root, f"will be tried again{where} now", now=post)

    @admin.action(description="Duplicate as a draft", permissions=["write"])
    def duplicate(self, request: HttpRequest, queryset: QuerySet[Post]) -> None:
        for root in queryset:
            copy = services.post_duplicate(post=root, by=request.user)
            self.message_user(
                request,
                format_html(
                    'Duplicated {} as a draft: <a href="{}">edit the copy</a>.',
                    describe(root), reverse("admin:bots_post_change", args=[copy.pk]),
                ),
                messages.SUCCESS,
            )

    @admin.action(description="Approve (schedule as written)", permissions=["approve"])
    def approve(self, request: HttpRequest, queryset: QuerySet[Post]) -> None:
        for root in queryset:
            try:
                post = services.post_approve(post=root, by=request.user)
            except (PostActionError, PermissionDenied) as error:
                self.message_user(request, f"{describe(root)}: {error}", messages.ERROR)
            else:
                self._report_queued(request, root, f"is approved, and scheduled for {local_time(post.scheduled_at)}")

    @admin.action(description="Reject (back to its author as a draft, with a reason)", permissions=["approve"])
    def reject(self, request: HttpRequest, queryset: QuerySet[Post]) -> HttpResponse | None:
        """First a page that asks for the reason (the author reads it), as
        Django asks before deleting; then each post goes back to its author."""
        roots = list(queryset)
        waiting = [root for root in roots if root.status == Status.PENDING_APPROVAL]
        if not waiting:
            self.message_user(request, "None of the selected posts is waiting for approval: nothing was rejected.",
                              messages.ERROR)
            return None
        reason = request.POST.get("reason", "")
        problem = ""
        if request.POST.get("post") == "yes":
            problem = services.review_note_problem(reason)
            if not problem:
                for root in waiting:
                    try:
                        services.post_reject(post=root, by=request.user, reason=reason)
                    except (PostActionError, PermissionDenied) as error:
                        self.message_user(request, f"{describe(root)}: {error}", messages.ERROR)
                    else:
                        self.message_user(request, f"Rejected {describe(root)}: it is a draft again, and its "
                                                   "author sees your reason.", messages.SUCCESS)
                return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Reject posts waiting for approval",
            "subtitle": None,
            "opts": self.opts,
            "roots": roots,
            "waiting": [(root, describe(root)) for root in waiting],
            "others": [(root, describe(root), current_post(root).get_status_display().lower())
                       for root in roots if root not in waiting],
            "reason": reason,
            "problem": problem,
            "max_length": services.MAX_REVIEW_NOTE,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/bots/post/reject_confirmation.html", context)

    def _report_queued(self, request: HttpRequest, root: Post, what: str, *, now: Post | None = None) -> None:
        if now is not None and now.status == Status.PENDING_APPROVAL:
            self.message_user(request, f"{describe(root)} is sent for approval: an admin or owner of the workspace "
                                       "approves it before it goes out.", messages.SUCCESS)
            return
        if root.account.status == XAccount.Status.NEEDS_REAUTH:
            self.message_user(
                request,
                f"{describe(root)} is held until @{root.account.username} is reconnected.",
                messages.WARNING,
            )
        else:
            self.message_user(request, f"{describe(root)} {what}.", messages.SUCCESS)
