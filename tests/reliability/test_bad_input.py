"""Bad input, one row each: the admin's forms, the management commands, the
OAuth callbacks, ``/healthz`` and the settings read from the environment.

Each row does one wrong thing a person (or an attacker) might do and checks
two things: the answer carries words a person can act on, and nothing else
changed — the rows of every table a mistake could touch, and the posts on X
(the sandbox), are the same before and after.

A CSV file refused as a whole changes nothing at all; a file with bad rows
leaves only the import's record, which is its report (nothing is imported).
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import time, timedelta

import pytest
import requests
from cryptography.fernet import Fernet
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from accounts import gateway
from accounts.models import LinkAttempt, XAccount
from botplatform.schedules import install_schedules
from bots.models import AccountBudget, Bot, BotItem, ImportJob, Post, PostingSlot, PostMedia
from bots.planning import csv_io
from bots.recurring import services as recurring
from tests.accounts.linking import OAUTH1_START, OAUTH2_START, query, start
from tests.bots.admin_pages import ADD, CHANGELIST, post_form
from tests.bots.conftest import link_with_minted_tokens
from tests.bots.csv_support import UPLOAD, csv_bytes
from tests.bots.test_scheduling_admin import BOTS, QUEUES, bot_form
from tests.foundation.django_process import manage, production_env
from tests.sandbox.consent import approve
from tests.sandbox.xapi import mp4, png
from tests.support import free_port

TABLES = (Post, PostMedia, XAccount, LinkAttempt, Bot, BotItem, PostingSlot, PeriodicTask, ImportJob, AccountBudget)


@dataclass
class World:
    """What is there before each bad input: two staff users, Alice's linked
    accounts (one with posting slots, a bot and a draft), and one post on X."""

    sandbox: str
    http: requests.Session
    settings: object
    alice: object
    bob: object
    alice_client: Client
    bob_client: Client
    alice_bot: XAccount
    carol: XAccount
    draft: Post
    # Whatever a row's ``prepare`` leaves for its ``act`` (a callback URL, …).
    scratch: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Case:
    id: str
    act: Callable[[World], str]
    # The words the answer must carry (all of them, when several).
    says: str | tuple[str, ...]
    prepare: Callable[[World], None] | None = None
    # Tables that gain exactly one row by design: the record of a refusal.
    records: tuple[str, ...] = ()


@dataclass(frozen=True)
class Snapshot:
    rows: dict[str, int]
    accounts: list[tuple]
    on_x: list[tuple[str, str]]


def snapshot(world: World) -> Snapshot:
    answer = requests.get(f"{world.sandbox}/_sandbox/posts", timeout=10)
    assert answer.status_code == 200, answer.text
    return Snapshot(
        rows={model.__name__: model.objects.count() for model in TABLES},
        accounts=stored_accounts(),
        on_x=[(post["id"], post["text"]) for post in answer.json()["posts"]],
    )


def stored_accounts() -> list[tuple]:
    """The columns linking or key rotation could change, the tokens as stored
    (encrypted): read raw, so a re-encryption shows even with a key removed."""
    table = XAccount._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, owner_id, status, oauth1_token, oauth2_access_token, oauth2_refresh_token "  # noqa: S608
            f"FROM {table} ORDER BY id"
        )
        return cursor.fetchall()


# --- how an answer reads to a person --------------------------------------------------------


def page(response) -> str:
    """The page as a person reads it: its status, and its text unescaped
    (errors on fields and the messages shown after a redirect)."""
    return f"[{response.status_code}] " + " ".join(html.unescape(response.content.decode()).split())


def command(name: str, *args: str) -> str:
    """What a command prints, or the error it stops with."""
    out = io.StringIO()
    try:
        call_command(name, *args, stdout=out, stderr=out)
    except CommandError as error:
        return f"CommandError: {error}"
    return out.getvalue()


def startup(env: dict[str, str], *args: str) -> str:
    """``manage.py`` in a fresh process with ``env``: the settings are read once per process."""
    result = manage(*(args or ("check",)), env=env)
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    return result.stderr


# --- admin forms ----------------------------------------------------------------------------


def add_post(world: World, text: str, client: Client | None = None, **form) -> str:
    return page((client or world.alice_client).post(ADD, post_form(world.alice_bot, text, **form)))


def image(name: str = "photo.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, png(), content_type="image/png")


def add_bot(world: World, *items: str, client: Client | None = None, account: XAccount | None = None,
            **overrides: str) -> str:
    data = bot_form(account or world.alice_bot, *items, **overrides)
    return page((client or world.alice_client).post(f"{BOTS}add/", data))


def add_slot(world: World, weekday: str, at: str) -> str:
    existing = list(PostingSlot.objects.filter(account=world.alice_bot).order_by("pk"))
    data = {"posting_slots-TOTAL_FORMS": str(len(existing) + 1), "posting_slots-INITIAL_FORMS": str(len(existing)),
            "posting_slots-MIN_NUM_FORMS": "0", "posting_slots-MAX_NUM_FORMS": "1000",
            f"posting_slots-{len(existing)}-weekday": weekday, f"posting_slots-{len(existing)}-time": at}
    for n, slot in enumerate(existing):
        data.update({f"posting_slots-{n}-id": str(slot.pk), f"posting_slots-{n}-account": str(world.alice_bot.pk),
                     f"posting_slots-{n}-weekday": str(slot.weekday), f"posting_slots-{n}-time": f"{slot.time:%H:%M}"})
    return page(world.alice_client.post(f"{QUEUES}{world.alice_bot.pk}/change/", data))


ADMIN_FORMS = [
    Case("post: text over 280", lambda w: add_post(w, "a" * 281),
         "The text is 281 characters long by X's count; the limit is 280. Remove 1."),
    Case("post: only spaces", lambda w: add_post(w, "   "),
         "The post has no text: write some, or attach an image, GIF or video."),
    Case("post: invisible character X refuses", lambda w: add_post(w, "Hello \ufeffworld"),
         "The text contains characters X refuses (U+FEFF), often pasted in invisibly: remove them."),
    Case("post: two cashtags", lambda w: add_post(w, "Buy $AAPL and $TSLA"),
         "X allows at most one cashtag per post; this text has 2 ($AAPL, $TSLA)."),
    Case("post: no account chosen", lambda w: page(w.alice_client.post(ADD, post_form(None, "Hello"))),
         "This field is required."),
    Case("post: another user's account", lambda w: add_post(w, "Not mine", client=w.bob_client),
         "Select a valid choice. That choice is not one of the available choices."),
    Case("post: a day that does not exist", lambda w: add_post(w, "Leap", day="2030-02-30", time="09:00"),
         "Enter a valid date."),
    Case("poll: one choice", lambda w: add_post(w, "Which?", poll=["Only"], poll_minutes=60),
         "A poll needs 2 to 4 options; this one has 1. Add 1 more."),
    Case("poll: a choice repeated", lambda w: add_post(w, "Which?", poll=["Tea", "Tea"], poll_minutes=60),
         "Option 2 ('Tea') repeats an earlier option: change or remove it."),
    Case("poll: a choice over 25 characters", lambda w: add_post(w, "Which?", poll=["Tea", "c" * 30], poll_minutes=60),
         "options can have at most 25. Remove 5."),
    Case("poll: no length", lambda w: add_post(w, "Which?", poll=["Tea", "Coffee"]),
         "A poll needs a duration: give one from 5 minutes to 7 days (10080 minutes)."),
    Case("poll: longer than 7 days", lambda w: add_post(w, "Which?", poll=["Tea", "Coffee"], poll_minutes=20000),
         "The poll would run for 20000 minutes; X allows 5 minutes to 7 days (10080 minutes)."),
    Case("poll: beside an image", lambda w: add_post(w, "Which?", poll=["Tea", "Coffee"], poll_minutes=60,
                                                     media=[(image(), "")]),
         "A post can have a poll or media, not both: remove the poll or the media."),
    Case("thread part: over 280", lambda w: add_post(w, "Fine", parts=["fine too", "b" * 300]),
         "The text is 300 characters long by X's count; the limit is 280. Remove 20."),
    Case("media: a text file", lambda w: add_post(w, "Notes", media=[(
        SimpleUploadedFile("notes.txt", b"just words", content_type="text/plain"), "")]),
         "notes.txt is of type text/plain, which X does not take. "
         "Attach JPEG, PNG or WebP images, a GIF, or an MP4 or MOV video."),
    Case("media: five images", lambda w: add_post(w, "Five", media=[(image(f"{n}.png"), "") for n in range(5)]),
         "A post can have at most 4 images; this one has 5. Remove 1, or put them in the next part of a thread."),
    Case("media: an image beside a video", lambda w: add_post(w, "Mixed", media=[
        (image(), ""), (SimpleUploadedFile("clip.mp4", mp4(), content_type="video/mp4"), "")]),
         "A post can have 1 to 4 images, or one GIF, or one video; this one has 1 image and 1 video."),
    Case("media: alt text over 1,000 characters", lambda w: add_post(w, "Alt", media=[(image(), "d" * 1001)]),
         "Ensure this value has at most 1000 characters (it has 1001)."),
    Case("media: an empty file", lambda w: add_post(w, "Empty", media=[(
        SimpleUploadedFile("blank.png", b"", content_type="image/png"), "")]),
         "The submitted file is empty."),
    Case("bot: hour 25 in the cron", lambda w: add_bot(w, "A tip", cron="0 25 * * *"),
         "The hour “25” is not valid"),
    Case("bot: words for a cron", lambda w: add_bot(w, "A tip", cron="every morning"),
         "has 2 fields; a cron expression has five"),
    Case("bot: unknown time zone", lambda w: add_bot(w, "A tip", timezone="Mars/Olympus_Mons"),
         "Unknown time zone “Mars/Olympus_Mons”"),
    Case("bot: misspelt template variable", lambda w: add_bot(w, source="template", template="Hello {nmae}"),
         "Unknown variable {nmae}"),
    Case("bot: interval without a number", lambda w: add_bot(w, "A tip", schedule_kind="interval", interval_every=""),
         "how often"),
    Case("bot: queue item over 280", lambda w: add_bot(w, "x" * 300),
         "The text is 300 characters long by X's count; the limit is 280. Remove 20."),
    Case("bot: another user's account", lambda w: add_bot(w, "Sneaky", client=w.bob_client),
         "Select a valid choice. That choice is not one of the available choices."),
    Case("slot: a time already taken", lambda w: add_slot(w, "0", "09:00"),
         "Please correct the duplicate data for weekday and time, which must be unique."),
    Case("slot: 25 o'clock", lambda w: add_slot(w, "1", "25:00"), "Enter a valid time."),
    Case("queue: move sideways", lambda w: page(w.alice_client.post(
        f"{QUEUES}{w.alice_bot.pk}/queue/move/", {"post": w.draft.pk, "direction": "sideways"}, follow=True)),
         "Cannot move a post “sideways”: move it up or down."),
    Case("queue: add to an account without slots", lambda w: page(w.alice_client.post(
        CHANGELIST, {"action": "add_to_queue", "_selected_action": [w.scratch["carol_draft"]]}, follow=True)),
         "@carol_daily has no posting slots: add weekly times under Posting queues.",
         prepare=lambda w: w.scratch.update(carol_draft=Post.objects.create(account=w.carol, text="Later").pk)),
]


# --- found by the admin fuzz (test_admin_fuzz.py) -------------------------------------------

CALENDAR = "/admin/bots/postcalendar/"
BUDGETS = "/admin/bots/accountbudget/"
ACCOUNTS = "/admin/accounts/xaccount/"
EXPORT = "/admin/bots/importjob/export/"


def get(world: World, path: str, client: Client | None = None, **params: str) -> str:
    return page((client or world.alice_client).get(path, params, follow=True))


def act_on(world: World, changelist: str, action: str, *selected: str) -> str:
    """An action of a list, on a selection as the form sends it."""
    return page(world.alice_client.post(changelist, {"action": action, "_selected_action": list(selected),
                                                     "index": "0"}, follow=True))


def set_budget(world: World, amount: str) -> str:
    return page(world.alice_client.post(f"{BUDGETS}add/", {"account": world.alice_bot.pk,
                                                           "monthly_budget_usd": amount}))


FOUND_BY_FUZZ = [
    Case("calendar: 9999-12-31", lambda w: get(w, CALENDAR, day="9999-12-31"),
         "9999-12-31 is beyond the calendar's reach: give a day from 0002-01-01 to 9998-12-31."),
    Case("calendar: the week of 9999-12-31", lambda w: get(w, CALENDAR, day="9999-12-31", view="week"),
         "9999-12-31 is beyond the calendar's reach"),
    Case("calendar: the week of 0001-01-01", lambda w: get(w, CALENDAR, day="0001-01-01", view="week"),
         "0001-01-01 is beyond the calendar's reach"),
    Case("calendar: an account as a superscript digit", lambda w: get(w, CALENDAR, account="²"),
         "There is no such account among yours: showing all of them."),
    Case("budget: 1e999999", lambda w: set_budget(w, "1e999999"),
         "1e999999 is more than a budget can be: give at most $99999999.99."),
    Case("budget: more than the column holds", lambda w: set_budget(w, "100000000"),
         "100000000 is more than a budget can be: give at most $99999999.99."),
    Case("bot: every 70,000,000 hours", lambda w: add_bot(w, "A tip", schedule_kind="interval", cron="",
                                                          interval_every="70000000", interval_unit="hours"),
         "Every 70000000 hours is longer than a year: give at most 8784 hours, or use a cron expression."),
    Case("post: 100,000 characters", lambda w: add_post(w, "x" * 100_000),
         "The text is 100,000 characters long, far beyond X's limit of 280 (by X's count) whatever it holds: "
         "shorten it."),
    Case("post list: a status with a NUL byte", lambda w: get(w, CHANGELIST, status="\x00"),
         "There is no status “\x00”: choose one from the filter."),
    Case("post list: the year 9999", lambda w: get(w, CHANGELIST, scheduled_at__year="9999"),
         "The post list cannot show the period “9999”: choose a year from 1 to 9998"),
    Case("post list: a year past any date", lambda w: get(w, CHANGELIST, scheduled_at__year="2147483648"),
         "The post list cannot show the period “2147483648”"),
    Case("post list: 31 December 9999", lambda w: get(w, CHANGELIST, scheduled_at__year="9999",
                                                      scheduled_at__month="12", scheduled_at__day="31"),
         "The post list cannot show the period “9999-12-31”"),
    Case("export: the year 9999", lambda w: get(w, EXPORT, scheduled_at__year="9999"),
         "The post list's filters in that link are not valid: export from the list again."),
    Case("export: a status with a NUL byte", lambda w: get(w, EXPORT, status="\x00"),
         "The post list's filters in that link are not valid: export from the list again."),
    Case("post list: cancel a selection that is no post", lambda w: act_on(w, CHANGELIST, "cancel", "1.5"),
         "The selection names something that is not one of the posts listed: nothing was done. Tick the rows "
         "again."),
    Case("post list: cancel a selection past any id the database holds",
         lambda w: act_on(w, CHANGELIST, "cancel", "9" * 40),
         "The selection names something that is not one of the posts listed: nothing was done."),
    Case("post list: no action on a selection past any id the database holds",
         lambda w: act_on(w, CHANGELIST, "", "9" * 40),
         "The selection names something that is not one of the posts listed: nothing was done."),
    Case("post list: export a selection with a NUL byte", lambda w: act_on(w, CHANGELIST, "export_csv", "\x00"),
         "The selection names something that is not one of the posts listed: nothing was done."),
    Case("bots: run now on a selection that is no bot", lambda w: act_on(w, BOTS, "run_now", "²"),
         "The selection names something that is not one of the bots listed: nothing was done."),
    Case("X accounts: verify a selection that is no account",
         lambda w: act_on(w, ACCOUNTS, "verify_now", str(w.alice_bot.pk), "abc"),
         "The selection names something that is not one of the X accounts listed: nothing was done."),
    Case("X accounts: a status with a NUL byte", lambda w: get(w, ACCOUNTS, status__exact="\x00"),
         "There is no status “\x00”: showing every status. Choose one from the filter."),
    Case("view on site: a link attempt's id that is no UUID", lambda w: get(
        w, f"/admin/r/{ContentType.objects.get_for_model(LinkAttempt).pk}/0/"), "[404]"),
    Case("post list: a search of 100,000 characters (SQLite refuses the pattern)",
         lambda w: get(w, CHANGELIST, q="é" * 100_000),
         "A search is at most 500 characters; this one is 100,000. Search for a shorter part"),
    Case("audit trail: an action with a NUL byte", lambda w: get(w, "/admin/accounts/auditevent/",
                                                                  action__exact="\x00"),
         "There is no action “\x00”: showing every action. Choose one from the filter."),
    Case("X accounts: an unknown way of linking", lambda w: get(w, ACCOUNTS, auth_method__exact="oauth3"),
         "There is no auth method “oauth3”: showing every auth method."),
]


# --- CSV import -------------------------------------------------------------------------------

LATER = f"{timezone.now().year + 2}-06-01T09:00:00+02:00"


def upload(world: World, data: bytes, zone: str = "UTC") -> str:
    """The upload page's answer to a file it refuses outright."""
    file = SimpleUploadedFile("posts.csv", data, content_type="text/csv")
    return page(world.alice_client.post(UPLOAD, {"file": file, "time_zone": zone}))


