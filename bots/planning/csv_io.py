"""CSV import and export of posts.

Columns: ``account`` (@username), ``text``, ``scheduled_at`` (ISO 8601 with
an offset; without one, a local time in the zone chosen for the import; empty,
the account's next free posting slot), ``thread`` (rows with the same key form
a thread, in file order) and ``media`` (``|``-separated paths under
MEDIA_ROOT, or http(s) URLs). An export adds ``status``, ``x_url`` and
``last_error``, which an import ignores, so an export imports again.

A cell that a spreadsheet would run as a formula (it starts with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return) is exported with a single quote
before it, as OWASP recommends; so is one that starts with quotes and then
such a character. An import takes that one quote off again, so any text makes
the round trip unchanged.

An import is all or nothing: every row is checked first, and one refused row
means nothing is created and a report says which row (the header is row 1),
which column and why. Then everything is created in one transaction by
``services.post_create``, which schedules each post (or sends it for approval
where the workspace asks that of the person importing).

A job always ends, ``done`` or ``refused`` with a reason on its page: a
failure of any kind refuses it, and the sweeper ends one whose worker died.
"""

from __future__ import annotations

import csv
import io
import logging
import shutil
import tempfile
import time as clock
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files import File
from django.db import DatabaseError, transaction
from django.db.models import F, Prefetch, Q, QuerySet
from django.utils import timezone

from accounts import access
from accounts.models import Workspace, XAccount
from bots.planning import slots
from bots.planning.models import ImportJob, PostingSlot
from bots.posting import media_fetch, services
from bots.posting.models import Post
from bots.posting.validation import (
    GIF_TYPES,
    IMAGE_TYPES,
    MAX_GIF_BYTES,
    MAX_IMAGE_BYTES,
    MAX_VIDEO_BYTES,
    MB,
    VIDEO_TYPES,
    MediaSpec,
    sniff_media_type,
    validate_post,
)
from bots.zones import local_instant

COLUMNS = ("account", "text", "scheduled_at", "thread", "media")
REQUIRED = ("account", "text")
EXPORT_COLUMNS = (*COLUMNS, "status", "x_url", "last_error")

# Media from URLs are fetched this many at a time, all within one deadline for
# the whole import, which leaves the worker time to create the posts before its
# soft time limit stops it.
MEDIA_FETCH_THREADS = 4
MEDIA_DEADLINE_SECONDS = 120
# How often the worker records its progress, in rows.
PROGRESS_EVERY = 200
# What a spreadsheet reads as the start of a formula (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# A job not ended yet; and those a worker is at, which only a dead worker leaves for long.
ACTIVE = (ImportJob.Status.PENDING, ImportJob.Status.CHECKING, ImportJob.Status.CREATING)
AT_WORK = (ImportJob.Status.CHECKING, ImportJob.Status.CREATING)

WORKER_ENDED = ("The import stopped (its worker ended) before it finished, and nothing was imported: "
                "upload it again.")
NOT_QUEUED = ("The import could not be handed to a worker (the queue did not take it), and nothing was "
              "imported: upload it again in a moment; if this happens again, tell an administrator.")

log = logging.getLogger(__name__)


class CsvFileError(Exception):
    """The file as a whole cannot be read (size, encoding, header, a field too
    long); nothing is imported. ``row`` is the record it was found in."""

    def __init__(self, message: str, *, row: int = 1) -> None:
        super().__init__(message)
        self.row = row


class ImportEnded(Exception):
    """The job was ended elsewhere (by the sweeper, or by another delivery of
    its task) while this worker was at it: this worker stops and writes nothing."""


@dataclass(frozen=True)
class Problem:
    row: int
    column: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "reason": self.reason}


@dataclass
class MediaSource:
    """A file to attach: one already in storage, or one fetched into a temporary file."""

    spec: MediaSpec
    storage_name: str = ""
    temporary: Path | None = None


@dataclass
class PlannedPost:
    row: int
    account: XAccount
    text: str
    at: datetime | None
    thread: str
    media: list[MediaSource] = field(default_factory=list)
    parts: list[PlannedPost] = field(default_factory=list)


