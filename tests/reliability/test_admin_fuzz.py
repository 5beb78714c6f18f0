"""A fuzz test of the whole admin surface: no input answers 500, nobody sees
or changes another owner's data, and an answer that refuses changes nothing.

The surface is found, not listed: every route of the URL configuration (the
admin's registered ModelAdmins with their custom views, the admin site's own
pages, the X account linking pages), filled in with every object in the
database; on each page, the query parameters its links and GET forms use
(filters, search, ordering, pagination, date drill-down, the calendar's day,
view and account, the export link's), Django's own changelist parameters, and
the POST forms it shows (posts with thread parts, polls and media, bots and
their queue items, posting slots, the queue's buttons, monthly budgets, CSV
upload, the changelists' actions, deletion, linking) as a browser would submit
them.

Two people use it, both staff but not superusers: Alice, who owns most of the
data, and Bob, who owns a little of his own. Each request is made as one of
them, in a savepoint rolled back afterwards, so every request meets the same
data. Every answer is checked:

- no 500, no exception, no traceback in the page (streamed exports are read
  to the end);
- no leak: a page never shows the other owner's posts, bots, accounts or files;
- nothing of the other owner's changed;
- an answer that refuses (a 4xx, a form sent back with errors, only error
  messages, Django's "No items have been changed") changed nothing at all, and
  a GET changes nothing (but X's OAuth callbacks, which arrive as GETs).

The test runs in three passes:

1. the crawl: every page, as each person;
2. the sweep, fixed: every parameter a page's links or GET forms use, and
   every field of every form, meets boundary values below, a different few
   each (ADMIN_FUZZ_SWEEP_VALUES, 6 by default; every one of the 26 with 26),
   taken in turn so that the sweep as a whole sends each of them; Django's
   other changelist parameters meet two; every form is also sent as shown, by
   the person it was shown to and by the other one;
3. Hypothesis draws requests: a page with some of its parameters, a form with
   some fields changed, dropped, repeated (a list where one value is
   expected) or given a file, with extra rows of thread parts, media, queue
   items and slots, another owner's object ids, odd ids in the URL, and X's
   callbacks after a real start of linking.

Values are of every kind: dates from 0001-01-01 to 9999-12-31, numbers from
-2**70 to 2**70, 1e999999, NaN and infinity, odd Unicode (digits of other
scripts, right-to-left marks, emoji), NUL bytes, strings of 100,000 characters,
files that lie about their type, CSV files with a header cell of 140,000 characters.

The counts, the seed and the number of examples are printed in the test run's
output. A longer run by hand (5,000 examples take about five minutes here), or
a replay of a run with its seed (run this file alone: the ids the requests
carry depend on what ran before):

    ADMIN_FUZZ_EXAMPLES=5000 pytest tests/reliability/test_admin_fuzz.py -q
    ADMIN_FUZZ_SWEEP_VALUES=26 pytest tests/reliability/test_admin_fuzz.py -q   # the whole sweep
    ADMIN_FUZZ_SEED=1234 pytest tests/reliability/test_admin_fuzz.py -q

A failure of the crawl or the sweep lists every bad answer; one of Hypothesis
prints the request it shrank to. Each says what was wrong, and for a 500 the
exception it started from and where.
"""

from __future__ import annotations

import io
import os
import random
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import time, timedelta
from decimal import Decimal
from http.cookies import SimpleCookie
from time import monotonic
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import hypothesis
import pytest
from django.conf import settings
from django.contrib.messages import constants as message_levels
from django.contrib.sessions.models import Session
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.db.models import F, Model
from django.http import HttpResponse
from django.test import Client
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask
from django_otp.plugins.otp_totp.models import TOTPDevice
from hypothesis import strategies as st

from accounts.models import AuditEvent, Invitation, LinkAttempt, Membership, User, Workspace, XAccount
from botplatform.schedules import install_schedules
from bots.models import AccountBudget, Bot, BotItem, BotRun, ImportJob, Post, PostingSlot, PostMedia
from bots.planning import slots
from bots.posting import services
from bots.recurring import services as recurring
from tests.bots.conftest import link_with_minted_tokens
from tests.bots.csv_support import HEADER
from tests.sandbox.xapi import gif, mint_tokens, mp4, png

from .admin_surface import (
    CHANGELIST_PARAMS,
    Field,
    Form,
    Route,
    Upload,
    explain,
    messages_of,
    project_routes,
    quiet_loggers,
    read_body,
    read_page,
    route_values,
    submitted,
    tell,
    without_query,
)

EXAMPLES = int(os.environ.get("ADMIN_FUZZ_EXAMPLES", "300"))
# How many boundary values each parameter and each form field meets in the sweep.
SWEEP_VALUES = int(os.environ.get("ADMIN_FUZZ_SWEEP_VALUES", "6"))
SEED = int(os.environ.get("ADMIN_FUZZ_SEED") or random.SystemRandom().randrange(2**32))

# What only Alice's (or only Bob's) data says: in texts, names, file names and
# handles. The other person's pages must never show it.
MARKS = {"alice": "aliceonly", "bob": "bobonly"}

# Files served from MEDIA_ROOT in development: not the admin, and in
# production served by the web server, not Django.
SKIPPED_ROUTES = ("^media/(?P<path>.*)$",
                  # Not the admin: it answers 503 by design while beat and the
                  # workers are away, as they are here (test_bad_input has its rows).
                  "healthz")
