"""The planning admin: the calendar, CSV import and export, the monthly X
budgets, and the dashboard on the admin index.

Views are thin: the calendar, the CSV rows, the dashboard's figures and the
budgets come from ``bots.planning.calendar``, ``bots.planning.csv_io``, ``bots.planning.dashboard`` and
``bots.planning.costs``. Staff who are not superusers see their own accounts only.
"""

from __future__ import annotations

import logging
import zoneinfo
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import unquote
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from accounts import access
from accounts.admin_base import PolicyAdmin
from bots.admin.base import BADGE_COLOURS
from bots.planning import calendar, costs, csv_io, tasks
from bots.planning.models import AccountBudget, ImportJob, PostCalendar
from bots.posting.models import Post

log = logging.getLogger(__name__)

# The admin index shows the dashboard (bots/templatetags/bots_planning.py) above the apps.
admin.site.index_template = "admin/bots/dashboard_index.html"


def badge_colours() -> dict[str, tuple[str, str]]:
    # The post list's colours, so a status looks the same everywhere.
    return {str(key): colours for key, colours in BADGE_COLOURS.items()}


@admin.register(PostCalendar)
class CalendarAdmin(PolicyAdmin, admin.ModelAdmin):
    """Bots → Calendar: the month or week of posts, by account. It is one
    page: the calendar has no pages of its own for a post (its entries link
    to the post list's, which check who may see the post), so a post's id
    after the calendar's address finds nothing."""

    add_verb = change_verb = delete_verb = None

    def get_urls(self) -> list[URLPattern]:
        return [path("", self.admin_site.admin_view(self.changelist_view), name="bots_postcalendar_changelist")]

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        zone = timezone.get_current_timezone()
        today = timezone.localdate()
        accounts = access.accounts(request.user)
        try:
            view = calendar.parse_view(request.GET.get("view"))
        except calendar.CalendarError as error:
            self.message_user(request, str(error), messages.ERROR)
            view = "month"
        try:
            anchor = calendar.parse_day(request.GET.get("day"), today=today)
        except calendar.CalendarError as error:
            self.message_user(request, str(error), messages.ERROR)
            anchor = today
        account = None
        chosen = request.GET.get("account", "")
        if chosen:
            account = accounts.filter(pk=chosen).first() if chosen.isdecimal() else None
            if account is None:
                self.message_user(request, "There is no such account among yours: showing all of them.",
                                  messages.ERROR)
        built = calendar.calendar_build(accounts=accounts, view=view, anchor=anchor, zone=zone, account=account)
        colours = badge_colours()
        context = {
            **self.admin_site.each_context(request),
            "title": f"Calendar · {built.title}",
            "subtitle": None,
            "opts": self.opts,
            "calendar": built,
            "accounts": accounts,
            "account": account,
            "legend": [(key, label, colours.get(key, colours["draft"])) for key, label in calendar.LEGEND],
            "colours": colours,
            "weekdays": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
        }
        return TemplateResponse(request, "admin/bots/calendar/calendar.html", context)


# CSV import.


class CappedUpload(FileUploadHandler):
    """Takes an uploaded file only up to CSV_IMPORT_MAX_BYTES while it
    arrives: past that the file is dropped, and the rest of it read and
    thrown away, so a large upload is never held whole in memory or on disk."""

    def __init__(self, request: HttpRequest, limit: int) -> None:
        super().__init__(request)
        self.limit = limit
        self.refused = False

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > self.limit:
            self.refused = True
            raise SkipFile
        return raw_data

    def file_complete(self, file_size: int) -> None:
        # The handlers after this one (memory, temporary file) make the file.
        return None