def imported(world: World, *rows: list[str]) -> str:
    """Upload a file, do the worker's part in this process, and read the job's page: its report."""
    return imported_file(world, csv_bytes(rows))


def imported_file(world: World, data: bytes) -> str:
    """Upload a file as it is; if the upload page takes it, do the worker's part
    in this process and read the job's page. Either answer is what the person reads."""
    response = world.alice_client.post(UPLOAD, {
        "file": SimpleUploadedFile("posts.csv", data, content_type="text/csv"), "time_zone": "UTC"})
    if response.status_code != 302:
        return page(response)
    job = csv_io.import_job_run(job_id=ImportJob.objects.latest("pk").pk)
    return page(world.alice_client.get(f"/admin/bots/importjob/{job.pk}/change/"))


def small_cap(world: World) -> None:
    world.settings.CSV_IMPORT_MAX_BYTES = 1000


CSV_IMPORT = [
    Case("csv: an empty file", lambda w: upload(w, b""), "The file is empty"),
    Case("csv: an unknown column", lambda w: upload(w, csv_bytes([["@alice_bot", "Hi"]],
                                                                   header=("account", "text", "when"))),
         "Row 1 (the header) has unknown column(s): 'when'"),
    Case("csv: no account column", lambda w: upload(w, csv_bytes([["Hi"]], header=("text",))),
         "Row 1 (the header) lacks the column(s) account"),
    Case("csv: Latin-1", lambda w: upload(w, csv_bytes([["@alice_bot", "Café"]]).decode().encode("latin-1")),
         "The file is not UTF-8 (byte 0xe9 on line 2 is not valid UTF-8"),
    Case("csv: UTF-16", lambda w: upload(w, csv_bytes([["@alice_bot", "Hi"]]).decode().encode("utf-16")),
         "The file is UTF-16"),
    Case("csv: unknown time zone", lambda w: upload(w, csv_bytes([["@alice_bot", "Hi", LATER, "", ""]]),
                                                    zone="Mars/Olympus"),
         "Unknown time zone “Mars/Olympus”: choose an IANA name such as Europe/Paris"),
    Case("csv row: another user's account", lambda w: imported(w, ["@alice_bot", "Fine", LATER, "", ""],
                                                               ["@bob_news", "Not mine", LATER, "", ""]),
         ("Nothing was imported: fix the rows below", "@bob_news is not one of your X accounts"),
         prepare=lambda w: link_with_minted_tokens(w.sandbox, w.bob, "bob_news"), records=("ImportJob",)),
    Case("csv row: a time in words", lambda w: imported(w, ["@alice_bot", "Bad time", "next tuesday", "", ""]),
         ("Nothing was imported", "“next tuesday” is not a date and time in ISO 8601"), records=("ImportJob",)),
    Case("csv row: text over 280", lambda w: imported(w, ["@alice_bot", "x" * 281, LATER, "", ""]),
         ("Nothing was imported", "The text is 281 characters long by X's count; the limit is 280"),
         records=("ImportJob",)),
    Case("csv row: media outside the media folder",
         lambda w: imported(w, ["@alice_bot", "Outside", LATER, "", "../secret.png"]),
         ("Nothing was imported", "../secret.png is outside the media folder"), records=("ImportJob",)),
    Case("csv: a file over the size cap", lambda w: imported_file(w, csv_bytes([["@alice_bot", "x" * 2000]])),
         "The file is larger than 1,000 bytes, the most an import takes: split it into smaller files",
         prepare=small_cap),
    Case("csv: a header field of 140,000 characters",
         lambda w: imported_file(w, b"account,text," + b"x" * 140_000 + b"\n@alice_bot,Hi,\n"),
         "Line 1: a field is longer than 131,072 characters, and nothing was imported."),
    Case("csv: a quote never closed",
         lambda w: imported_file(w, csv_bytes([["@alice_bot", "Fine", LATER, "", ""]])
                                 + b'@alice_bot,"Open ' + b"y" * 140_000 + b"\n"),
         "a field is longer than 131,072 characters, and nothing was imported. A post's text is at most 280: "
         "look for a double quote that opens a field and is never closed", records=("ImportJob",)),
    Case("csv row: a NUL character in the text", lambda w: imported(w, ["@alice_bot", "Hi\x00there", LATER, "", ""]),
         ("Nothing was imported", "This cell contains a NUL character (U+0000), which cannot be stored"),
         records=("ImportJob",)),
    Case("csv row: a media path too long for the file system",
         lambda w: imported(w, ["@alice_bot", "Long path", LATER, "", "a" * 5000 + ".png"]),
         ("Nothing was imported", "cannot be read from the media folder (File name too long): check the path."),
         records=("ImportJob",)),
    Case("csv row: media naming a file the platform keeps for a post",
         lambda w: imported(w, ["@alice_bot", "Borrowed", LATER, "", "posts/2026/12/0123456789abcdef.png"]),
         ("Nothing was imported", "posts/2026/12/0123456789abcdef.png is a file the platform keeps for a post or an "
                                  "import: give a file of your own"), records=("ImportJob",)),
    Case("csv row: a time in the past", lambda w: imported(w, ["@alice_bot", "Past", "2020-01-01T09:00:00Z", "", ""]),
         ("Nothing was imported", "is in the past"), records=("ImportJob",)),
]