# X's OAuth callbacks arrive as GETs and link accounts: the one GET that may change data.
CALLBACKS = ("accounts:link_oauth1_callback", "accounts:link_oauth2_callback")
# What X sends back to each callback (OAuth 1.0a, OAuth 2.0).
CALLBACK_PARAMS = {
    "accounts:link_oauth1_callback": ("oauth_token", "oauth_verifier", "denied"),
    "accounts:link_oauth2_callback": ("state", "code", "error"),
}
# The export link carries the post list's query string.
SAME_PARAMS = {"admin:bots_post_export": "admin:bots_post_changelist"}
# How a drawn form treats a field: when every field is drawn, most are left
# as shown; when a few are, each takes one of the moves after "keep".
FIELD_MOVES = ("keep",) * 4 + ("fuzz",) * 3 + ("drop", "option", "file")
NUMBERS = re.compile(r"\d+")
# What the crawl must find, or it is not looking where people work: a field of
# each form people fill in (a post with its poll, time, media and thread parts;
# a bot with its queue; posting slots; the queue's buttons; a budget; a CSV
# upload; linking; the lists' actions), and the parameters of the calendar and
# the post list.
MUST_FIND_FIELDS = {
    "text", "poll_options_0", "poll_duration_minutes", "scheduled_at_0", "media-__prefix__-file",
    "parts-__prefix__-text", "interval_every", "items-__prefix__-text", "posting_slots-__prefix__-time",
    "direction", "monthly_budget_usd", "file", "time_zone", "signin", "action", "_selected_action",
}
MUST_FIND_PARAMS = {
    "admin:bots_postcalendar_changelist": {"day", "view", "account"},
    "admin:bots_post_changelist": {"q", "o", "status", "when", "account__id__exact", "scheduled_at__year"},
}
# Fields of endpoints only JavaScript calls (the live counter beside each text box).
SCRIPT_FIELDS = {"admin:bots_post_count": ("text",)}

# --- values of every kind -------------------------------------------------------------------

LONG = "x" * 100_000
BOUNDARY: tuple[str, ...] = (
    "9999-12-31", "0001-01-01", "1e999999", "-1", str(2**63), str(2**31), "NaN", "-Infinity", "\x00", "",
    "²", "١٢", "2030-02-30", "25:00", "9999-12-31 23:59", "0001-01-01 00:00", "0", "-0.001", "9" * 40,
    "\u202eevil", "🙂" * 300, "é" * 70_000, LONG, "{0}{nope}%s", "1 OR 1=1", "../../etc/passwd",
)
SAFE_TEXT = st.characters(exclude_categories=("Cs",))
boundary = st.sampled_from(BOUNDARY)
# The boundary values three times in four, then anything of each kind.
scalars = st.one_of(
    boundary, boundary, boundary,
    st.one_of(
        st.text(SAFE_TEXT, max_size=40),
        st.integers(min_value=-(2**70), max_value=2**70).map(str),
        st.floats().map(str),
        st.dates().map(str),
        st.datetimes().map(lambda moment: moment.isoformat(sep=" ")),
        st.times().map(str),
        st.decimals(allow_nan=True).map(str),
    ),
)
# What a person types in a new row (a thread part, a queue item, a slot's
# time or weekday, an order), so that a row is often a valid one.
plain = st.sampled_from(("A second part", "Another tip", "09:30", "2", "1"))
# How many rows an inline's management form claims. Django caps it (at 2,000
# rows by default, refused with words) but renders every row first, which takes
# seconds: the fuzz claims fewer and spends its time elsewhere.
TOTAL_FORMS = "-TOTAL_FORMS"
row_counts = st.one_of(st.integers(min_value=-5, max_value=60).map(str),
                       st.sampled_from(("", "x", "١٢", "²", "1e3", "NaN", "\x00", " 3")))
# Names a form never has; a browser percent-encodes quotes and line breaks in names.
KEYS = st.text(st.characters(exclude_categories=("Cs",), exclude_characters='"\r\n\x00'), min_size=1, max_size=20)


def csv_of(rows: list[list[str]], header: tuple[str, ...] = HEADER) -> bytes:
    out = io.StringIO()
    for row in [list(header), *rows]:
        out.write(",".join('"' + cell.replace('"', '""') + '"' for cell in row) + "\r\n")
    return out.getvalue().encode()


UPLOADS: tuple[Upload, ...] = (
    Upload("photo.png", png(), "image/png"),
    Upload("anim.gif", gif(), "image/gif"),
    Upload("clip.mp4", mp4(), "video/mp4"),
    Upload("notes.txt", b"just words", "text/plain"),
    Upload("blank.png", b"", "image/png"),
    Upload("lies.png", b"GIF89a not really", "image/png"),
    Upload("a" * 300 + ".png", png(), "image/png"),
    Upload("../../outside.png", png(), "image/png"),
    Upload("nul\x00.png", png(), "image/png"),
    Upload("posts.csv", csv_of([["@aliceonly_bot", "Hello", "2030-01-01T09:00:00Z", "", ""]]), "text/csv"),
    Upload("big-header.csv", csv_of([], header=("account", "x" * 140_000)), "text/csv"),
    Upload("latin1.csv", "account,text\n@aliceonly_bot,Café\n".encode("latin-1"), "text/csv"),
    Upload("utf16.csv", "account,text\n@aliceonly_bot,Hi\n".encode("utf-16"), "text/csv"),
)
uploads = st.one_of(
    st.sampled_from(UPLOADS),
    # A browser sends a file's name without its folder.
    st.builds(Upload, st.text(st.characters(exclude_categories=("Cs",), exclude_characters="/\\"), min_size=1,
                              max_size=30).filter(lambda name: name.strip(". ")),
              st.binary(max_size=200), st.sampled_from(["image/png", "text/csv", "video/mp4", ""])),
    st.lists(st.lists(scalars, min_size=1, max_size=5), max_size=4).map(
        lambda rows: Upload("fuzz.csv", csv_of(rows), "text/csv")),
)