@dataclass
class Plan:
    """What an import will create: thread roots in file order, their parts under them."""

    roots: list[PlannedPost]
    problems: list[Problem]
    rows: int
    downloads: Downloads

    def discard(self) -> None:
        self.downloads.close()


# Reading the file.


def size_in_words(limit: int) -> str:
    return f"{limit / MB:g} MB" if limit >= MB else f"{limit:,} bytes"


def too_large(limit: int) -> str:
    return (f"The file is larger than {size_in_words(limit)}, the most an import takes: split it into smaller "
            "files and upload them one at a time.")


def decode(data: bytes) -> str:
    """The file's text: UTF-8, with or without a byte order mark."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise CsvFileError("The file is UTF-16; save it as “CSV UTF-8” and upload it again.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise CsvFileError(
            f"The file is not UTF-8 (byte 0x{data[error.start]:02x} on line {line} is not valid UTF-8; "
            "it may be Windows-1252 or Latin-1). Save it as “CSV UTF-8” and upload it again."
        ) from None


def read_header(text: str) -> list[str]:
    """The header row, checked: every column known, the required ones present, none twice."""
    if not text.strip():
        raise CsvFileError("The file is empty: it needs a header row (account,text,scheduled_at,thread,media) "
                           "and a row per post.")
    _, header = next(_records(text))
    names = [name.strip().lower() for name in header]
    unknown = [name for name in names if name not in EXPORT_COLUMNS]
    if unknown:
        raise CsvFileError(
            f"Row 1 (the header) has unknown column(s): {', '.join(repr(n) for n in unknown)}. "
            f"The columns are {', '.join(COLUMNS)} (and status, x_url, last_error from an export, which are ignored)."
        )
    missing = [name for name in REQUIRED if name not in names]
    if missing:
        raise CsvFileError(f"Row 1 (the header) lacks the column(s) {', '.join(missing)}; "
                           f"the columns are {', '.join(COLUMNS)}.")
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise CsvFileError(f"Row 1 (the header) names {', '.join(twice)} more than once.")
    return names


def csv_rows(text: str) -> Iterator[tuple[int, dict[str, str] | None]]:
    """Each record after the header with its row number (header = 1), its
    cells as written before an export escaped them; None for a record with
    more fields than the header."""
    records = _records(text)
    _, header = next(records)
    names = [name.strip().lower() for name in header]
    for number, values in records:
        if not any(value.strip() for value in values):
            continue
        if len(values) > len(names):
            yield number, None
            continue
        cells = [cell_in(value) for value in values]
        yield number, dict(zip(names, cells + [""] * (len(names) - len(cells)), strict=True))


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    """The file's records with their numbers (the header is 1). Lines may end
    in CR LF, LF or a lone CR (older Mac programs)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    number = 1
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise _unreadable(error, row=number, line=reader.line_num) from None
        yield number, values
        number += 1


def _unreadable(error: csv.Error, *, row: int, line: int) -> CsvFileError:
    # csv.Error has no subclasses; with newline="" and the default dialect the
    # field size limit is the one it meets in practice.
    limit = csv.field_size_limit()
    if str(error).startswith("field larger than field limit"):
        return CsvFileError(
            f"Line {line}: a field is longer than {limit:,} characters, and nothing was imported. A post's text "
            "is at most 280: look for a double quote that opens a field and is never closed, which makes the "
            "rest of the file one field.", row=row)
    return CsvFileError(f"Line {line} cannot be read as CSV ({error}), and nothing was imported: save the file "
                        "as CSV again and upload it.", row=row)


def cell_out(value: str) -> str:
    """A cell as exported: a single quote before a formula, and before text
    that already starts with quotes and then a formula's first character, so
    that ``cell_in`` gives every text back exactly."""
    return "'" + value if value.lstrip("'").startswith(FORMULA_STARTS) else value


def cell_in(value: str) -> str:
    """A cell as imported: the quote ``cell_out`` added taken off again."""
    if value.startswith("'") and value[1:].lstrip("'").startswith(FORMULA_STARTS):
        return value[1:]
    return value


