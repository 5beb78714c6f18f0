"""What the workspace isolation test stands on: two workspaces with data in
every table, one person per role in the second, the rows of the first as the
test itself finds them (never as the access policy says), every table read
before and after each request (PostgreSQL's write counts tell which requests
need it), and requests made in a savepoint rolled back afterwards, each answer
checked for what it shows and what it changed.

Workspace A ("acmeonly") is the one reached for; workspace B ("bravoonly")
is the one whose people reach. Every text, name, handle and file name of A
carries A's mark, so a page that shows anything of A shows the mark.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import time, timedelta
from decimal import Decimal
from http.cookies import SimpleCookie
from time import monotonic
from typing import Any
from urllib.parse import urlsplit

from django.apps import apps
from django.conf import settings
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.contrib.messages import constants as message_levels
from django.contrib.sessions.models import Session
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.db.models import BooleanField, Model, QuerySet
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    PeriodicTasks,
    SolarSchedule,
)
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import audit
from accounts import services as accounts_services
from accounts.models import AuditEvent, Invitation, LinkAttempt, Membership, User, Workspace, XAccount
from bots.models import AccountBudget, Bot, BotItem, BotRun, ImportJob, Post, PostingSlot, PostMedia
from bots.planning import slots
from bots.posting import services
from bots.recurring import services as recurring
from tests.bots.conftest import link_with_minted_tokens
from tests.people import staff
from tests.reliability.admin_surface import Upload, explain, messages_of, read_body
from tests.sandbox.xapi import png

# The marks: every string of A carries A's, every string of B carries B's.
MARK_A = "acmeonly"
MARK_B = "bravoonly"
# A word in A's texts and names that is not the mark: a search for it echoes
# no mark, so a mark in the answer is A's data, not the search box.
WORD_A = "quokka"
ROLES = tuple(Membership.Role.values)

Role = Membership.Role

# --- the world ------------------------------------------------------------------------------


@dataclass
class Side:
    """One workspace and what it holds."""

    workspace: Workspace
    owner: User
    accounts: list[XAccount]
    mark: str
    # The state and request token X would send back to each link attempt's callback.
    attempts: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass
class World:
    sandbox: str
    a: Side
    b: Side
    # B's people, by role: staff, members of B only besides their own
    # personal workspace, with B as their current workspace.
    people: dict[str, User]
    # A superuser (current workspace A): the pages a real person of A is
    # shown, to take the forms from, and the controls.
    root: User


def build_world(sandbox: str) -> World:
    """A and B, each with two linked accounts (OAuth 2.0 and 1.0a) holding
    the sandbox's tokens, posts in every status (a thread with media, a
    poll, a queue), bots of each kind with items and runs, posting slots,
    budgets, an import with its file, audit events, an invitation, link
    attempts started through the real views, an admin log entry; A also has
    an editor with an authenticator app. B has one member per role."""
    a_owner = staff(f"{MARK_A}_owner", "Pacific/Kiritimati")
    a_editor = staff(f"{MARK_A}_editor")
    root = User.objects.create_superuser("isolation_root", "root@example.com", "pw-root")
    a = _workspace(f"{MARK_A.capitalize()} team {WORD_A}", {a_owner: Role.OWNER, a_editor: Role.EDITOR})
    people = {role: staff(f"bravo_{role}", "Pacific/Pago_Pago") for role in ROLES}
    b = _workspace(f"{MARK_B.capitalize()} team", {person: role for role, person in people.items()})
    _make_current(root, a)
    TOTPDevice.objects.create(user=a_editor, name=f"{MARK_A} phone", confirmed=True)

    sides = []
    for workspace, owner, mark in ((a, a_owner, MARK_A), (b, people[Role.OWNER], MARK_B)):
        accounts = [link_with_minted_tokens(sandbox, owner, f"{mark}_news"),
                    link_with_minted_tokens(sandbox, owner, f"{mark}_daily", method="oauth1")]
        word = WORD_A if mark == MARK_A else "wombat"
        side = Side(workspace=workspace, owner=owner, accounts=accounts, mark=mark)
        _populate(side, word)
        side.accounts += _accounts_in_other_states(sandbox, owner, mark, word)
        for account in side.accounts:
            XAccount.objects.filter(pk=account.pk).update(name=f"{account.username} {word}")
        side.attempts = _start_links(owner)
        sides.append(side)
    return World(sandbox=sandbox, a=sides[0], b=sides[1], people=people, root=root)


def _workspace(name: str, members: dict[User, str]) -> Workspace:
    workspace = Workspace.objects.create(name=name)
    for person, role in members.items():
        Membership.objects.create(workspace=workspace, user=person, role=role)
        _make_current(person, workspace)
    return workspace


def _make_current(person: User, workspace: Workspace) -> None:
    person.workspace = workspace
    person.save(update_fields=["workspace"])


def _populate(side: Side, word: str) -> None:
    mark, owner = side.mark, side.owner
    main, second = side.accounts
    now = timezone.now()
    # One post in every status there is (a status added later gets one too).
    for n, status in enumerate(Post.Status.values):
        text = f"A {status} post of {mark} {word}"
        if status == Post.Status.SCHEDULED:
            post = Post.objects.create(account=main, text=text, scheduled_at=now + timedelta(days=1, hours=n))
            services.post_schedule(post=post)
            continue
        past = now - timedelta(hours=n + 1)
        extra: dict[str, Any] = {"scheduled_at": now + timedelta(days=2, hours=n)}
        if status in (Post.Status.CLAIMED,):
            extra = {"scheduled_at": past, "lease_expires_at": now + timedelta(minutes=5), "claim_token": "c" * 32}
        elif status in (Post.Status.SENDING, Post.Status.UNKNOWN):
            extra = {"scheduled_at": past, "sending_since": past, "first_sent_at": past, "maybe_sent": True}
        elif status == Post.Status.PUBLISHED:
            extra = {"scheduled_at": past, "published_at": past, "x_post_id": f"{n}{main.pk}",
                     "x_post_url": f"https://x.com/{main.username}/status/{n}{main.pk}"}
        elif status == Post.Status.FAILED:
            extra = {"scheduled_at": past, "last_error": f"X refused it, {mark}.", "attempts": 1}
        Post.objects.create(account=main if n % 2 else second, text=text, status=status, **extra)

    thread = Post.objects.create(account=main, text=f"A thread of {mark} {word}", scheduled_at=now + timedelta(days=3))
    parts = [Post.objects.create(account=main, parent=thread, position=position, scheduled_at=thread.scheduled_at,
                                 text=f"Part {position} of {mark}'s thread {word}") for position in (1, 2)]
    services.post_schedule(post=thread)
    for post in (thread, parts[0]):
        # The mark after the image's end: a file served to the wrong person shows it.
        image = png() + mark.encode()
        PostMedia(post=post, file=SimpleUploadedFile(f"{mark}-{post.pk}.png", image), content_type="image/png",
                  size=len(image), alt_text=f"A red square of {mark} {word}").save()
    poll = Post.objects.create(account=second, text=f"Tea or coffee, {mark} {word}?", poll_options=["Tea", "Coffee"],
                               poll_duration_minutes=60, scheduled_at=now + timedelta(days=4))
    services.post_schedule(post=poll)

    for account in side.accounts:
        PostingSlot.objects.create(account=account, weekday=0, time=time(9, 0))
        PostingSlot.objects.create(account=account, weekday=3, time=time(18, 30))
        for n in (1, 2):
            queued = Post.objects.create(account=account, text=f"Queued {n} of {mark} {word}", created_by=owner)
            slots.queue_add(post=queued)
        AccountBudget.objects.create(account=account, monthly_budget_usd=Decimal("25.00"))
        audit.record(actor=owner, action=AuditEvent.Action.LINKED, obj=account, detail=f"linked by {mark}")

    queue_bot = recurring.bot_create(account=main, name=f"Tips of {mark} {word}", cron="0 9 * * 1-5", timezone="UTC")
    BotItem.objects.create(bot=queue_bot, text=f"A tip from {mark} {word}", position=0)
    BotItem.objects.create(bot=queue_bot, text=f"Another tip from {mark} {word}", position=1)
    recurring.run_bot(bot_id=queue_bot.pk, manual=True)
    recurring.bot_create(account=main, name=f"Template of {mark}", cron="30 8 * * *", timezone="Europe/Paris",
                         source=Bot.Source.TEMPLATE, template=f"Day {{n}} of {mark}", template_lists="")
    recurring.bot_create(account=second, name=f"Interval of {mark}", schedule_kind=Bot.ScheduleKind.INTERVAL,
                         interval_every=90, interval_unit=Bot.IntervalUnit.MINUTES, timezone="UTC")

    job = ImportJob(file_name=f"{mark}.csv", time_zone="UTC", status=ImportJob.Status.REFUSED, total_rows=1,
                    processed_rows=1, created_by=owner, workspace=side.workspace,
                    report=[{"row": 2, "column": "text", "reason": f"Too long, {mark}"}])
    job.file.save(f"{mark}.csv", ContentFile(f"account,text\n@{main.username},Hi {mark}\n".encode()), save=True)
    Invitation.objects.create(workspace=side.workspace, invitee=f"{mark}-friend@example.com", role=Role.EDITOR,
                              invited_by=owner)
    audit.record(actor=owner, action=AuditEvent.Action.SCHEDULED, obj=thread, detail=f"{mark} scheduled it")
    LogEntry.objects.log_actions(user_id=owner.pk, queryset=[thread], action_flag=CHANGE,
                                 change_message=f"Changed by {mark}")


def _accounts_in_other_states(sandbox: str, owner: User, mark: str, word: str) -> list[XAccount]:
    """An account in each status but active, with a post: one unlinked
    through the service (disconnected, its history kept), the others set."""
    made = []
    for n, status in enumerate(XAccount.Status.values):
        if status == XAccount.Status.ACTIVE:
            continue
        account = link_with_minted_tokens(sandbox, owner, f"{mark}_s{n}")
        Post.objects.create(account=account, text=f"A post of {mark} on a {status} account {word}",
                            scheduled_at=timezone.now() + timedelta(days=5))
        if status == XAccount.Status.DISCONNECTED:
            accounts_services.xaccount_unlink(account=account, by=owner)
        else:
            XAccount.objects.filter(pk=account.pk).update(status=status, status_reason=f"Set for {mark}'s test")
        account.refresh_from_db()
        made.append(account)
    return made


def _start_links(owner: User) -> dict[str, dict[str, str]]:
    """A link attempt of each kind, started as the owner does: through the
    link views, which ask the sandbox for a request token or make the state."""
    client = Client()
    client.force_login(owner)
    started = {}
    for name in ("oauth2", "oauth1"):
        answer = client.post(reverse(f"accounts:link_{name}"))
        assert answer.status_code == 302, (name, answer.status_code, answer.content[:500])
        attempt = LinkAttempt.objects.filter(user=owner).order_by("-created_at").first()
        started[name] = {"state": attempt.state, "oauth_token": attempt.request_token, "id": str(attempt.pk)}
    return started


# --- whose rows -----------------------------------------------------------------------------

# How the test finds A's rows of each model: its own answer, written out
# here rather than asked of accounts.access, which is what is under test.
def _by(path: str) -> Callable[[Workspace], Any]:
    return lambda workspace: {path: workspace}


OWNED_BY_WORKSPACE: dict[type[Model], Callable[[Workspace], Any]] = {
    Workspace: lambda workspace: {"pk": workspace.pk},
    Membership: _by("workspace"),
    Invitation: _by("workspace"),
    AuditEvent: _by("workspace"),
    LinkAttempt: _by("workspace"),
    XAccount: _by("workspace"),
    ImportJob: _by("workspace"),
    Post: _by("account__workspace"),
    PostMedia: _by("post__account__workspace"),
    Bot: _by("account__workspace"),
    BotItem: _by("bot__account__workspace"),
    BotRun: _by("bot__account__workspace"),
    PostingSlot: _by("account__workspace"),
    AccountBudget: _by("account__workspace"),
    # The people of a workspace, and what is theirs alone.
    User: _by("memberships__workspace"),
    TOTPDevice: _by("user__memberships__workspace"),
    LogEntry: _by("user__memberships__workspace"),
    PeriodicTask: lambda workspace: {"name__in": [f"bot:{pk}" for pk in Bot.objects.filter(
        account__workspace=workspace).values_list("pk", flat=True)]},
}
# Tables of the whole platform, no workspace's: their id routes are filled
# with every row (another workspace's people must not change them either).
SHARED: tuple[type[Model], ...] = (
    Group, Permission, ContentType, Session, ClockedSchedule, CrontabSchedule, IntervalSchedule, SolarSchedule,
    PeriodicTasks,
)
SHARED_APPS = ("axes",)


def rows_of(model: type[Model], workspace: Workspace) -> QuerySet:
    """The workspace's rows of ``model`` (a proxy's: those of the model it
    stands for); every row of a shared table."""
    concrete = model._meta.concrete_model
    if concrete in OWNED_BY_WORKSPACE:
        return concrete._default_manager.filter(**OWNED_BY_WORKSPACE[concrete](workspace)).distinct().order_by("pk")
    if concrete in SHARED or concrete._meta.app_label in SHARED_APPS:
        return concrete._default_manager.order_by("pk")
    raise AssertionError(
        f"The isolation test does not know whose rows {concrete.__name__} holds: add it to OWNED_BY_WORKSPACE "
        "(how its rows reach a workspace) or to SHARED (rows of the whole platform).")


def of_each_kind(rows: QuerySet) -> QuerySet:
    """The first of ``rows`` (by pk) of each kind (``row_kind``): another row
    of a kind already there gives the same page of another id."""
    firsts: dict[tuple, Any] = {}
    for row in rows:
        firsts.setdefault(row_kind(row), row.pk)
    return rows.filter(pk__in=firsts.values())


def row_kind(row: Model) -> tuple:
    """What of a row may shape its pages, read from the row (never from the
    admin): the value of each of its fields with choices and of each flag;
    whether each optional field is set; the status of each row it points to
    (a post's account, disconnected or not; a part's thread), not its other
    settings (an account's way of signing in is a kind of account, not of
    post); and which kinds of rows point to it (a thread's parts, a post's
    media)."""
    kind: list[tuple[str, Any]] = []
    for f in row._meta.concrete_fields:
        value = getattr(row, f.attname)
        if f.is_relation:
            kind.append((f.name, None if value is None else getattr(getattr(row, f.name), "status", "set")))
        elif f.choices or isinstance(f, BooleanField):
            kind.append((f.name, value))
        elif f.null or f.blank:
            kind.append((f.name, value in (None, "", [], {})))
    for rel in row._meta.related_objects:
        if not rel.many_to_many:
            kind.append((rel.get_accessor_name(),
                         rel.related_model._base_manager.filter(**{rel.field.name: row}).exists()))
    return tuple(kind)


def is_owned(model: type[Model]) -> bool:
    return model._meta.concrete_model in OWNED_BY_WORKSPACE


def ids_of(side: Side) -> dict[str, set[str]]:
    """Every row of the side, by table: primary keys as text."""
    return {model._meta.db_table: {str(pk) for pk in rows_of(model, side.workspace).values_list("pk", flat=True)}
            for model in OWNED_BY_WORKSPACE}


# --- what the database holds ----------------------------------------------------------------

# The session row changes with every message a page queues; nothing else may.
UNWATCHED = {Session._meta.db_table}


def watched_tables() -> list[str]:
    return sorted(set(connection.introspection.table_names()) - UNWATCHED)


def writes(tables: list[str]) -> int | None:
    """Rows the transaction wrote so far to the tables, as PostgreSQL counts
    them (None elsewhere): one cheap query tells whether a request wrote at
    all; only then is every table read to see what changed."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT sum(pg_stat_get_xact_tuples_inserted(t::regclass) + "
                       "pg_stat_get_xact_tuples_updated(t::regclass) + pg_stat_get_xact_tuples_deleted(t::regclass)) "
                       "FROM unnest(%s::text[]) t", [tables])
        return int(cursor.fetchone()[0])