# --- the world the requests meet ------------------------------------------------------------


@dataclass
class World:
    sandbox: str
    people: dict[str, User]
    linked: list[XAccount]


def build_world(sandbox: str) -> World:
    """Alice: two linked accounts with posts in every state (a thread, a poll,
    media, published, failed), bots of each kind with a run, posting slots, a
    queue, a budget and an import. Bob: one account with a little of each.
    Each owner's words carry their mark."""
    users = User.objects
    alice = users.create_user("alice", "alice@example.com", os.urandom(16).hex(), is_staff=True,
                              timezone="Pacific/Kiritimati")
    bob = users.create_user("bob", "bob@example.com", os.urandom(16).hex(), is_staff=True,
                            timezone="Pacific/Pago_Pago")
    install_schedules()
    alice_bot = link_with_minted_tokens(sandbox, alice, "aliceonly_bot")
    alice_daily = link_with_minted_tokens(sandbox, alice, "aliceonly_daily", method="oauth1")
    bob_news = link_with_minted_tokens(sandbox, bob, "bobonly_news")
    now = timezone.now()

    for account, mark in ((alice_bot, MARKS["alice"]), (alice_daily, MARKS["alice"]), (bob_news, MARKS["bob"])):
        PostingSlot.objects.create(account=account, weekday=0, time=time(9, 0))
        PostingSlot.objects.create(account=account, weekday=3, time=time(18, 30))
        Invitation.objects.create(workspace=account.workspace, invitee=f"{mark}-{account.pk}@example.com",
                                  role=Membership.Role.EDITOR, invited_by=account.owner)
        Post.objects.create(account=account, text=f"A draft by {mark}")
        queued = Post.objects.create(account=account, text=f"Queued by {mark}")
        slots.queue_add(post=queued)
        later = Post.objects.create(account=account, text=f"Queued later by {mark}")
        slots.queue_add(post=later)
        bot = recurring.bot_create(account=account, name=f"Tips of {mark}", cron="0 9 * * 1-5", timezone="UTC")
        BotItem.objects.create(bot=bot, text=f"A tip from {mark}", position=0)
        BotItem.objects.create(bot=bot, text=f"Another tip from {mark}", position=1)
        recurring.run_bot(bot_id=bot.pk, manual=True)
        AccountBudget.objects.create(account=account, monthly_budget_usd=Decimal("25.00"))
        job = ImportJob(file_name=f"{mark}.csv", time_zone="UTC", status=ImportJob.Status.REFUSED, total_rows=2,
                        processed_rows=2, created_by=account.owner, workspace=account.workspace,
                        report=[{"row": 2, "column": "text", "reason": f"Too long, {mark}"}])
        job.file.save(f"{mark}.csv", ContentFile(b"account,text\n"), save=True)

    thread = Post.objects.create(account=alice_bot, text="A thread by aliceonly", scheduled_at=now + timedelta(days=2))
    for position in (1, 2):
        Post.objects.create(account=alice_bot, parent=thread, position=position, text=f"Part {position}, aliceonly",
                            scheduled_at=thread.scheduled_at)
    services.post_schedule(post=thread)
    poll = Post.objects.create(account=alice_bot, text="Tea or coffee, aliceonly?", poll_options=["Tea", "Coffee"],
                               poll_duration_minutes=60, scheduled_at=now + timedelta(days=3))
    services.post_schedule(post=poll)
    with_media = Post.objects.create(account=alice_bot, text="A picture, aliceonly")
    PostMedia(post=with_media, file=SimpleUploadedFile("aliceonly.png", png()), content_type="image/png",
              size=len(png()), alt_text="A red square, aliceonly").save()
    Post.objects.create(account=alice_bot, text="Out on X, aliceonly", status=Post.Status.PUBLISHED,
                        scheduled_at=now - timedelta(days=1), published_at=now - timedelta(days=1),
                        x_post_id="1", x_post_url="https://x.com/aliceonly_bot/status/1")
    Post.objects.create(account=alice_daily, text="Refused, aliceonly", status=Post.Status.FAILED,
                        scheduled_at=now - timedelta(hours=2), last_error="X refused it, aliceonly.")
    Post.objects.create(account=alice_bot, text="Sending, aliceonly", status=Post.Status.SENDING,
                        scheduled_at=now - timedelta(minutes=1), sending_since=now)
    recurring.bot_create(account=alice_bot, name="Template of aliceonly", cron="30 8 * * *", timezone="Europe/Paris",
                         source=Bot.Source.TEMPLATE, template="Day {n}: {greeting}",
                         template_lists="greeting: Hello | Hi")
    recurring.bot_create(account=alice_daily, name="Interval of aliceonly", schedule_kind=Bot.ScheduleKind.INTERVAL,
                         interval_every=90, interval_unit=Bot.IntervalUnit.MINUTES, timezone="UTC")
    return World(sandbox=sandbox, people={"alice": alice, "bob": bob}, linked=[alice_bot, alice_daily, bob_news])