# --- management commands --------------------------------------------------------------------


def remove_the_key(world: World) -> None:
    world.settings.TOKEN_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]


COMMANDS = [
    Case("post_now: unknown account", lambda w: command("post_now", "--account", "@nobody", "Hello"),
         "No linked X account @nobody. Linked accounts: @alice_bot, @carol_daily."),
    Case("post_now: text over 280", lambda w: command("post_now", "--account", "@alice_bot", "x" * 281),
         "the limit is 280. Remove 1."),
    Case("post_now: no text", lambda w: command("post_now", "--account", "@alice_bot", " "),
         "The post has no text: write some"),
    Case("post_now: no --account", lambda w: command("post_now", "Hello"),
         "the following arguments are required: --account"),
    Case("link_x_account: unknown user", lambda w: command("link_x_account", "--pin", "--user", "nobody"),
         "There is no user 'nobody'. Create it first (manage.py createsuperuser)."),
    Case("link_x_account: without --pin", lambda w: command("link_x_account", "--user", "alice"),
         "the following arguments are required: --pin"),
    Case("reencrypt_tokens: the key of the stored tokens removed", lambda w: command("reencrypt_tokens"),
         "Nothing was changed.", prepare=remove_the_key),
    Case("install_schedules: an argument it does not take", lambda w: command("install_schedules", "--all"),
         "unrecognized arguments: --all"),
]