# Checking.


def import_check(
    *, text: str, user, workspace: Workspace, zone: tzinfo, now: datetime | None = None,
    progress: Callable[[int], None] = lambda rows: None,
) -> Plan:
    """Check every row and plan the posts; nothing is written. Media from
    URLs are fetched a few at a time, while the rows are checked, into a
    temporary directory, which ``Plan.discard`` removes."""
    now = now or timezone.now()
    read_header(text)
    accounts = {a.username.lower(): a for a in _accounts_of(user, workspace)}
    with_slots = set(PostingSlot.objects.filter(account__in=accounts.values()).values_list("account_id", flat=True))
    urls = [item for _, row in csv_rows(text) if row for item in _media_items(row.get("media", "")) if _is_url(item)]
    plan = Plan(roots=[], problems=[], rows=0,
                downloads=Downloads(urls, deadline=clock.monotonic() + _media_deadline_seconds()))
    try:
        _check_rows(plan, text, accounts=accounts, zone=zone, now=now, with_slots=with_slots, progress=progress)
    except BaseException:
        plan.discard()
        raise
    return plan


def _media_deadline_seconds() -> float:
    # Half the soft time limit at most, however low it is set: the rest is for creating the posts.
    return min(MEDIA_DEADLINE_SECONDS, settings.CELERY_TASK_SOFT_TIME_LIMIT / 2)


def _check_rows(
    plan: Plan, text: str, *, accounts: dict[str, XAccount], zone: tzinfo, now: datetime, with_slots: set[int],
    progress: Callable[[int], None],
) -> None:
    threads: dict[str, PlannedPost] = {}
    for number, row in csv_rows(text):
        plan.rows += 1
        if plan.rows % PROGRESS_EVERY == 0:
            progress(plan.rows)
        if row is None:
            plan.problems.append(Problem(number, "", "This row has more fields than the header: check its quotes "
                                                     "and commas (a text with commas must be in double quotes)."))
            continue
        planned = _check_row(plan, number, row, accounts=accounts, zone=zone, now=now, threads=threads,
                             with_slots=with_slots)
        if planned is None:
            continue
        root = threads.get(planned.thread) if planned.thread else None
        if root is None:
            plan.roots.append(planned)
            if planned.thread:
                threads[planned.thread] = planned
        else:
            root.parts.append(planned)
    progress(plan.rows)
    if not plan.rows and not plan.problems:
        plan.problems.append(Problem(1, "", "The file has a header but no rows: add a row per post."))


def _accounts_of(user, workspace: Workspace) -> QuerySet[XAccount]:
    """The workspace's accounts the person may write posts for."""
    return access.visible(user, XAccount.objects.select_related("workspace").filter(workspace=workspace),
                          verb=access.WRITE, everywhere=True)