def renew_tokens(world: World) -> None:
    """Unlinking revokes tokens on X, which no rollback undoes: the accounts
    get fresh ones, so verifying them keeps working."""
    for account in world.linked:
        tokens = mint_tokens(world.sandbox, account.x_user_id, **{account.auth_method: {}})[account.auth_method]
        if account.auth_method == XAccount.AuthMethod.OAUTH1:
            fresh = {"oauth1_token": tokens["oauth_token"], "oauth1_token_secret": tokens["oauth_token_secret"]}
        else:
            fresh = {"oauth2_access_token": tokens["access_token"], "oauth2_refresh_token": tokens["refresh_token"],
                     "token_expires_at": timezone.now() + timedelta(seconds=tokens["expires_in"])}
        account_row = XAccount.objects.get(pk=account.pk)
        for name, value in fresh.items():
            setattr(account_row, name, value)
        account_row.save(update_fields=list(fresh))


# --- what the database holds, by owner ------------------------------------------------------

# How to find each table's owner (None: shared, like beat's schedules).
OWNERS: dict[type[Model], str | None] = {
    User: "pk",
    XAccount: "owner_id",
    LinkAttempt: "user_id",
    Post: "account__owner_id",
    PostMedia: "post__account__owner_id",
    Bot: "account__owner_id",
    BotItem: "bot__account__owner_id",
    BotRun: "bot__account__owner_id",
    PostingSlot: "account__owner_id",
    AccountBudget: "account__owner_id",
    ImportJob: "created_by_id",
    # Each person's workspace is their own here (the world has no team).
    Workspace: "memberships__user_id",
    Membership: "user_id",
    Invitation: "invited_by_id",
    AuditEvent: "workspace__memberships__user_id",
    TOTPDevice: "user_id",
    PeriodicTask: None,
    IntervalSchedule: None,
    CrontabSchedule: None,
}
# A callback uses its attempt up whatever X answered, so a replay finds it used.
USED_UP = {LinkAttempt: ("used_at",)}

Row = tuple[int | None, dict[str, Any]]
Snapshot = dict[str, dict[Any, Row]]


def snapshot() -> Snapshot:
    bot_owners = dict(Bot.objects.values_list("pk", "account__owner_id"))
    state: Snapshot = {}
    for model, owner_path in OWNERS.items():
        columns = [f.attname for f in model._meta.concrete_fields]
        rows: dict[Any, Row] = {}
        owner_column = {"fuzz_owner": F(owner_path)} if owner_path else {}
        for values in model._default_manager.order_by("pk").values(*columns, **owner_column):
            owner = values.pop("fuzz_owner", None)
            if model is PeriodicTask and values["name"].startswith("bot:"):
                owner = bot_owners.get(int(values["name"].removeprefix("bot:")))
            rows[values[model._meta.pk.attname]] = (owner, values)
        state[model.__name__] = rows
    return state


def changes(before: Snapshot, after: Snapshot, ignore: dict[type[Model], tuple[str, ...]] | None = None,
            ) -> list[tuple[str, Any, int | None, str]]:
    """Every row added, removed or changed: (table, pk, owner, what)."""
    ignored = {model.__name__: columns for model, columns in (ignore or {}).items()}
    found = []
    for table, rows in after.items():
        old = before[table]
        for pk in old.keys() | rows.keys():
            if pk not in rows:
                found.append((table, pk, old[pk][0], "removed"))
            elif pk not in old:
                found.append((table, pk, rows[pk][0], "added"))
            else:
                differing = sorted(name for name, value in rows[pk][1].items()
                                   if old[pk][1].get(name) != value and name not in ignored.get(table, ()))
                if differing:
                    found.append((table, pk, rows[pk][0], "changed " + ", ".join(differing)))
    return found


# --- one request ----------------------------------------------------------------------------


@dataclass(frozen=True)
class FromRedirect:
    """A value read from the redirect the previous step answered (the state
    or token X would send back)."""

    name: str


Value = str | Upload | FromRedirect | list[str | Upload]


def short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}…({len(text)} chars)"


@dataclass(frozen=True)
class Call:
    """One request as a browser would make it. ``what`` names the page or
    form it exercises (for the counts); ``first`` is a step before it on the
    same client (starting a link before its callback)."""

    user: str
    method: str
    path: str
    what: str
    query: tuple[tuple[str, Value], ...] = ()
    data: tuple[tuple[str, Value], ...] = ()
    first: Call | None = None

    def __repr__(self) -> str:
        query = ", ".join(f"{k}={short(v)}" for k, v in self.query)
        data = ", ".join(f"{k}={short(v)}" for k, v in self.data)
        before = f"after {self.first!r}; " if self.first else ""
        return f"{before}{self.user}: {self.method} {self.path} ?[{query}] body[{data}]"


@dataclass
class Answer:
    call: Call
    status: int
    body: str
    problems: list[str] = field(default_factory=list)
    # Why the answer says nothing was done ("" when it does not).
    refused: str = ""
    # It wrote to the database: to be made again with every table read.
    rerun: bool = False


def _resolve(value: Value, redirect: str) -> Any:
    if isinstance(value, FromRedirect):
        return parse_qs(urlsplit(redirect).query).get(value.name, [""])[0]
    if isinstance(value, Upload):
        return value.file()
    if isinstance(value, list):
        return [_resolve(item, redirect) for item in value]
    return value