# --- OAuth callbacks --------------------------------------------------------------------------

OAUTH1_CALLBACK = "/accounts/x/link/oauth1/callback/"
OAUTH2_CALLBACK = "/accounts/x/link/oauth2/callback/"


def approved(world: World, start_path: str, username: str = "bob_news", client: Client | None = None) -> None:
    """Start linking as Alice and approve on X; the callback waits in ``scratch``."""
    world.scratch["callback"] = approve(world.http, world.sandbox, start(client or world.alice_client, start_path),
                                        username)
    world.scratch["params"] = query(world.scratch["callback"])


def callback(world: World, path: str, client: Client | None = None, **changes: str) -> str:
    params = {**world.scratch["params"], **changes}
    return page((client or world.alice_client).get(path, {k: v for k, v in params.items() if v is not None},
                                                   follow=True))


def used_up(world: World, start_path: str) -> None:
    """A linking run completed and its account removed again, so a replay could link it anew."""
    approved(world, start_path)
    world.scratch["attempt"] = world.alice_client.session["x_link"]["attempt"]
    world.alice_client.get(world.scratch["callback"])
    XAccount.objects.filter(username="bob_news").delete()


def put_back(world: World) -> None:
    used_up(world, OAUTH1_START)
    session = world.alice_client.session
    session["x_link"] = {"attempt": world.scratch["attempt"], "next": ""}
    session.save()