def _check_row(
    plan: Plan, number: int, row: dict[str, str], *, accounts: dict[str, XAccount], zone: tzinfo, now: datetime,
    threads: dict[str, PlannedPost], with_slots: set[int],
) -> PlannedPost | None:
    # PostgreSQL cannot store a NUL character, and a path cannot hold one.
    with_nul = [Problem(number, column, "This cell contains a NUL character (U+0000), which cannot be stored: "
                                        "remove it.") for column, value in row.items() if "\0" in value]
    if with_nul:
        plan.problems.extend(with_nul)
        return None
    problems: list[Problem] = []
    handle = row.get("account", "").strip()
    account = accounts.get(handle.lstrip("@").lower()) if handle else None
    if not handle:
        problems.append(Problem(number, "account", "No account: give the X account as @username."))
    elif account is None:
        known = ", ".join(f"@{a.username}" for a in list(accounts.values())[:10]) or "none yet: link one first"
        problems.append(Problem(number, "account", f"{handle} is not one of your X accounts (yours: {known})."))
    elif account.status == XAccount.Status.DISCONNECTED:
        problems.append(Problem(number, "account", f"@{account.username} is unlinked: link it again before "
                                                   "importing posts for it."))

    thread = row.get("thread", "").strip()
    root = threads.get(thread) if thread else None
    at, at_problem = _parse_time(row.get("scheduled_at", ""), zone=zone, now=now)
    if at_problem:
        problems.append(Problem(number, "scheduled_at", at_problem))
    if root is not None:
        if account is not None and account.pk != root.account.pk:
            problems.append(Problem(number, "account", f"Thread “{thread}” started on @{root.account.username} in "
                                                       f"row {root.row}; all its rows must be on that account."))
        if at is not None and at != root.at:
            problems.append(Problem(number, "scheduled_at", f"Thread “{thread}” goes out at the time of its first "
                                                            f"row ({root.row}): leave this cell empty."))
    elif account is not None and at is None and not at_problem and account.pk not in with_slots:
        problems.append(Problem(number, "scheduled_at", f"No time given and @{account.username} has no posting "
                                                        "slots: give a time, or add weekly slots under Posting queues."))

    media = _media(plan, number, row.get("media", ""), problems)
    text = row.get("text", "")
    checked = validate_post(text=text, media=[m.spec for m in media], is_thread_part=root is not None)
    for field_name, messages in checked.errors.items():
        column = "media" if field_name in ("media", "alt_text") else "text"
        problems.extend(Problem(number, column, message) for message in messages)

    plan.problems.extend(problems)
    if problems or account is None:
        return None
    return PlannedPost(row=number, account=account, text=text, at=at if root is None else root.at, thread=thread,
                       media=media)


def _parse_time(value: str, *, zone: tzinfo, now: datetime) -> tuple[datetime | None, str]:
    value = value.strip()
    if not value:
        return None, ""
    example = "2026-12-01T09:00+01:00, or 2026-12-01 09:00 in the import's time zone"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None, f"“{value}” is not a date and time in ISO 8601: write it like {example}."
    if len(value) <= 10:
        return None, f"“{value}” has no time of day: write it like {example}."
    if timezone.is_naive(parsed):
        parsed = local_instant(parsed.date(), parsed.time(), zone)
    if parsed <= now:
        return None, (f"{value} is in the past: give a time to come, or leave the cell empty for the account's "
                      "next free posting slot.")
    return parsed, ""


# Media.


def _media_items(value: str) -> list[str]:
    return [item for item in (part.strip() for part in value.split("|")) if item]


def _is_url(item: str) -> bool:
    return item.lower().startswith(("http://", "https://"))


def _media(plan: Plan, number: int, value: str, problems: list[Problem]) -> list[MediaSource]:
    found = []
    for item in _media_items(value):
        try:
            if _is_url(item):
                found.append(plan.downloads.get(item))
            else:
                found.append(_local(item))
        except MediaError as error:
            problems.append(Problem(number, "media", str(error)))
    return found


class MediaError(Exception):
    """A media file that cannot be attached; the message says why."""


def _limit(content_type: str) -> int:
    if content_type in IMAGE_TYPES:
        return MAX_IMAGE_BYTES
    if content_type in GIF_TYPES:
        return MAX_GIF_BYTES
    return MAX_VIDEO_BYTES


def _known_type(name: str, head: bytes) -> str:
    content_type = sniff_media_type(head)
    if content_type is None or content_type not in (*IMAGE_TYPES, *GIF_TYPES, *VIDEO_TYPES):
        raise MediaError(f"{name} is not an image or video X takes: attach JPEG, PNG or WebP images, a GIF, "
                         "or an MP4 or MOV video.")
    return content_type


def _local(item: str) -> MediaSource:
    root = Path(settings.MEDIA_ROOT).resolve()
    path = (root / item).resolve()
    if not path.is_relative_to(root):
        raise MediaError(f"{item} is outside the media folder: give a path under MEDIA_ROOT (such as "
                         "uploads/photo.png) or an http(s) URL.")
    if path.relative_to(root).parts[:1] in (("posts",), ("imports",)):
        # The platform's own uploads, each its workspace's alone: naming one
        # must not attach another workspace's file.
        raise MediaError(f"{item} is a file the platform keeps for a post or an import: give a file of your own "
                         "under MEDIA_ROOT (such as uploads/photo.png) or an http(s) URL.")
    try:
        if not path.is_file():
            raise MediaError(f"There is no file {item} in the media folder.")
        with path.open("rb") as file:
            content_type = _known_type(item, file.read(16))
        size = path.stat().st_size
    except OSError as error:
        raise MediaError(f"{item} cannot be read from the media folder ({error.strerror or type(error).__name__}): "
                         "check the path.") from None
    return MediaSource(spec=MediaSpec(name=item, content_type=content_type, size=size),
                       storage_name=path.relative_to(root).as_posix())