def _grouped(pairs: tuple[tuple[str, Value], ...], redirect: str) -> dict[str, Any]:
    """Pairs as the test client takes them: a name given twice becomes a list."""
    out: dict[str, list[Any]] = {}
    for name, value in pairs:
        resolved = _resolve(value, redirect)
        out.setdefault(name, []).extend(resolved if isinstance(resolved, list) else [resolved])
    return {name: values[0] if len(values) == 1 else values for name, values in out.items()}


def _send(client: Client, call: Call, redirect: str) -> HttpResponse:
    # Built before the request: a request that cannot be built is the fuzz's fault, not the site's.
    query, data = _grouped(call.query, redirect), _grouped(call.data, redirect)
    try:
        if call.method == "GET":
            return client.get(call.path, query)
        path = f"{call.path}{'&' if '?' in call.path else '?'}{urlencode(query, doseq=True)}" if query else call.path
        return client.post(path, data)
    except Exception as error:
        raise Raised(error) from error


class Raised(Exception):
    """An exception that came out of the site instead of an answer."""

    def __init__(self, error: Exception) -> None:
        super().__init__(repr(error))
        self.error = error


def _read(response: HttpResponse) -> str:
    try:
        # A stream is written after the view returned: its errors come out here.
        return read_body(response)
    except Exception as error:
        raise Raised(error) from error


def refused(call: Call, status: int, body: str, messages: list[tuple[int, str]]) -> str:
    """Why the answer says nothing was done ("" when it does not)."""
    if status >= 400:
        return f"answered {status}"
    if messages and all(level >= message_levels.ERROR or "No items have been changed" in text
                        or text == "No action selected." for level, text in messages):
        return "said " + " | ".join(text for _, text in messages)
    if call.method == "POST" and status == 200 and ('class="errornote' in body or 'class="errorlist' in body):
        return "sent the form back with errors"
    return ""


def writes() -> Counter[str] | None:
    """Rows written per table in this transaction so far, as PostgreSQL counts
    them (None elsewhere): one cheap query tells whether an answer wrote at all."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_xact_user_tables "
                       "WHERE relname <> %s", [Session._meta.db_table])
        return Counter(dict(cursor.fetchall()))


class Fuzz:
    """Makes calls against the world, each in a savepoint rolled back after
    it, and checks each answer."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.counts: Counter[str] = Counter()
        self.seconds: Counter[str] = Counter()
        self.failures: list[str] = []
        self.clients: dict[str, Client] = {}
        self.sessions: dict[str, str] = {}
        for user, person in world.people.items():
            client = Client(raise_request_exception=False)
            client.force_login(person)
            self.clients[user] = client
            self.sessions[user] = client.cookies[settings.SESSION_COOKIE_NAME].value

    def client(self, user: str) -> Client:
        """The person's browser, signed in, with no cookie a former call left
        (a message, or a sign-out)."""
        client = self.clients[user]
        client.cookies = SimpleCookie({settings.SESSION_COOKIE_NAME: self.sessions[user]})
        return client

    def run(self, call: Call) -> Answer:
        self.counts[call.what] += 1
        started = monotonic()
        answer = self._isolated(call, full=writes() is None)
        if answer.rerun:
            # It wrote something: again, with every table read before and after.
            answer = self._isolated(call, full=True)
        if answer.problems:
            self.failures.append(f"{call!r}\n  " + "\n  ".join(answer.problems))
        if call.method == "POST" and "xaccount" in call.path:
            renew_tokens(self.world)
        self.seconds[call.what] += monotonic() - started
        return answer

    def _isolated(self, call: Call, *, full: bool) -> Answer:
        savepoint = transaction.savepoint()
        try:
            return self._run(call, full=full)
        finally:
            transaction.savepoint_rollback(savepoint)

    def _run(self, call: Call, *, full: bool) -> Answer:
        client = self.client(call.user)
        redirect = ""
        try:
            if call.first is not None:
                first = _send(client, call.first, "")
                if first.status_code >= 500:
                    return _failed(call, f"its first step answered {first.status_code}", first)
                redirect = first.get("Location", "")
            before = snapshot() if full else None
            written_before = writes()
            response = _send(client, call, redirect)
            body = _read(response)
        except Raised as raised:
            return Answer(call, 500, "", [f"raised {explain(raised.error)}"])
        answer = Answer(call, response.status_code, body)
        if response.status_code >= 500 or getattr(response, "exc_info", None):
            return _failed(call, f"answered {response.status_code}", response)
        if "Traceback (most recent call last)" in body:
            answer.problems.append("the page shows a traceback")
        other = next(name for name in MARKS if name != call.user)
        if MARKS[other] in body.lower() and MARKS[other] not in repr(call).lower():
            at = body.lower().index(MARKS[other])
            answer.problems.append(f"shows {other}'s data: …{body[max(0, at - 120):at + 60]}…")
        why = answer.refused = refused(call, response.status_code, body, messages_of(response))
        if before is None:
            written = +(writes() - written_before)
            if written and call.method == "GET" and call.what not in CALLBACKS:
                answer.problems.append(f"a GET wrote to {sorted(written)}")
            else:
                answer.rerun = bool(written)
            return answer
        after = snapshot()
        me = self.world.people[call.user].pk
        theirs = [c for c in changes(before, after) if c[2] is not None and c[2] != me]
        if theirs:
            answer.problems.append(f"changed another owner's data: {theirs[:5]}")
        if why:
            changed = changes(before, after, USED_UP)
            if changed:
                answer.problems.append(f"{why}, yet changed {changed[:5]}")
        elif call.method == "GET" and call.what not in CALLBACKS:
            changed = changes(before, after)
            if changed:
                answer.problems.append(f"a GET changed {changed[:5]}")
        return answer