def handed_to_bob(world: World, start_path: str) -> None:
    approved(world, start_path)
    session = world.bob_client.session
    session["x_link"] = {"attempt": world.alice_client.session["x_link"]["attempt"], "next": ""}
    session.save()


def expired(world: World) -> None:
    approved(world, OAUTH1_START)
    LinkAttempt.objects.update(expires_at=timezone.now() - timedelta(seconds=1))


def linked_by_bob(world: World) -> None:
    link_with_minted_tokens(world.sandbox, world.bob, "bob_news")
    approved(world, OAUTH2_START)


OAUTH_CALLBACKS = [
    Case("oauth1: forged token", lambda w: callback(w, OAUTH1_CALLBACK, oauth_token="forged"),
         ("[403]", "X's answer does not match the linking you started in this browser."),
         prepare=lambda w: approved(w, OAUTH1_START)),
    Case("oauth1: wrong verifier", lambda w: callback(w, OAUTH1_CALLBACK, oauth_verifier="0000000"),
         "Linking failed: ", prepare=lambda w: approved(w, OAUTH1_START)),
    Case("oauth1: no verifier", lambda w: callback(w, OAUTH1_CALLBACK, oauth_verifier=None),
         "X's answer has no oauth_verifier. Start again with “Link X account”.",
         prepare=lambda w: approved(w, OAUTH1_START)),
    Case("oauth1: no linking started", lambda w: page(w.alice_client.get(
        OAUTH1_CALLBACK, {"oauth_token": "t", "oauth_verifier": "v"}, follow=True)),
         "No X account linking is in progress"),
    Case("oauth1: callback replayed", lambda w: page(w.alice_client.get(w.scratch["callback"], follow=True)),
         "No X account linking is in progress", prepare=lambda w: used_up(w, OAUTH1_START)),
    Case("oauth1: used attempt put back in the session",
         lambda w: page(w.alice_client.get(w.scratch["callback"], follow=True)),
         "This linking attempt was already used. Start again with “Link X account”.", prepare=put_back),
    Case("oauth1: expired attempt", lambda w: page(w.alice_client.get(w.scratch["callback"], follow=True)),
         "expired", prepare=expired),
    Case("oauth1: another user's attempt", lambda w: callback(w, OAUTH1_CALLBACK, client=w.bob_client),
         ("[403]", "This linking attempt belongs to another user."), prepare=lambda w: handed_to_bob(w, OAUTH1_START)),
    Case("oauth2: forged state", lambda w: callback(w, OAUTH2_CALLBACK, state="forged"),
         ("[403]", "X's answer does not match the linking you started in this browser."),
         prepare=lambda w: approved(w, OAUTH2_START)),
    Case("oauth2: no code", lambda w: callback(w, OAUTH2_CALLBACK, code=None),
         "X's answer has no authorization code. Start again with “Link X account”.",
         prepare=lambda w: approved(w, OAUTH2_START)),
    Case("oauth2: made-up code", lambda w: callback(w, OAUTH2_CALLBACK, code="made-up"),
         "Linking failed: ", prepare=lambda w: approved(w, OAUTH2_START)),
    Case("oauth2: callback replayed", lambda w: page(w.alice_client.get(w.scratch["callback"], follow=True)),
         "No X account linking is in progress", prepare=lambda w: used_up(w, OAUTH2_START)),
    Case("oauth2: another user's attempt", lambda w: callback(w, OAUTH2_CALLBACK, client=w.bob_client),
         ("[403]", "This linking attempt belongs to another user."), prepare=lambda w: handed_to_bob(w, OAUTH2_START)),
    Case("oauth2: an X account another workspace holds", lambda w: page(w.alice_client.get(w.scratch["callback"])),
         "already linked in another workspace", prepare=linked_by_bob),
]