class Downloads:
    """An import's media URLs, each fetched once, a few at a time, into a
    temporary directory, all before one deadline. The fetches start at once
    and run while the rows are checked."""

    def __init__(self, urls: Iterable[str], *, deadline: float) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="csv-import-"))
        # Its threads start with the first fetch: an import without URLs has none.
        self._pool = ThreadPoolExecutor(max_workers=MEDIA_FETCH_THREADS, thread_name_prefix="csv-media")
        self._fetches: dict[str, Future[MediaSource]] = {}
        for url in dict.fromkeys(urls):
            target = self.directory / str(len(self._fetches))
            self._fetches[url] = self._pool.submit(_download, url, target=target, deadline=deadline)

    def get(self, url: str) -> MediaSource:
        """The fetched file, once its fetch ends; MediaError says why it failed."""
        return self._fetches[url].result()

    def close(self) -> None:
        # Not waiting: after a soft time limit the worker has seconds to record
        # the refusal, and a fetch still running ends at the deadline anyway.
        self._pool.shutdown(wait=False, cancel_futures=True)
        shutil.rmtree(self.directory, ignore_errors=True)


def _download(url: str, *, target: Path, deadline: float) -> MediaSource:
    try:
        fetched = media_fetch.fetch_media(url, max_bytes=MAX_VIDEO_BYTES, deadline=deadline,
                                          allow_private=settings.CSV_MEDIA_ALLOW_PRIVATE_HOSTS)
    except media_fetch.MediaFetchError as error:
        raise MediaError(str(error)) from None
    content_type = _known_type(url, fetched.content[:16])
    limit = _limit(content_type)
    if len(fetched.content) > limit:
        raise MediaError(f"{url} is larger than X's {limit // MB} MB limit for {content_type.split('/')[0]}s "
                         "of this type.")
    target.write_bytes(fetched.content)
    name = url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or "media"
    return MediaSource(spec=MediaSpec(name=name, content_type=content_type, size=len(fetched.content)),
                       temporary=target)


# Creating.


@transaction.atomic
def import_create(*, plan: Plan, user, now: datetime | None = None) -> int:
    """Create and schedule the planned posts, through ``services.post_create``
    like every post (all of them, or none if any fails); returns how many
    posts were made. Posts without a time take their account's free slots in
    file order."""
    now = now or timezone.now()
    # The person's roles are read again: they may have changed while the rows were checked.
    access.forget(user)
    # One queue change per account at a time: a concurrent "Add to queue" must
    # not take the slots this import is placing posts in. Only the accounts
    # whose rows take slots, and not against new posts: FOR UPDATE would stop
    # every post being created for these accounts (the foreign key's check)
    # until the import commits.
    slots.lock_queues({root.account.pk for root in plan.roots if root.at is None})
    free = {}
    made = 0
    for root in plan.roots:
        at = root.at
        if at is None:
            if root.account.pk not in free:
                free[root.account.pk] = slots.free_slots(account=root.account, after=now)
            at = next(free[root.account.pk])
        with ExitStack() as files:
            services.post_create(
                account=root.account, text=root.text, by=user, schedule=True, scheduled_at=at,
                media=_new_media(root.media, files),
                parts=[services.NewPart(text=part.text, media=_new_media(part.media, files)) for part in root.parts],
            )
        made += 1 + len(root.parts)
    return made