def _failed(call: Call, what: str, response: HttpResponse) -> Answer:
    exc_info = getattr(response, "exc_info", None)
    where = explain(exc_info[1]) if exc_info else response.content[:2000].decode("utf-8", "replace")
    return Answer(call, response.status_code, "", [f"{what}: {where}"])


# --- the surface ----------------------------------------------------------------------------


@dataclass
class Surface:
    """What the crawl found: pages (a route filled in) with the query
    parameters seen for each, and the POST forms each person was shown."""

    routes: list[Route]
    pages: list[tuple[Route, str]]
    params: dict[str, set[str]]
    forms: list[tuple[str, Form]]
    ids: list[str]
    # Pages someone may open: the others answer 403 to both people, whatever is asked.
    open: set[str]

    def params_of(self, route: Route, path: str) -> list[str]:
        names = set(self.params.get(path, ()))
        like = SAME_PARAMS.get(route.name)
        if like is not None:
            names |= set(self.params_of(*self.page(like)))
        if route.name.endswith("_changelist"):
            names |= CHANGELIST_PARAMS
        return sorted(names)

    def page(self, name: str) -> tuple[Route, str]:
        return next((route, path) for route, path in self.pages if route.name == name)

    def route(self, name: str) -> Route:
        return next(route for route in self.routes if route.name == name)


def crawl(fuzz: Fuzz) -> Surface:
    """GET every page as each person (each GET checked like any other
    answer), reading the parameters and forms each page offers. A route
    whose first page both people are refused is not tried with its other
    objects: they are refused the same way."""
    routes = project_routes(skip=SKIPPED_ROUTES)
    pages: list[tuple[Route, str]] = []
    params: dict[str, set[str]] = {}
    forms: dict[tuple[str, Shape], tuple[str, Form]] = {}
    opened: set[str] = set()
    for route in routes:
        for values in route_values(route):
            path = route.fill(**values)
            pages.append((route, path))
            for user in MARKS:
                answer = fuzz.run(Call(user, "GET", path, route_label(route)))
                if answer.status != 403:
                    opened.add(path)
                if answer.status != 200 or "html" not in answer.body[:200].lower():
                    continue
                reading = read_page(path, answer.body)
                for target, names in reading.params.items():
                    params.setdefault(target, set()).update(names)
                for form in reading.forms:
                    forms.setdefault((user, shape_of(form)), (user, form))
            if path not in opened:
                break
    ids = sorted({str(pk) for model in OWNERS for pk in model._default_manager.values_list("pk", flat=True)},
                 key=lambda pk: (len(pk), pk))
    return Surface(routes=routes, pages=pages, params=params, forms=list(forms.values()), ids=ids, open=opened)


Shape = tuple[str, tuple[str, ...]]


def shape_of(form: Form) -> Shape:
    """The same fields posted to the same kind of page (another object's):
    one such form per person is enough, the others add nothing but time."""
    return (NUMBERS.sub("N", without_query(form.action)),
            tuple(sorted({NUMBERS.sub("N", f.name) for f in form.fields})))


def form_label(form: Form) -> str:
    return f"form → {NUMBERS.sub('N', without_query(form.action))}"


def route_label(route: Route) -> str:
    return route.name or route.route


def with_buttons(data: dict[str, Value], button: tuple[str, str] | None) -> tuple[tuple[str, Value], ...]:
    return (*data.items(), *((button,) if button else ()))


# --- the fixed sweep ------------------------------------------------------------------------


def sweep(fuzz: Fuzz, surface: Surface) -> None:
    """Every parameter a page's links or GET forms use, and every field of
    every form, meets SWEEP_VALUES boundary values, the next ones in turn each
    time, so the sweep sends every value; Django's other changelist parameters
    meet two. Every form is also sent as shown, by the person it was shown to
    and by the other one. A form both people were shown meets the values once."""
    turn = 0
    per_field = min(SWEEP_VALUES, len(BOUNDARY))
    for route, path in surface.pages:
        if path not in surface.open:
            continue
        shown = surface.params.get(path, set())
        for name in surface.params_of(route, path):
            for _ in range(per_field if name in shown else 2):
                turn += 1
                value = BOUNDARY[turn % len(BOUNDARY)]
                fuzz.run(Call(tuple(MARKS)[turn % 2], "GET", path, route_label(route), query=((name, value),)))
    valued: set[Shape] = set()
    for finder, form in surface.forms:
        label = form_label(form)
        base = submitted(form)
        button = form.buttons[0] if form.buttons else None
        for user in MARKS:
            fuzz.run(Call(user, "POST", form.action, label, data=with_buttons(base, button)))
        if shape_of(form) in valued:
            continue
        valued.add(shape_of(form))
        fields = [f for f in form.fields if f.kind != "hidden"]
        for _ in range(per_field if fields else 0):
            turn += 1
            data = dict(base)
            # Each field its own value, the next ones in turn.
            for n, f in enumerate(fields):
                data[f.name] = UPLOADS[(turn + n) % len(UPLOADS)] if f.kind == "file" else BOUNDARY[
                    (turn + n) % len(BOUNDARY)]
            fuzz.run(Call(finder, "POST", form.action, label, data=with_buttons(data, button)))
        # And each field alone, the rest as shown, so its value reaches the
        # checks of the whole form.
        for f in fields:
            turn += 1
            alone = UPLOADS[turn % len(UPLOADS)] if f.kind == "file" else BOUNDARY[turn % len(BOUNDARY)]
            fuzz.run(Call(finder, "POST", form.action, label, data=with_buttons({**base, f.name: alone}, button)))
    for name, fields in SCRIPT_FIELDS.items():
        path = surface.route(name).fill()
        for n, value in enumerate(BOUNDARY):
            fuzz.run(Call(tuple(MARKS)[n % 2], "POST", path, name, data=tuple((f, value) for f in fields)))