def table_rows(tables: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """Every row of the tables, as column → value."""
    quote = connection.ops.quote_name
    found = {}
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"SELECT * FROM {quote(table)}")
            columns = [column[0] for column in cursor.description]
            found[table] = [dict(zip(columns, row)) for row in cursor.fetchall()]
    return found


MODELS_BY_TABLE = {model._meta.db_table: model for model in apps.get_models(include_auto_created=True)}


@dataclass(frozen=True)
class Change:
    table: str
    pk: str
    what: str
    # It is a row of A, or points to one.
    theirs: bool

    def __str__(self) -> str:
        return f"{self.table} {self.pk}: {self.what}" + (" (workspace A's)" if self.theirs else "")


def row_changes(before: dict[str, list[dict]], after: dict[str, list[dict]], theirs: dict[str, set[str]],
                ) -> list[Change]:
    """Every row added, removed or changed between two readings of the same tables."""
    found = []
    for table in before:
        model = MODELS_BY_TABLE.get(table)
        pk_name = model._meta.pk.column if model else "id"
        old = {str(row.get(pk_name)): row for row in before[table]}
        new = {str(row.get(pk_name)): row for row in after[table]}
        for pk in sorted(old.keys() | new.keys()):
            row = new.get(pk) or old[pk]
            if pk not in new:
                what = "removed"
            elif pk not in old:
                what = "added " + _short(new[pk])
            elif old[pk] != new[pk]:
                what = "changed " + ", ".join(f"{k}: {_short(old[pk].get(k))} → {_short(v)}"
                                              for k, v in new[pk].items() if old[pk].get(k) != v)
            else:
                continue
            found.append(Change(table, pk, what, _is_theirs(model, table, pk, row, theirs)))
    return found


