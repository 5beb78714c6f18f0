"""The admin for recurring bots and posting queues.

Bots are saved, enabled, disabled, run and deleted through ``bots.recurring.services``,
which keeps each bot's beat schedule in step in the same transaction; queues
change through ``bots.planning.slots``. Staff who are not superusers see and act on the
bots, slots and queues of the X accounts they own, and nothing else.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import time
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.db.models import QuerySet
from django.forms.models import construct_instance
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from accounts import access
from accounts.admin_base import FollowsParent, PolicyAdmin
from accounts.models import XAccount
from bots.admin.base import badge, local_time, post_link, x_link
from bots.admin.forms import LabelledInTable
from bots.planning import slots
from bots.planning.models import PostingQueue, PostingSlot
from bots.posting.models import Post
from bots.posting.validation import validate_post
from bots.recurring import services as recurring
from bots.recurring import templating
from bots.recurring.models import Bot, BotItem, BotRun

OUTCOME_COLOURS = {
    BotRun.Outcome.POSTED: ("#1d6b37", "#e3f2e8"),
    BotRun.Outcome.HELD: ("#a12622", "#fff1db"),
    BotRun.Outcome.PAUSED: ("#7a4a00", "#fdf0d5"),
}


class BotForm(forms.ModelForm):
    class Meta:
        model = Bot
        fields = ("name", "account", "enabled", "schedule_kind", "cron", "interval_every", "interval_unit",
                  "timezone", "source", "queue_mode", "template", "template_lists")
        widgets = {
            "schedule_kind": forms.RadioSelect,
            "source": forms.RadioSelect,
            "cron": forms.TextInput(attrs={"placeholder": "0 9 * * 1-5", "size": 24}),
            "template": forms.Textarea(attrs={"rows": 3, "cols": 80}),
            "template_lists": forms.Textarea(attrs={"rows": 3, "cols": 80,
                                                    "placeholder": "greeting: Hello | Hi | Good morning"}),
        }
        labels = {"timezone": "Time zone"}
        help_texts = {
            "enabled": "Unticked, the bot does not run. Ticking it again clears a pause.",
            "cron": recurring.CRON_HELP,
            "interval_every": "With “every N minutes or hours”: the first run is one interval after saving.",
            "timezone": "The zone the cron times and {date}/{weekday} are in.",
            "source": "A queue posts the items below in order; a template writes a new text each run.",
            "queue_mode": "With a queue. Note that X refuses a text identical to a recent post of the account.",
            "template": templating.HELP_TEXT,
            "template_lists": templating.LISTS_HELP_TEXT,
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A page shown read-only (to a viewer, or of an unlinked account's bot) has no fields.
        if "timezone" in self.fields:
            self.fields["timezone"].error_messages["invalid_choice"] = (
                "Unknown time zone “%(value)s”: choose an IANA name such as Europe/Paris or America/New_York."
            )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        candidate = construct_instance(self, copy.copy(self.instance))
        for field, problems in recurring.bot_check(candidate).items():
            if field in self.errors:
                continue
            for problem in problems:
                self.add_error(field if field in self.fields else None, problem)
        return cleaned


class BotItemForm(LabelledInTable, forms.ModelForm):
    class Meta:
        model = BotItem
        fields = ("position", "text")
        widgets = {"text": forms.Textarea(attrs={"rows": 2, "cols": 70})}

    def clean_text(self) -> str:
        text = self.cleaned_data["text"]
        problems = validate_post(text=text)
        if not problems.ok:
            raise forms.ValidationError([m for messages_ in problems.errors.values() for m in messages_])
        return text


def run_list(preview: recurring.SchedulePreview) -> str:
    """A schedule's next runs, in the bot's zone, or what is wrong with it."""
    if preview.problems:
        return " ".join(preview.problems)
    return format_html("<ol class=\"bot-next-runs\">{}</ol>", format_html_join("", "<li>{}</li>", (
        (local_time(run, run.tzinfo),) for run in preview.runs)))


class BotItemInline(FollowsParent, admin.TabularInline):
    model = BotItem
    form = BotItemForm
    extra = 1
    fields = ("position", "text", "used_at")
    readonly_fields = ("used_at",)
    verbose_name_plural = "queue items: posted by position, lowest first"


@admin.register(Bot)
class BotAdmin(PolicyAdmin, admin.ModelAdmin):
    """Recurring bots: a schedule and a content source per bot. Everyone in
    the workspace sees them; admins and owners make and change them."""

    add_verb = change_verb = delete_verb = access.MANAGE

    form = BotForm
    inlines = (BotItemInline,)
    list_display = ("name", "handle", "schedule", "enabled", "paused_reason", "next_run_at", "last_run")
    list_display_links = ("name",)
    list_filter = ("enabled", ("account", admin.RelatedOnlyFieldListFilter))
    search_fields = ("name", "account__username")
    actions = ("run_now", "enable_bots", "disable_bots")
    readonly_fields = ("paused_reason", "schedule_in_words", "next_runs", "run_count", "recent_runs")
    fieldsets = (
        (None, {"fields": ("name", "account", "enabled", "paused_reason")}),
        ("Schedule", {"fields": ("schedule_kind", "cron", ("interval_every", "interval_unit"), "timezone",
                                 "schedule_in_words", "next_runs")}),
        ("Content", {"fields": ("source", "queue_mode", "template", "template_lists")}),
        ("Runs", {"fields": ("run_count", "recent_runs")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Bot]:
        return super().get_queryset(request).select_related("account", "periodic_task")

    def has_change_permission(self, request: HttpRequest, obj: Bot | None = None) -> bool:
        # An unlinked account's bots are its kept record: read-only.
        if obj is not None and obj.account.status == XAccount.Status.DISCONNECTED:
            return False
        return super().has_change_permission(request, obj)

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs: Any):
        if db_field.name == "account":
            kwargs["queryset"] = access.accounts(request.user, verb=access.MANAGE).exclude(
                status=XAccount.Status.DISCONNECTED)
            field = super().formfield_for_foreignkey(db_field, request, **kwargs)
            field.label_from_instance = lambda account: f"@{account.username}"
            return field
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = super().get_changeform_initial_data(request)
        initial.setdefault("timezone", request.user.timezone)
        return initial

    def save_model(self, request: HttpRequest, obj: Bot, form: BotForm, change: bool) -> None:
        recurring.bot_save(bot=obj, by=request.user, changed=form.changed_data)

    def delete_model(self, request: HttpRequest, obj: Bot) -> None:
        recurring.bot_delete(bot=obj, by=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Bot]) -> None:
        for bot in queryset:
            recurring.bot_delete(bot=bot, by=request.user)

    @admin.display(description="account", ordering="account__username")
    def handle(self, obj: Bot) -> str:
        return f"@{obj.account.username}"

    @admin.display(description="schedule")
    def schedule(self, obj: Bot) -> str:
        return recurring.describe_schedule(obj)

    @admin.display(description="in words")
    def schedule_in_words(self, obj: Bot) -> str:
        # The bot form's script fills it in as the schedule is chosen (bots/static/bots/bot_form.js).
        return format_html('<span class="schedule-words" data-preview-url="{}" aria-live="polite">{}</span>',
                           reverse("admin:bots_bot_schedule_preview"),
                           recurring.describe_schedule(obj) if obj.pk else "Shown as you choose the schedule.")

    @admin.display(description=f"next {recurring.PREVIEW_RUNS} runs")
    def next_runs(self, obj: Bot) -> str:
        if not obj.pk:
            return ""
        if not obj.enabled:
            return "None: the bot is disabled."
        first = recurring.next_run(obj)
        if first is None:
            return "—"
        # An interval counts from beat's last run of the bot: its next run, then one interval after another.
        since = first - recurring.interval(obj) if obj.schedule_kind == Bot.ScheduleKind.INTERVAL else None
        return run_list(recurring.schedule_preview(obj, now=since))

    class Media:
        css = {"all": ("bots/bot_form.css",)}
        js = ("bots/bot_form.js",)

    def get_urls(self) -> list[URLPattern]:
        preview = self.admin_site.admin_view(require_POST(self.schedule_preview_view))
        return [path("schedule-preview/", preview, name="bots_bot_schedule_preview"), *super().get_urls()]

    def schedule_preview_view(self, request: HttpRequest) -> JsonResponse:
        """The schedule being filled in, in words with its next runs, for the
        bot form's live preview: nothing is saved or read but the form's values."""
        data = request.POST
        try:
            every = int(data.get("interval_every", "") or 0) or None
        except ValueError:
            every = None
        preview = recurring.schedule_preview_of(
            schedule_kind=data.get("schedule_kind", ""), cron=data.get("cron", "")[:100], interval_every=every,
            interval_unit=data.get("interval_unit", ""), zone_name=data.get("timezone", "")[:64],
        )
        return JsonResponse({"words": preview.words, "runs": [local_time(run, run.tzinfo) for run in preview.runs],
                             "problems": preview.problems})

    @admin.display(description="next run")
    def next_run_at(self, obj: Bot) -> str:
        if not obj.pk:
            return ""
        return local_time(recurring.next_run(obj)) or "—"

    @admin.display(description="last run")
    def last_run(self, obj: Bot) -> str:
        run = obj.runs.select_related("post").first()
        return self._outcome(run) if run else "—"

    @admin.display(description="recent runs")
    def recent_runs(self, obj: Bot) -> str:
        runs = list(obj.runs.select_related("post")[:10]) if obj.pk else []
        if not runs:
            return "None yet."
        rows = format_html_join(
            "", '<tr class="bot-run"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>',
            (
                (local_time(run.slot), "Run now" if run.manual else "schedule", self._outcome(run),
                 post_link(run.post), (x_link(run.post.x_post_url) if run.post else "") or run.note)
                for run in runs
            ),
        )
        return format_html(
            '<table class="bot-runs"><thead><tr><th>for</th><th>by</th><th>outcome</th><th>post</th><th></th>'
            "</tr></thead><tbody>{}</tbody></table>", rows,
        )

    def _outcome(self, run: BotRun) -> str:
        return badge(f"bot-run bot-run-{run.outcome}", run.get_outcome_display(), OUTCOME_COLOURS[run.outcome],
                     title=run.note)

    @admin.action(description="Run now (make the next post at once)", permissions=["manage"])
    def run_now(self, request: HttpRequest, queryset: QuerySet[Bot]) -> None:
        for bot in queryset:
            result = recurring.bot_run_now(bot=bot, by=request.user)
            level = messages.SUCCESS if result.outcome == BotRun.Outcome.POSTED else messages.WARNING
            self.message_user(request, result.message, level)

    @admin.action(description="Enable", permissions=["manage"])
    def enable_bots(self, request: HttpRequest, queryset: QuerySet[Bot]) -> None:
        for bot in queryset:
            try:
                recurring.bot_enable(bot=bot, by=request.user)
            except recurring.BotError as error:
                self.message_user(request, f"“{bot.name}” cannot be enabled: {error}", messages.ERROR)
            else:
                self.message_user(request, f"“{bot.name}” is enabled.", messages.SUCCESS)

    @admin.action(description="Disable", permissions=["manage"])
    def disable_bots(self, request: HttpRequest, queryset: QuerySet[Bot]) -> None:
        for bot in queryset:
            recurring.bot_disable(bot=bot, by=request.user)
        self.message_user(request, f"Disabled {len(queryset)} bot(s).", messages.SUCCESS)


# Posting queues.


class PostingSlotForm(forms.ModelForm):
    class Meta:
        model = PostingSlot
        fields = ("weekday", "time")
        widgets = {"time": forms.TimeInput(format="%H:%M", attrs={"size": 6, "placeholder": "09:00"})}

    def clean_time(self):
        # Slots are minutes on the clock; seconds would only make near-twins.
        value = self.cleaned_data["time"]
        return value.replace(second=0, microsecond=0) if value else value


class PostingSlotFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        # An inline form leaves its account out of constraint checks, so a
        # slot already saved would only surface as a database error.
        super().clean()
        seen: set[tuple[int, time]] = set()
        for form in self.forms:
            if not form.has_changed() or self._should_delete_form(form) or form.errors:
                continue
            key = (form.cleaned_data["weekday"], form.cleaned_data["time"])
            taken = PostingSlot.objects.filter(account=self.instance, weekday=key[0], time=key[1]).exclude(
                pk=form.instance.pk)
            if key in seen or taken.exists():
                form.add_error("time", f"There is already a slot on {PostingSlot.Weekday(key[0]).label} at "
                                       f"{key[1]:%H:%M}.")
            seen.add(key)


class PostingSlotInline(FollowsParent, admin.TabularInline):
    model = PostingSlot
    form = PostingSlotForm
    formset = PostingSlotFormSet
    extra = 1
    verbose_name = "posting slot"
    verbose_name_plural = "posting slots"


@admin.action(description="Add to queue (next free posting slot)", permissions=["write"])
def add_to_queue(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Post]) -> None:
    """The Post admin's action: each selected post, oldest first, into its account's next free slot."""
    for post in queryset.select_related("account__workspace").order_by("created_at", "pk"):
        try:
            at = slots.queue_add(post=post, by=request.user)
        except slots.QueueError as error:
            modeladmin.message_user(request, str(error), messages.ERROR)
        else:
            when = local_time(at, slots.account_zone(post.account))
            waiting = post.thread_root.status == Post.Status.PENDING_APPROVAL
            modeladmin.message_user(
                request, f"Post {post.pk} waits for approval, for the slot of {when}." if waiting
                else f"Post {post.pk} is queued for {when}.", messages.SUCCESS,
            )


@admin.register(PostingQueue)
class PostingQueueAdmin(PolicyAdmin, admin.ModelAdmin):
    """Each account's weekly posting slots, and its queue page: the posts
    waiting for the slots, to re-order, and drafts to add. Editors order the
    queue; admins and owners set the slots. A queue comes with each linked
    account, and goes with it."""

    add_verb = delete_verb = None
    change_verb = access.MANAGE

    inlines = (PostingSlotInline,)
    list_display = ("handle", "zone", "slot_summary", "queued_count", "next_free_slot", "queue_link")
    fields = ("handle", "zone", "slot_rules", "next_free_slot", "queue_link")
    readonly_fields = fields
    search_fields = ("username",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[PostingQueue]:
        # An unlinked account has no queue: nothing goes out for it.
        return super().get_queryset(request).exclude(status=XAccount.Status.DISCONNECTED).select_related(
            "workspace").prefetch_related("posting_slots").annotate(queued_posts=slots.queued_count())

    @admin.display(description="account", ordering="username")
    def handle(self, obj: XAccount) -> str:
        return f"@{obj.username}"

    @admin.display(description="time zone")
    def zone(self, obj: XAccount) -> str:
        return f"{slots.account_zone(obj)} (the workspace's)"

    @admin.display(description="how slots work")
    def slot_rules(self, obj: XAccount) -> str:
        return slots.SLOT_HELP

    @admin.display(description="slots")
    def slot_summary(self, obj: XAccount) -> str:
        chosen = obj.posting_slots.all()
        return ", ".join(str(slot) for slot in chosen) or "none yet"

    @admin.display(description="queued")
    def queued_count(self, obj: XAccount) -> int:
        return obj.queued_posts

    def add_slots_first(self, obj: XAccount) -> str:
        """What to do, on these pages, for an account without slots (the words of
        slots.QueueError send people here, to Posting queues)."""
        url = reverse("admin:bots_postingqueue_change", args=[obj.pk])
        return format_html('<a href="{}#posting_slots-group" class="add-slots">add weekly times under '
                           "“Posting slots” on @{}’s queue</a>", url, obj.username)

    @admin.display(description="next free slot")
    def next_free_slot(self, obj: XAccount) -> str:
        if not obj.posting_slots.all():
            return format_html("none yet: {}", self.add_slots_first(obj))
        try:
            return local_time(next(slots.free_slots(account=obj, slots=obj.posting_slots.all())),
                              slots.account_zone(obj))
        except slots.QueueError as error:
            return str(error)

    @admin.display(description="queue")
    def queue_link(self, obj: XAccount) -> str:
        url = reverse("admin:bots_postingqueue_queue", args=[obj.pk])
        return format_html('<a href="{}" class="open-queue">Open the queue</a>', url)

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/queue/", view(self.queue_view), name="bots_postingqueue_queue"),
            path("<path:object_id>/queue/move/", view(self.queue_move_view), name="bots_postingqueue_move"),
            path("<path:object_id>/queue/add/", view(self.queue_add_view), name="bots_postingqueue_add"),
            *super().get_urls(),
        ]

    def _account(self, request: HttpRequest, object_id: str, *, verb: str) -> XAccount:
        account = self.get_object(request, unquote(object_id))
        if account is None or not self.allows(request, access.VIEW, account):
            raise Http404("No such posting queue.")
        access.require(request.user, verb, account)
        return account

    def _post(self, request: HttpRequest, account: XAccount) -> Post:
        try:
            pk = int(request.POST.get("post", ""))
        except ValueError:
            raise Http404("No such post.") from None
        post = Post.objects.filter(pk=pk, account=account, parent__isnull=True).first()
        if post is None:
            raise Http404("No such post in this queue.")
        return post

    def queue_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        account = self._account(request, object_id, verb=access.VIEW)
        zone = slots.account_zone(account)
        entries = list(slots.queued(account=account).prefetch_related("parts"))
        drafts = Post.objects.filter(account=account, parent__isnull=True, status=Post.Status.DRAFT).order_by(
            "created_at", "pk")[:100]
        context = {
            **self.admin_site.each_context(request),
            "title": f"Queue of @{account.username}",
            "subtitle": None,
            "opts": self.opts,
            "original": account,
            "account": account,
            "zone": zone,
            "slot_summary": self.slot_summary(account),
            "next_free_slot": self.next_free_slot(account),
            "can_change": self.allows(request, access.WRITE, account),
            "entries": [
                {"post": post, "when": local_time(post.scheduled_at, zone), "parts": len(post.parts.all()),
                 "link": post_link(post), "first": i == 0, "last": i == len(entries) - 1}
                for i, post in enumerate(entries)
            ],
            "drafts": [{"post": post, "link": post_link(post)} for post in drafts],
        }
        return TemplateResponse(request, "admin/bots/postingqueue/queue.html", context)

    def queue_move_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        account = self._account(request, object_id, verb=access.WRITE)
        post = self._post(request, account)
        direction = request.POST.get("direction", "")
        try:
            slots.queue_move(post=post, direction=direction)
        except slots.QueueError as error:
            self.message_user(request, str(error), messages.ERROR)
        else:
            when = local_time(post.scheduled_at, slots.account_zone(account))
            self.message_user(request, f"Moved post {post.pk} {direction}: it now goes out {when}.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:bots_postingqueue_queue", args=[account.pk]))

    def queue_add_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        account = self._account(request, object_id, verb=access.WRITE)
        post = self._post(request, account)
        if account.posting_slots.exists():
            add_to_queue(self, request, Post.objects.filter(pk=post.pk))
        else:
            self.message_user(request, format_html("@{} has no posting slots yet: {}.", account.username,
                                                   self.add_slots_first(account)), messages.ERROR)
        return HttpResponseRedirect(reverse("admin:bots_postingqueue_queue", args=[account.pk]))

    def get_inline_instances(self, request: HttpRequest, obj: XAccount | None = None) -> Sequence[Any]:
        if obj is None:
            return []
        inlines = super().get_inline_instances(request, obj)
        for inline in inlines:
            inline.verbose_name_plural = f"posting slots: weekly times in {slots.account_zone(obj)}"
        return inlines