# --- random requests ------------------------------------------------------------------------


def requests_to(surface: Surface) -> st.SearchStrategy[Call]:
    """Requests of every kind the surface takes, as Hypothesis draws them."""
    people = st.sampled_from(tuple(MARKS))
    values = st.one_of(scalars, st.sampled_from(surface.ids))
    # A list is a name sent several times; an empty one, a name left out.
    any_values: st.SearchStrategy[Value] = st.one_of(values, st.lists(values, max_size=3))
    with_params = [(route, path) for route, path in surface.pages
                   if path in surface.open and surface.params_of(route, path)]
    with_ids = [route for route in surface.routes if route.placeholders
                and any(page_route == route and path in surface.open for page_route, path in surface.pages)]

    @st.composite
    def page_call(draw: st.DrawFn) -> Call:
        route, path = draw(st.sampled_from(with_params))
        names = draw(st.lists(st.sampled_from(surface.params_of(route, path)) | KEYS, max_size=4, unique=True))
        return Call(draw(people), "GET", path, route_label(route),
                    query=tuple((name, draw(any_values)) for name in names))

    @st.composite
    def odd_page_call(draw: st.DrawFn) -> Call:
        route = draw(st.sampled_from(with_ids))
        path = route.fill(**{name: draw(values) for name in route.placeholders})
        method = draw(st.sampled_from(("GET", "POST")))
        return Call(draw(people), method, path, route_label(route))

    @st.composite
    def form_call(draw: st.DrawFn) -> Call:
        finder, form = draw(st.sampled_from(surface.forms))
        data = submitted(form)
        # Mostly a form as shown with a few fields changed, so that what is
        # left is valid and the odd value reaches the checks behind the
        # fields; sometimes every field at once.
        if draw(st.integers(min_value=0, max_value=3)):
            changed = draw(st.lists(st.sampled_from(form.fields), min_size=1, max_size=3, unique=True))
            moves = [(f, draw(st.sampled_from(FIELD_MOVES[FIELD_MOVES.count("keep"):]))) for f in changed]
        else:
            moves = [(f, draw(st.sampled_from(FIELD_MOVES))) for f in form.fields]
        for f, move in moves:
            if move == "fuzz" and f.name.endswith(TOTAL_FORMS):
                data[f.name] = draw(row_counts)
            elif move == "fuzz":
                data[f.name] = draw(st.one_of(any_values, uploads) if f.kind == "file" else any_values)
            elif move == "drop":
                data.pop(f.name, None)
            elif move == "option" and f.options:
                data[f.name] = draw(st.sampled_from(f.options))
            elif move == "file":
                data[f.name] = draw(uploads)
        for prefix, templates in templates_of(form).items():
            total = f"{prefix}{TOTAL_FORMS}"
            rows = draw(st.integers(min_value=0, max_value=3))
            start = int(str(data.get(total, "0"))) if str(data.get(total, "0")).isdecimal() else 0
            for row in range(start, start + rows):
                for f in templates:
                    name = f.name.replace("__prefix__", str(row))
                    data[name] = draw(st.one_of(st.just(f.value or ""), uploads if f.kind == "file" else plain,
                                                any_values))
            if rows and total in data and data[total] == str(start):
                data[total] = str(start + rows)
        for _ in range(draw(st.integers(min_value=0, max_value=2))):
            data[draw(KEYS)] = draw(any_values)
        button = draw(st.sampled_from(form.buttons)) if form.buttons and draw(st.booleans()) else None
        user = draw(st.sampled_from((finder, finder, finder, *MARKS)))
        return Call(user, "POST", form.action, form_label(form), data=with_buttons(data, button))

    starts = [(user, form) for user, form in surface.forms
              if any(form.action == route.fill() and route.name + "_callback" in CALLBACKS
                     for route in surface.routes if not route.placeholders)]

    @st.composite
    def callback_call(draw: st.DrawFn) -> Call:
        user, form = draw(st.sampled_from(starts))
        start = next(route for route in surface.routes if not route.placeholders and route.fill() == form.action)
        callback = surface.route(start.name + "_callback")
        query = []
        for name in CALLBACK_PARAMS[callback.name]:
            value = draw(st.one_of(st.just(FromRedirect(name)), any_values))
            query.append((name, value))
        first = Call(user, "POST", form.action, form_label(form), data=tuple(submitted(form).items()))
        return Call(user, "GET", callback.fill(), callback.name, query=tuple(query), first=first)

    @st.composite
    def script_call(draw: st.DrawFn) -> Call:
        name = draw(st.sampled_from(sorted(SCRIPT_FIELDS)))
        data = tuple((f, draw(any_values)) for f in SCRIPT_FIELDS[name])
        return Call(draw(people), "POST", surface.route(name).fill(), name, data=data)

    return st.one_of(form_call(), page_call(), form_call(), page_call(), odd_page_call(), callback_call(),
                     script_call())