# --- /healthz ---------------------------------------------------------------------------------


def healthz(world: World, method: str, path: str = "/healthz", **params: str) -> str:
    response = Client().generic(method, path, params or "")
    allow = f" Allow: {response['Allow']}" if response.has_header("Allow") else ""
    return f"{response.status_code}{allow} {response.content.decode()}"


def redis_gone(world: World) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    world.settings.REDIS_URL = url


HEALTHZ = [
    Case("healthz: POST", lambda w: healthz(w, "POST"), "405 Allow: GET, HEAD"),
    Case("healthz: PUT", lambda w: healthz(w, "PUT"), "405 Allow: GET, HEAD"),
    Case("healthz: DELETE", lambda w: healthz(w, "DELETE"), "405 Allow: GET, HEAD"),
    Case("healthz: trailing slash", lambda w: healthz(w, "GET", "/healthz/"), "404"),
    Case("healthz: unknown parameters are ignored", lambda w: healthz(w, "GET", "/healthz?verbose=yes&check=db"),
         '"database": {"status": "ok"'),
    Case("healthz: REDIS_URL where no Redis listens", lambda w: healthz(w, "GET"),
         '"redis": {"status": "fail", "error": "ConnectionError"}', prepare=redis_gone),
]


# --- settings from the environment ------------------------------------------------------------


