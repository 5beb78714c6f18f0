"""CSV import and export of posts.

Columns: ``account`` (@username), ``text``, ``scheduled_at`` (ISO 8601 with
an offset; without one, a local time in the zone chosen for the import; empty,
the account's next free posting slot), ``thread`` (rows with the same key form
a thread, in file order) and ``media`` (``|``-separated paths under
MEDIA_ROOT, or http(s) URLs). An export adds ``status``, ``x_url`` and
``last_error``, which an import ignores, so an export imports again.

An import is all or nothing: every row is checked first, and one refused row
means nothing is created and a report says which row (the header is row 1),
which column and why. Then everything is created in one transaction and
scheduled through ``services.post_schedule``.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import shutil
import socket
import tempfile
import time as clock
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.db.models import F, Prefetch, QuerySet
from django.utils import timezone

from accounts.models import XAccount

from . import services, slots
from .forms import sniff_media_type
from .models import ImportJob, Post, PostingSlot, PostMedia
from .recurring import local_instant
from .validation import (
    GIF_TYPES,
    IMAGE_TYPES,
    MAX_GIF_BYTES,
    MAX_IMAGE_BYTES,
    MAX_VIDEO_BYTES,
    MB,
    VIDEO_TYPES,
    MediaSpec,
    validate_post,
)

COLUMNS = ("account", "text", "scheduled_at", "thread", "media")
REQUIRED = ("account", "text")
EXPORT_COLUMNS = (*COLUMNS, "status", "x_url", "last_error")

# Fetching media from URLs: how long to wait, and for how long in all.
FETCH_TIMEOUT = (5, 20)
FETCH_DEADLINE_SECONDS = 60
# How often the worker records its progress, in rows.
PROGRESS_EVERY = 200


class CsvFileError(Exception):
    """The file as a whole cannot be read (encoding, header); nothing is imported."""


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
    downloads: Path | None = None

    def discard(self) -> None:
        if self.downloads is not None:
            shutil.rmtree(self.downloads, ignore_errors=True)


# Reading the file.


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
    header = next(csv.reader(io.StringIO(text)))
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
    """Each record after the header with its row number (header = 1); None
    for a record with more fields than the header."""
    reader = csv.reader(io.StringIO(text))
    names = [name.strip().lower() for name in next(reader)]
    for number, values in enumerate(reader, start=2):
        if not any(value.strip() for value in values):
            continue
        if len(values) > len(names):
            yield number, None
            continue
        yield number, dict(zip(names, values + [""] * (len(names) - len(values)), strict=True))


# Checking.


def import_check(
    *, text: str, user, zone: tzinfo, now: datetime | None = None,
    progress: Callable[[int], None] = lambda rows: None,
) -> Plan:
    """Check every row and plan the posts; nothing is written. Media from
    URLs are fetched into a temporary directory, which ``Plan.discard``
    removes."""
    now = now or timezone.now()
    read_header(text)
    accounts = {a.username.lower(): a for a in _accounts_of(user)}
    with_slots = set(PostingSlot.objects.filter(account__in=accounts.values()).values_list("account_id", flat=True))
    plan = Plan(roots=[], problems=[], rows=0)
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
    return plan


def _accounts_of(user) -> QuerySet[XAccount]:
    accounts = XAccount.objects.select_related("owner")
    return accounts if user.is_superuser else accounts.filter(owner=user)


def _check_row(
    plan: Plan, number: int, row: dict[str, str], *, accounts: dict[str, XAccount], zone: tzinfo, now: datetime,
    threads: dict[str, PlannedPost], with_slots: set[int],
) -> PlannedPost | None:
    problems: list[Problem] = []
    handle = row.get("account", "").strip()
    account = accounts.get(handle.lstrip("@").lower()) if handle else None
    if not handle:
        problems.append(Problem(number, "account", "No account: give the X account as @username."))
    elif account is None:
        known = ", ".join(f"@{a.username}" for a in list(accounts.values())[:10]) or "none yet: link one first"
        problems.append(Problem(number, "account", f"{handle} is not one of your X accounts (yours: {known})."))

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


def _media(plan: Plan, number: int, value: str, problems: list[Problem]) -> list[MediaSource]:
    found = []
    for item in (part.strip() for part in value.split("|")):
        if not item:
            continue
        try:
            if item.lower().startswith(("http://", "https://")):
                found.append(_fetch(plan, item))
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
    if not path.is_file():
        raise MediaError(f"There is no file {item} in the media folder.")
    with path.open("rb") as file:
        content_type = _known_type(item, file.read(16))
    return MediaSource(spec=MediaSpec(name=item, content_type=content_type, size=path.stat().st_size),
                       storage_name=path.relative_to(root).as_posix())


def _fetch(plan: Plan, url: str) -> MediaSource:
    if plan.downloads is None:
        plan.downloads = Path(tempfile.mkdtemp(prefix="csv-import-"))
    target = plan.downloads / f"{len(list(plan.downloads.iterdir()))}"
    deadline = clock.monotonic() + FETCH_DEADLINE_SECONDS
    _refuse_private_host(url)
    try:
        # No redirects: each hop would need the same check, and a public URL
        # could otherwise lead the server to an internal one.
        with requests.get(url, stream=True, timeout=FETCH_TIMEOUT, allow_redirects=False) as response:
            if response.is_redirect:
                raise MediaError(f"{url} redirects to {response.headers.get('Location', 'elsewhere')}: "
                                 "give the final address.")
            if response.status_code != 200:
                raise MediaError(f"{url} answered {response.status_code} {response.reason}: check the address.")
            chunks = response.iter_content(chunk_size=64 * 1024)
            first = next(chunks, b"")
            content_type = _known_type(url, first)
            limit = _limit(content_type)
            size = 0
            with target.open("wb") as file:
                for chunk in _chain(first, chunks):
                    size += len(chunk)
                    if size > limit:
                        raise MediaError(f"{url} is larger than X's {limit // MB} MB limit for "
                                         f"{content_type.split('/')[0]}s of this type.")
                    if clock.monotonic() > deadline:
                        raise MediaError(f"{url} took longer than {FETCH_DEADLINE_SECONDS} s to download.")
                    file.write(chunk)
    except requests.RequestException as error:
        raise MediaError(f"{url} could not be fetched ({type(error).__name__}): check the address.") from None
    name = url.rstrip("/").rsplit("/", 1)[-1] or "media"
    return MediaSource(spec=MediaSpec(name=name, content_type=content_type, size=size), temporary=target)


def _refuse_private_host(url: str) -> None:
    """The server fetches the URL, so it must not be turned against the network
    it sits in: loopback, private, link-local and reserved addresses are refused
    unless CSV_MEDIA_ALLOW_PRIVATE_HOSTS is set (development, tests)."""
    if settings.CSV_MEDIA_ALLOW_PRIVATE_HOSTS:
        return
    host = urlsplit(url).hostname or ""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        raise MediaError(f"{url}: the host {host!r} is unknown; check the address.") from None
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_multicast:
            raise MediaError(f"{url} points into a private network ({ip}); give a public address or "
                             "put the file in the media folder.")


def _chain(first: bytes, rest: Iterable[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


# Creating.


@transaction.atomic
def import_create(*, plan: Plan, user, now: datetime | None = None) -> int:
    """Create and schedule the planned posts (all of them, or none if any
    fails); returns how many posts were made. Posts without a time take their
    account's free slots in file order."""
    now = now or timezone.now()
    accounts = {root.account.pk: root.account for root in plan.roots}
    # One queue change per account at a time: a concurrent "Add to queue" must
    # not take the slots this import is placing posts in.
    list(XAccount.objects.select_for_update().filter(pk__in=list(accounts)).values_list("pk", flat=True))
    free = {}
    made = 0
    for root in plan.roots:
        at = root.at
        if at is None:
            if root.account.pk not in free:
                free[root.account.pk] = slots.free_slots(account=root.account, after=now)
            at = next(free[root.account.pk])
        post = Post.objects.create(account=root.account, text=root.text, scheduled_at=at, created_by=user)
        _attach(post, root.media)
        for position, part in enumerate(root.parts, start=1):
            child = Post.objects.create(account=root.account, parent=post, position=position, text=part.text,
                                        scheduled_at=at, created_by=user)
            _attach(child, part.media)
        services.post_schedule(post=post, at=at)
        made += 1 + len(root.parts)
    return made