def templates_of(form: Form) -> dict[str, list[Field]]:
    """The empty rows of a form's inlines (thread parts, media, queue items,
    slots), by their prefix: the fields a browser adds with "Add another"."""
    found: dict[str, list[Field]] = {}
    for f in form.fields:
        if "-__prefix__-" in f.name:
            found.setdefault(f.name.split("-__prefix__-")[0], []).append(f)
    return found


# --- the tests ------------------------------------------------------------------------------


@pytest.fixture
def quiet() -> Iterator[None]:
    """Django logs every 4xx and 500 with its traceback; the fuzz makes
    thousands and reports the 500s itself."""
    restore = quiet_loggers()
    yield
    restore()


@pytest.fixture
def fuzz(db, sandbox, redis_url, settings, tmp_path, quiet) -> Fuzz:
    settings.MEDIA_ROOT = tmp_path
    # The password form checks the old password on every try: a slow hash
    # would spend the fuzz's minutes there.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return Fuzz(build_world(sandbox))


def bad_answers(fuzz: Fuzz, shown: int = 40) -> str:
    more = len(fuzz.failures) - shown
    return (f"{len(fuzz.failures)} bad answers:\n\n" + "\n\n".join(fuzz.failures[:shown])
            + (f"\n\n… and {more} more" if more > 0 else ""))


def test_the_checks_see_a_change_a_leak_and_a_refusal(fuzz: Fuzz):
    """The fuzz's own eyes, shown to work: a change to Bob's post is seen as
    his, a superuser's list (which shows everyone's posts) as a leak to Alice,
    and a form sent back with errors as a refusal."""
    alice, bob = fuzz.world.people["alice"], fuzz.world.people["bob"]
    post = Post.objects.filter(account__owner=bob).order_by("pk").first()
    before, counted = snapshot(), writes()
    Post.objects.filter(pk=post.pk).update(text="Changed behind the fuzz's back")
    assert changes(before, snapshot()) == [("Post", post.pk, bob.pk, "changed text")]
    assert counted is None or +(writes() - counted) == Counter({Post._meta.db_table: 1})

    User.objects.filter(pk=alice.pk).update(is_superuser=True)
    leak = fuzz.run(Call("alice", "GET", "/admin/bots/post/", "the post list"))
    assert any("shows bob's data" in problem for problem in leak.problems), leak.problems
    User.objects.filter(pk=alice.pk).update(is_superuser=False)

    budget = AccountBudget.objects.filter(account__owner=alice).first()
    refusal = fuzz.run(Call("alice", "POST", f"/admin/bots/accountbudget/{budget.pk}/change/", "a budget",
                            data=(("monthly_budget_usd", "-1"),)))
    assert (refusal.status, refusal.refused, refusal.problems) == (200, "sent the form back with errors", [])


# Room for the sweep and the examples, then for Hypothesis's shrinking of a failure.
@pytest.mark.timeout(300 + EXAMPLES)
def test_no_input_answers_500_leaks_or_changes_what_it_refuses(fuzz: Fuzz, request: pytest.FixtureRequest):
    started = monotonic()
    surface = crawl(fuzz)
    sweep(fuzz, surface)
    swept = sum(fuzz.counts.values())
    tell(request, "admin fuzz",
         f"admin fuzz: {len(surface.routes)} routes, {len(surface.pages)} pages, "
         f"{sum(len(surface.params_of(*page)) for page in surface.pages)} page parameters, "
         f"{len(surface.forms)} forms; the sweep made {swept} requests in {monotonic() - started:.0f} s; "
         f"seed {SEED}, {EXAMPLES} examples (ADMIN_FUZZ_SEED, ADMIN_FUZZ_EXAMPLES); slowest: "
         + ", ".join(f"{what} {seconds:.0f} s" for what, seconds in fuzz.seconds.most_common(3)))
    assert not fuzz.failures, bad_answers(fuzz)
    names = {name for _, form in surface.forms for name in [*(f.name for f in form.fields),
                                                             *(name for name, _ in form.buttons)]}
    assert MUST_FIND_FIELDS <= names, f"the crawl found no form with {sorted(MUST_FIND_FIELDS - names)}"
    for page, params in MUST_FIND_PARAMS.items():
        found = set(surface.params_of(*surface.page(page)))
        assert params <= found, f"the crawl found no {sorted(params - found)} on {page}"

    @hypothesis.seed(SEED)
    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        # Nothing written into the working tree; the seed replays a run.
        database=None,
        print_blob=True,
        suppress_health_check=list(hypothesis.HealthCheck),
        phases=[phase for phase in hypothesis.Phase if phase != hypothesis.Phase.explain],
    )
    @hypothesis.given(call=requests_to(surface))
    def answers_well(call: Call) -> None:
        answer = fuzz.run(call)
        assert not answer.problems, "\n".join(answer.problems)

    started = monotonic()
    answers_well()
    tell(request, "admin fuzz",
         f"admin fuzz: {sum(fuzz.counts.values()) - swept} random requests in {monotonic() - started:.0f} s, "
         f"seed {SEED}")