class ImportForm(forms.Form):
    file = forms.FileField(label="CSV file", allow_empty_file=True)
    time_zone = forms.CharField(
        label="Time zone for times without an offset", max_length=64,
        help_text="An IANA name such as Europe/Paris. Times with an offset (2026-12-01T09:00+01:00) keep theirs.",
    )

    def __init__(self, *args: Any, refused_upload: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.refused_upload = refused_upload
        self.fields["file"].help_text = (
            f"UTF-8, with a header row, at most {csv_io.size_in_words(settings.CSV_IMPORT_MAX_BYTES)}. "
            "Columns: account (@username), text, scheduled_at, thread, media.")
        if refused_upload:
            # The file was dropped as it arrived: say why, not that it is missing.
            self.fields["file"].required = False

    def clean_file(self) -> Any:
        if self.refused_upload:
            raise forms.ValidationError(self.refused_upload)
        return self.cleaned_data["file"]

    def clean_time_zone(self) -> zoneinfo.ZoneInfo:
        name = self.cleaned_data["time_zone"].strip()
        try:
            return zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise forms.ValidationError(
                f"Unknown time zone “{name}”: choose an IANA name such as Europe/Paris or America/New_York."
            ) from None


@admin.register(ImportJob)
class ImportJobAdmin(PolicyAdmin, admin.ModelAdmin):
    """Bots → CSV imports: upload a file, watch its progress, read its report.
    The workspace's members see its imports; editors and up import."""

    change_verb = delete_verb = None

    list_display = ("file_name", "status", "rows", "created_posts", "created_by", "created_at")
    list_display_links = ("file_name",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[ImportJob]:
        return super().get_queryset(request).select_related("created_by")

    @admin.display(description="rows")
    def rows(self, obj: ImportJob) -> str:
        return f"{obj.processed_rows:,} of {obj.total_rows:,}"

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        upload = view(self.add_view)

        # The cap must be in place before anything reads the request's body,
        # and the CSRF middleware reads it: so the middleware is told to skip
        # this view, and the admin's own CSRF check (in admin_view) runs after.
        @csrf_exempt
        def capped_upload(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            request.upload_handlers.insert(0, CappedUpload(request, settings.CSV_IMPORT_MAX_BYTES))
            return upload(request, *args, **kwargs)

        return [
            path("add/", capped_upload, name="bots_importjob_add"),
            path("<path:object_id>/progress/", view(self.progress_view), name="bots_importjob_progress"),
            path("export/", view(self.export_view), name="bots_post_export"),
            *super().get_urls(),
        ]

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: dict | None = None) -> HttpResponse:
        if not self.has_add_permission(request):
            raise Http404("No such page.")
        # Reading the body (POST, FILES) runs the upload handlers, the cap among them.
        data, files = (request.POST, request.FILES) if request.method == "POST" else (None, None)
        cap = next((h for h in request.upload_handlers if isinstance(h, CappedUpload)), None)
        refused = csv_io.too_large(cap.limit) if cap is not None and cap.refused else ""
        form = ImportForm(data or None, files or None, refused_upload=refused,
                          initial={"time_zone": str(request.user.timezone)})
        if request.method == "POST" and form.is_valid():
            try:
                job = csv_io.import_job_start(upload=form.cleaned_data["file"], user=request.user,
                                              zone=form.cleaned_data["time_zone"])
            except csv_io.CsvFileError as error:
                form.add_error("file", str(error))
            else:
                transaction.on_commit(lambda: enqueue_import(job))
                return HttpResponseRedirect(reverse("admin:bots_importjob_change", args=[job.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": "Import posts from CSV",
            "subtitle": None,
            "opts": self.opts,
            "form": form,
            "columns": csv_io.COLUMNS,
        }
        return TemplateResponse(request, "admin/bots/importjob/upload.html", context)

    def _job(self, request: HttpRequest, object_id: str) -> ImportJob:
        job = self.get_object(request, unquote(object_id))
        if job is None or not self.has_view_permission(request, job):
            raise Http404("No such import.")
        return job

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict | None = None) -> HttpResponse:
        job = self._job(request, object_id)
        context = {
            **self.admin_site.each_context(request),
            "title": f"CSV import: {job.file_name or 'file'}",
            "subtitle": None,
            "opts": self.opts,
            "job": job,
            "original": job,
            "progress": progress_of(job),
            "progress_url": reverse("admin:bots_importjob_progress", args=[job.pk]),
            "posts_url": reverse("admin:bots_post_changelist"),
        }
        return TemplateResponse(request, "admin/bots/importjob/progress.html", context)

    def progress_view(self, request: HttpRequest, object_id: str) -> JsonResponse:
        return JsonResponse(progress_of(self._job(request, object_id)))

    def export_view(self, request: HttpRequest) -> HttpResponse:
        """The post list as CSV, as filtered, searched and scoped on its page
        (the query string is the changelist's)."""
        post_admin = self.admin_site.get_model_admin(Post)
        if not post_admin.has_view_permission(request):
            raise Http404("No such page.")
        try:
            changelist = post_admin.get_changelist_instance(request)
        except IncorrectLookupParameters:
            self.message_user(request, "The post list's filters in that link are not valid: export from the list "
                                       "again.", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:bots_post_changelist"))
        return export_response(changelist.get_queryset(request))


def enqueue_import(job: ImportJob) -> None:
    try:
        tasks.import_posts_csv.delay(job.pk)
    except Exception:
        # Unqueued, the job would wait for a worker for ever (Redis down or full).
        log.exception("CSV import %s could not be queued", job.pk)
        csv_io.import_job_end(job_id=job.pk, reason=csv_io.NOT_QUEUED)


def progress_of(job: ImportJob) -> dict[str, Any]:
    return {
        "status": job.status,
        "status_label": job.get_status_display(),
        "finished": job.finished,
        "processed": job.processed_rows,
        "total": job.total_rows,
        "created": job.created_posts,
        "report": job.report,
    }


def export_response(roots: QuerySet[Post]) -> StreamingHttpResponse:
    # The zone is read now: the stream is written after the view returns,
    # when the request's zone is no longer active.
    zone = timezone.get_current_timezone()
    response = StreamingHttpResponse(csv_io.export_lines(roots=roots, zone=zone), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="posts-{timezone.localdate():%Y-%m-%d}.csv"'
    return response


@admin.action(description="Export as CSV (the selected posts, or all that match with “Select all”)")
def export_csv(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Post]) -> HttpResponse:
    return export_response(queryset)


# Monthly X budgets.


class BudgetForm(forms.ModelForm):
    monthly_budget_usd = forms.CharField(
        label="Monthly budget (USD)", required=False, max_length=20,
        help_text="Leave empty for no budget. Posts that would take the month's estimated X spend over it are held "
                  "until next month, or until you raise it.",
    )

    class Meta:
        model = AccountBudget
        fields = ("account",)

    def __init__(self, *args: Any, accounts: QuerySet, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "account" not in self.fields:
            # Shown read-only (to a member who may not change budgets).
            return
        if self.instance.pk:
            self.fields["account"].disabled = True
            amount = self.instance.monthly_budget_usd
            self.initial["monthly_budget_usd"] = "" if amount is None else str(amount)
        self.fields["account"].queryset = accounts
        self.fields["account"].label_from_instance = lambda account: f"@{account.username}"

    def clean_monthly_budget_usd(self) -> Decimal | None:
        try:
            return costs.parse_budget(self.cleaned_data["monthly_budget_usd"])
        except costs.BudgetError as error:
            raise forms.ValidationError(str(error)) from None


@admin.register(AccountBudget)
class AccountBudgetAdmin(PolicyAdmin, admin.ModelAdmin):
    """Bots → Monthly budgets: what each account may spend on X in a month.
    Members see them; owners set them. A budget is cleared, not deleted."""

    add_verb = change_verb = access.OWN
    delete_verb = None

    form = BudgetForm
    list_display = ("handle", "budget", "spent", "left")
    list_display_links = ("handle",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[AccountBudget]:
        return super().get_queryset(request).select_related("account__workspace")

    def get_form(self, request: HttpRequest, obj: AccountBudget | None = None, change: bool = False,
                 **kwargs: Any) -> type[forms.ModelForm]:
        base = super().get_form(request, obj, change=change, **kwargs)
        taken = AccountBudget.objects.exclude(pk=obj.pk if obj else None).values("account_id")
        accounts = access.accounts(request.user, verb=access.OWN).exclude(pk__in=taken)

        class ScopedBudgetForm(base):
            def __init__(self, *args: Any, **form_kwargs: Any) -> None:
                super().__init__(*args, accounts=accounts, **form_kwargs)

        return ScopedBudgetForm

    def save_model(self, request: HttpRequest, obj: AccountBudget, form: BudgetForm, change: bool) -> None:
        saved = costs.budget_set(account=obj.account, amount=form.cleaned_data["monthly_budget_usd"], by=request.user)
        obj.pk = saved.pk
        obj.monthly_budget_usd = saved.monthly_budget_usd

    def _usage(self, obj: AccountBudget) -> Decimal:
        start, _ = costs.month_bounds(obj.account.workspace.time_zone)
        return costs.month_usage(month_starts={obj.account_id: start})[obj.account_id][1]

    @admin.display(description="account", ordering="account__username")
    def handle(self, obj: AccountBudget) -> str:
        return f"@{obj.account.username}"

    @admin.display(description="monthly budget")
    def budget(self, obj: AccountBudget) -> str:
        return "none" if obj.monthly_budget_usd is None else costs.money(obj.monthly_budget_usd)

    @admin.display(description="estimated X spend this month")
    def spent(self, obj: AccountBudget) -> str:
        return costs.money(self._usage(obj))

    @admin.display(description="left")
    def left(self, obj: AccountBudget) -> str:
        if obj.monthly_budget_usd is None:
            return "—"
        return costs.money(max(obj.monthly_budget_usd - self._usage(obj), Decimal("0")))