def _attach(post: Post, media: list[MediaSource]) -> None:
    for position, source in enumerate(media):
        item = PostMedia(post=post, content_type=source.spec.content_type, size=source.spec.size,
                         position=position)
        if source.temporary is not None:
            with source.temporary.open("rb") as file:
                item.file.save(source.spec.name, File(file), save=True)
        else:
            item.file.name = source.storage_name
            item.save()


# Export.


class _Echo:
    """A file that hands back what is written, for csv.writer in a stream."""

    def write(self, value: str) -> str:
        return value


def export_lines(*, roots: QuerySet[Post], zone: tzinfo) -> Iterator[str]:
    """The posts (thread roots, with their parts after them) as CSV lines in
    the import's columns plus status, x_url and last_error; times in ISO 8601
    with the offset of ``zone``. Read in chunks, so any number streams."""
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
            yield writer.writerow([
                f"@{root.account.username}", post.text, when if post is root else "", thread,
                "|".join(media.file.name for media in post.media.all()), post.status, post.x_post_url,
                post.last_error,
            ])


# The background job.


def import_job_start(*, upload, user, zone: tzinfo) -> ImportJob:
    """Store an uploaded CSV whose header is sound as a job for a worker."""
    data = upload.read()
    read_header(decode(data))
    job = ImportJob(file_name=(upload.name or "")[:255], time_zone=zone, created_by=user)
    job.file.save("upload.csv", File(io.BytesIO(data)), save=True)
    return job


def import_job_run(*, job_id: int) -> ImportJob:
    """Check every row of the job's file, then create all its posts or none."""
    job = ImportJob.objects.select_related("created_by").get(pk=job_id)
    if job.finished:
        return job
    with job.file.open("rb") as file:
        data = file.read()
    try:
        text = decode(data)
        read_header(text)
        total = sum(1 for _ in csv_rows(text))
    except (CsvFileError, csv.Error) as error:
        return _finish(job, ImportJob.Status.REFUSED, [Problem(1, "", str(error))])
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.CHECKING, total_rows=total, processed_rows=0)

    def progress(rows: int) -> None:
        ImportJob.objects.filter(pk=job.pk).update(processed_rows=rows)

    try:
        plan = import_check(text=text, user=job.created_by, zone=job.time_zone, progress=progress)
    except (CsvFileError, csv.Error) as error:
        return _finish(job, ImportJob.Status.REFUSED, [Problem(1, "", str(error))])
    try:
        if plan.problems:
            return _finish(job, ImportJob.Status.REFUSED, plan.problems)
        ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.CREATING)
        made = import_create(plan=plan, user=job.created_by)
    finally:
        plan.discard()
    return _finish(job, ImportJob.Status.DONE, [], created=made)


def _finish(job: ImportJob, status: str, problems: list[Problem], created: int = 0) -> ImportJob:
    ImportJob.objects.filter(pk=job.pk).update(
        status=status, report=[p.as_dict() for p in problems], created_posts=created, finished_at=timezone.now(),
        processed_rows=F("total_rows"),
    )
    job.refresh_from_db()
    return job