def _is_theirs(model: type[Model] | None, table: str, pk: str, row: dict, theirs: dict[str, set[str]]) -> bool:
    if pk in theirs.get(table, ()):
        return True
    if model is None:
        return False
    for f in model._meta.concrete_fields:
        if f.is_relation and f.related_model is not None:
            value = row.get(f.column)
            if value is not None and str(value) in theirs.get(f.related_model._meta.db_table, ()):
                return True
    return False


def _short(value: Any, limit: int = 70) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


# --- one request ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One request as a browser makes it, by a person of B (by role), or by
    the superuser ("root") for the controls. ``what`` names the route or
    action for the counts; ``first`` is a step before it on the same
    client whose changes are not judged (starting a link before its
    callback); ``echo`` are strings of A the request itself carries, which
    the answer may repeat."""

    role: str
    method: str
    path: str
    what: str
    data: dict[str, Any] | None = None
    first: Call | None = None
    echo: tuple[str, ...] = ()

    def __repr__(self) -> str:
        data = "" if self.data is None else " " + _short({k: v for k, v in self.data.items()
                                                          if k != "csrfmiddlewaretoken"}, 300)
        before = f"after {self.first!r}; " if self.first else ""
        return f"{before}{self.role}: {self.method} {self.path}{data}"


@dataclass
class Answer:
    call: Call
    status: int = 0
    body: str = ""
    # Where a redirect led, and what that page showed.
    landed: str = ""
    messages: list[tuple[int, str]] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    # PostgreSQL counted a write (the rows may have been written as they were).
    wrote: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        """How the answer refused (or did not), for the counts."""
        if self.status >= 500:
            return "500"
        if self.status >= 400:
            return str(self.status)
        if 300 <= self.status < 400:
            return "redirect"
        if any(level >= message_levels.WARNING for level, _ in self.messages) or 'class="errornote' in self.body \
                or 'class="errorlist' in self.body:
            return "200 with a warning or error"
        return "200"


class Probe:
    """Makes calls, each in a savepoint rolled back afterwards, so every call
    meets the same world, and checks each answer: no 500, no mark of A in
    the answer or in the page a redirect leads to, and nothing changed
    (``strict``: nothing at all; otherwise nothing of A's)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.tables = watched_tables()
        self.quoted = [connection.ops.quote_name(table) for table in self.tables]
        # Paths whose answers are judged on their own: a redirect to one is not followed.
        self.judged: set[str] = set()
        self.theirs = ids_of(world.a)
        self.clients: dict[str, Client] = {}
        self.sessions: dict[str, str] = {}
        for role, person in [*world.people.items(), ("root", world.root)]:
            client = Client(raise_request_exception=False)
            client.force_login(person)
            self.clients[role] = client
            self.sessions[role] = client.cookies[settings.SESSION_COOKIE_NAME].value
        self.landed: set[tuple[str, str]] = set()
        self.counts: Counter[str] = Counter()
        self.seconds: Counter[str] = Counter()
        self.kinds: Counter[str] = Counter()
        self.answered: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.failures: list[str] = []

    def client(self, role: str) -> Client:
        """The person's browser, signed in, without cookies a former call left."""
        client = self.clients[role]
        client.cookies = SimpleCookie({settings.SESSION_COOKIE_NAME: self.sessions[role]})
        return client

    def run(self, call: Call, *, strict: bool = True, then: Callable[[Answer], None] | None = None) -> Answer:
        """Make the call and judge it. ``then`` runs inside the savepoint after
        the answer (a worker's part of the work, say), before the tables are read again."""
        started = monotonic()
        answer = self._isolated(call, then=then, detail=False)
        if answer.wrote:
            # Again, with every table read row by row, to say what changed (if anything did).
            answer = self._isolated(call, then=then, detail=True)
        if call.role != "root":
            self.counts[call.what] += 1
            self.kinds[answer.kind] += 1
            self.answered[answer.kind][call.what] += 1
            self._judge(answer, strict=strict)
            if answer.problems:
                self.failures.append(f"{call!r}\n  → {answer.status}: " + "\n  ".join(answer.problems))
        self.seconds[call.what] += monotonic() - started
        return answer

    def _isolated(self, call: Call, *, then: Callable[[Answer], None] | None, detail: bool) -> Answer:
        with transaction.atomic():
            try:
                return self._run(call, then=then, detail=detail)
            finally:
                transaction.set_rollback(True)

    def _run(self, call: Call, *, then, detail: bool) -> Answer:
        client = self.client(call.role)
        answer = Answer(call)
        if call.first is not None:
            self._send(client, call.first)
        written = writes(self.quoted)
        # Without PostgreSQL's counts, every table is read before and after.
        rows_before = table_rows(self.tables) if detail or written is None else {}
        response = self._send(client, call)
        answer.status = response.status_code
        answer.messages = messages_of(response)
        try:
            answer.body = read_body(response)
        except Exception as error:  # a stream that breaks while it is read
            answer.status = 500
            answer.problems.append(f"the answer broke while being read: {explain(error)}")
        if response.status_code >= 500 or getattr(response, "exc_info", None):
            answer.status = max(answer.status, 500)
            answer.problems.append(f"answered {response.status_code}: {_origin(response)}")
        location = response.get("Location", "") if 300 <= response.status_code < 400 else ""
        if location and not urlsplit(location).netloc:
            self._land(client, call, location, answer)
        if then is not None:
            then(answer)
        if rows_before:
            answer.changes = row_changes(rows_before, table_rows(self.tables), self.theirs)
        else:
            # It wrote: the caller makes it again, reading every row.
            answer.wrote = writes(self.quoted) != written
        return answer

    def _land(self, client: Client, call: Call, location: str, answer: Answer) -> None:
        """The page a redirect leads to, as the browser shows it. A refusal
        leads to the same page again and again (the index, a list): after
        its first visit only the messages it carries are new, and are read
        from the answer itself; so too for a page judged on its own."""
        key = (call.role, location)
        if key in self.landed or urlsplit(location).path in self.judged:
            answer.landed = " ".join(text for _, text in answer.messages)
            return
        landed = client.get(location)
        answer.landed = read_body(landed)
        if landed.status_code >= 500:
            answer.problems.append(f"its redirect to {location} answered {landed.status_code}: {_origin(landed)}")
        self.landed.add(key)

    def _send(self, client: Client, call: Call) -> HttpResponse:
        if call.method == "GET":
            return client.get(call.path, call.data or {})
        return client.post(call.path, _fresh(call.data or {}))

    def _judge(self, answer: Answer, *, strict: bool) -> None:
        call = answer.call
        for where, text in (("the answer", answer.body), ("the page it redirected to", answer.landed)):
            shown = _without(text.lower(), [e.lower() for e in call.echo])
            if MARK_A in shown:
                at = shown.index(MARK_A)
                answer.problems.append(f"{where} shows workspace A's data: …{shown[max(0, at - 150):at + 80]!r}…")
        changes = answer.changes if strict else [c for c in answer.changes if c.theirs]
        if changes:
            answer.problems.append(("changed " if strict else "changed workspace A's ")
                                   + "; ".join(str(c) for c in changes[:6]))


def _fresh(data: dict[str, Any]) -> dict[str, Any]:
    """Uploads are read by a request: each request gets its own."""
    return {name: value.file() if isinstance(value, Upload) else value for name, value in data.items()}


def _without(text: str, echoes: list[str]) -> str:
    for echo in echoes:
        text = text.replace(echo, "")
    return text


def _origin(response: HttpResponse) -> str:
    exc_info = getattr(response, "exc_info", None)
    return explain(exc_info[1]) if exc_info else response.content[:500].decode("utf-8", "replace")