def _new_media(media: list[MediaSource], files: ExitStack) -> list[services.NewMedia]:
    """The planned files as post_create takes them: a fetched one opened
    (``files`` closes it), one in the media folder by its name."""
    return [
        services.NewMedia(
            name=source.spec.name, content_type=source.spec.content_type, size=source.spec.size,
            file=File(files.enter_context(source.temporary.open("rb"))) if source.temporary is not None else None,
            stored=source.storage_name,
        )
        for source in media
    ]


# Export.


class _Echo:
    """A file that hands back what is written, for csv.writer in a stream."""

    def write(self, value: str) -> str:
        return value


def export_lines(*, roots: QuerySet[Post], zone: tzinfo) -> Iterator[str]:
    """The posts (thread roots, with their parts after them) as CSV lines in
    the import's columns plus status, x_url and last_error; times in ISO 8601
    with the offset of ``zone``; every cell safe to open in a spreadsheet
    (``cell_out``). Read in chunks, so any number streams."""
    writer = csv.writer(_Echo())
    # The byte order mark lets spreadsheet programs read the file as UTF-8.
    yield "\ufeff" + writer.writerow(EXPORT_COLUMNS)
    ordered_parts = Post.objects.order_by("position").prefetch_related("media")
    roots = roots.select_related("account").prefetch_related(None).prefetch_related(
        Prefetch("parts", queryset=ordered_parts), "media")
    for root in roots.iterator(chunk_size=500):
        parts = list(root.parts.all())
        thread = f"post-{root.pk}" if parts else ""
        when = timezone.localtime(root.scheduled_at, zone).isoformat(timespec="minutes") if root.scheduled_at else ""
        for post in (root, *parts):
            yield writer.writerow([cell_out(cell) for cell in (
                f"@{root.account.username}", post.text, when if post is root else "", thread,
                "|".join(media.file.name for media in post.media.all()), post.status, post.x_post_url,
                post.last_error,
            )])


# The background job.


def import_job_start(*, upload, user, zone: tzinfo) -> ImportJob:
    """Store an uploaded CSV whose size and header are sound as a job for a
    worker. At most one byte past CSV_IMPORT_MAX_BYTES is read."""
    limit = settings.CSV_IMPORT_MAX_BYTES
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise CsvFileError(too_large(limit))
    read_header(decode(data))
    job = ImportJob(file_name=(upload.name or "")[:255], time_zone=zone, created_by=user,
                    workspace=access.current_workspace(user))
    job.file.save("upload.csv", File(io.BytesIO(data)), save=True)
    return job


def import_job_run(*, job_id: int) -> ImportJob:
    """Check every row of the job's file, then create all its posts or none.
    Whatever happens, the job ends: ``done``, or ``refused`` with a reason."""
    job = ImportJob.objects.select_related("created_by").get(pk=job_id)
    if job.finished:
        return job
    claimed = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.PENDING).update(
        status=ImportJob.Status.CHECKING, progressed_at=timezone.now())
    if not claimed:
        # An earlier delivery of this task started the job and its worker
        # died (Celery delivers again then). Running it again could kill the
        # next worker the same way, for ever.
        import_job_end(job_id=job.pk, reason=WORKER_ENDED)
    else:
        try:
            _run(job)
        except ImportEnded:
            log.warning("CSV import %s was ended while its worker was at it; the worker stopped", job.pk)
        except Exception as error:
            log.exception("CSV import %s failed", job.pk)
            # Should this fail too (the database gone), the sweeper ends the job later.
            import_job_end(job_id=job.pk, reason=failure_reason(error))
    job.refresh_from_db()
    return job