def without(env: dict[str, str], name: str) -> dict[str, str]:
    return {k: v for k, v in env.items() if k != name}


SETTINGS = [
    Case("env: DEBUG=maybe", lambda w: startup({"DEBUG": "maybe"}),
         "botplatform is misconfigured: DEBUG must be true or false, got 'maybe'"),
    Case("env: production without SECRET_KEY", lambda w: startup(without(production_env(), "SECRET_KEY")),
         "botplatform is misconfigured: SECRET_KEY must "),
    Case("env: production without TOKEN_ENCRYPTION_KEYS",
         lambda w: startup(without(production_env(), "TOKEN_ENCRYPTION_KEYS")),
         "botplatform is misconfigured: TOKEN_ENCRYPTION_KEYS must "),
    Case("env: a malformed encryption key", lambda w: startup(
        {"TOKEN_ENCRYPTION_KEYS": f"{Fernet.generate_key().decode()},not-a-key"}),
         "TOKEN_ENCRYPTION_KEYS: key 2 of 2 is not a Fernet key"),
    Case("env: DATABASE_URL of MySQL", lambda w: startup({"DATABASE_URL": "mysql://bots:pw@db/bots"}),
         "DATABASE_URL must be postgres://USER:PASSWORD@HOST:PORT/NAME or sqlite:///PATH, got a URL with scheme 'mysql'"),
    Case("env: DATABASE_URL with a word for a port", lambda w: startup(
        {"DATABASE_URL": "postgres://bots:pw@db:fivefour/bots"}), "DATABASE_URL has a port that is not a number"),
    Case("env: DATABASE_URL without a database", lambda w: startup({"DATABASE_URL": "postgres://bots:pw@db:5432"}),
         "DATABASE_URL names no database (the path after the host)"),
    Case("env: REDIS_URL over http", lambda w: startup({"REDIS_URL": "http://cache:6379/0"}),
         "REDIS_URL must be a redis:// or rediss:// URL such as redis://127.0.0.1:6379/0"),
    Case("env: POSTS_PER_15_MIN_PER_ACCOUNT in words", lambda w: startup({"POSTS_PER_15_MIN_PER_ACCOUNT": "lots"}),
         "POSTS_PER_15_MIN_PER_ACCOUNT must be a whole number, got 'lots'"),
    Case("env: X_API_BASE without a scheme", lambda w: startup({"X_API_BASE": "api.example.com"}),
         "X_API_BASE must be an http:// or https:// URL"),
]