def _run(job: ImportJob) -> None:
    with job.file.open("rb") as file:
        data = file.read()
    try:
        text = decode(data)
        read_header(text)
        total = sum(1 for _ in csv_rows(text))
    except CsvFileError as error:
        _refuse(job, [Problem(error.row, "", str(error))])
        return
    _advance(job, ImportJob.Status.CHECKING, total_rows=total, processed_rows=0)
    plan = import_check(text=text, user=job.created_by, workspace=job.workspace, zone=job.time_zone,
                        progress=lambda rows: _advance(job, ImportJob.Status.CHECKING, processed_rows=rows))
    try:
        if plan.problems:
            _refuse(job, plan.problems)
            return
        _advance(job, ImportJob.Status.CHECKING, to=ImportJob.Status.CREATING)
        with transaction.atomic():
            # The job's row stays locked until the posts are committed, so the
            # sweeper (which skips locked rows) and this worker cannot both end it.
            if not ImportJob.objects.select_for_update().filter(pk=job.pk, status=ImportJob.Status.CREATING).exists():
                raise ImportEnded
            made = import_create(plan=plan, user=job.created_by)
            ImportJob.objects.filter(pk=job.pk).update(
                status=ImportJob.Status.DONE, report=[], created_posts=made, finished_at=timezone.now(),
                processed_rows=F("total_rows"), progressed_at=timezone.now(),
            )
    finally:
        plan.discard()


def _advance(job: ImportJob, status: str, *, to: str | None = None, **fields: Any) -> None:
    """Record the worker's progress on a job still in ``status``; ImportEnded
    when it is no longer (the sweeper ended it)."""
    moved = ImportJob.objects.filter(pk=job.pk, status=status).update(
        status=to or status, progressed_at=timezone.now(), **fields)
    if not moved:
        raise ImportEnded


def _refuse(job: ImportJob, problems: list[Problem]) -> None:
    ended = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.CHECKING).update(
        status=ImportJob.Status.REFUSED, report=[p.as_dict() for p in problems], finished_at=timezone.now(),
        processed_rows=F("total_rows"), progressed_at=timezone.now(),
    )
    if not ended:
        raise ImportEnded


def import_job_end(*, job_id: int, reason: str) -> bool:
    """Refuse a job that has not ended, with ``reason`` as its report; False
    when it had ended already."""
    now = timezone.now()
    return bool(ImportJob.objects.filter(pk=job_id, status__in=ACTIVE).update(
        status=ImportJob.Status.REFUSED, report=[Problem(1, "", reason).as_dict()], finished_at=now,
        progressed_at=now,
    ))


def failure_reason(error: Exception) -> str:
    """Words for a failure that stopped an import, for its page."""
    if isinstance(error, SoftTimeLimitExceeded):
        return (f"The import took longer than a worker may run ({settings.CELERY_TASK_SOFT_TIME_LIMIT} s) and was "
                "stopped, and nothing was imported: split the file into smaller ones, or give fewer media URLs "
                "in each, and upload them again.")
    if isinstance(error, FileNotFoundError):
        return "The uploaded file is no longer in storage, and nothing was imported: upload it again."
    if isinstance(error, (services.PostActionError, PermissionDenied)):
        # Checked rows refused when created: the person's role changed meanwhile, say.
        return f"{error} Nothing was imported."
    if isinstance(error, DatabaseError):
        return (f"The database failed during the import ({type(error).__name__}), and nothing was imported: "
                "upload it again; if this happens again, tell an administrator.")
    return (f"The import stopped on an unexpected error ({type(error).__name__}), and nothing was imported: "
            "upload it again; if this happens again, tell an administrator (the worker's log has the details).")


def import_jobs_sweep(*, now: datetime | None = None) -> int:
    """Refuse the imports whose worker died: those checking or creating that
    have not moved for longer than a task may run (CELERY_TASK_TIME_LIMIT),
    so none waits for ever. Returns how many were ended."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    stalled = Q(progressed_at__lt=cutoff) | Q(progressed_at__isnull=True, created_at__lt=cutoff)
    with transaction.atomic():
        # A worker creating posts holds its job's row lock until it commits:
        # such a job is alive, and skipped.
        ids = list(ImportJob.objects.select_for_update(skip_locked=True).filter(stalled, status__in=AT_WORK)
                   .values_list("pk", flat=True))
        ended = ImportJob.objects.filter(pk__in=ids, status__in=AT_WORK).update(
            status=ImportJob.Status.REFUSED, report=[Problem(1, "", WORKER_ENDED).as_dict()], finished_at=now,
            progressed_at=now,
        )
    if ended:
        log.warning("import sweeper: %s CSV imports whose worker ended were refused", ended)
    return ended