CASES = ADMIN_FORMS + FOUND_BY_FUZZ + CSV_IMPORT + COMMANDS + OAUTH_CALLBACKS + HEALTHZ + SETTINGS


def shown(answer: str) -> str:
    """An answer cut down to its errors and messages, for a failure's report."""
    found = re.findall(r'<ul class="(?:errorlist|messagelist)[^"]*"[^>]*>(.*?)</ul>', answer)
    return " | ".join(re.sub(r"<[^>]+>", " ", item) for item in found) or answer[:2000]


# --- the one test -----------------------------------------------------------------------------


@pytest.fixture
def world(db, sandbox, redis_url, http, settings, tmp_path) -> World:
    settings.MEDIA_ROOT = tmp_path
    users = get_user_model().objects
    alice = users.create_user("alice", "alice@example.com", "pw", is_staff=True, timezone="UTC")
    bob = users.create_user("bob", "bob@example.com", "pw", is_staff=True, timezone="UTC")
    alice_bot = link_with_minted_tokens(sandbox, alice, "alice_bot")
    carol = link_with_minted_tokens(sandbox, alice, "carol_daily", method="oauth1")
    PostingSlot.objects.create(account=alice_bot, weekday=0, time=time(9, 0))
    bot = recurring.bot_create(account=alice_bot, name="Tips", cron="0 9 * * *", timezone="UTC")
    BotItem.objects.create(bot=bot, text="A tip")
    install_schedules()
    gateway.create_post(alice_bot, text="Already on X before the bad input")
    clients = []
    for user in (alice, bob):
        client = Client()
        client.force_login(user)
        clients.append(client)
    return World(sandbox=sandbox, http=http, settings=settings, alice=alice, bob=bob, alice_client=clients[0],
                 bob_client=clients[1], alice_bot=alice_bot, carol=carol,
                 draft=Post.objects.create(account=alice_bot, text="A draft"))


def test_the_table_has_at_least_forty_rows_with_distinct_names():
    assert len(CASES) >= 40
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_gets_a_clear_message_and_changes_nothing(world: World, case: Case):
    if case.prepare is not None:
        case.prepare(world)
    before = snapshot(world)

    answer = case.act(world)

    for words in (case.says,) if isinstance(case.says, str) else case.says:
        assert words in answer, shown(answer)
    assert "Traceback" not in answer
    after = snapshot(world)
    assert after.rows == {name: n + (name in case.records) for name, n in before.rows.items()}
    assert (after.accounts, after.on_x) == (before.accounts, before.on_x)
