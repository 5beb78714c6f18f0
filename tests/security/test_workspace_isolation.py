"""No cross-workspace reach: a person of one workspace can neither see nor
touch anything of another, over every URL and every admin action.

The table is found, not listed: every route of the URL configuration that
takes an id (the admins' change, delete and history pages and their own
pages: the queue, import progress; view-on-site; uploaded files; the
invitation link) is filled in with workspace A's rows of its model, one of
each kind (``isolation_support.row_kind``: another status, a thread part, a
disconnected account's post; another row of a kind already there is the
same page of another id), and every action of every registered ModelAdmin
is posted on its list with A's rows selected (and, where the action asks
first, with the confirmation its page sends). A route or admin added later is walked without a change
here; one whose rows the test cannot place in a workspace stops the test
until ``isolation_support.OWNED_BY_WORKSPACE`` (or ``SHARED``) says how.

Each request is made by each member of workspace B in turn (owner, admin,
editor, viewer: staff, B their current workspace, not members of A), GET and
POST (the form a real page of A's object sends, taken from the superuser's
page: the change form with the current values, the delete confirmation's
``post=yes``, the queue's buttons), in a savepoint rolled back afterwards,
every table compared before and after. An answer passes when it is no 500,
shows nothing of A (A's mark is in every text, name, handle and file of A)
in itself or in the page a redirect leads to, and changed nothing. How each
refused (403, 404, a redirect, an error) is counted and printed, with what
answered a plain 200 (nothing shown, nothing changed, but no refusal said).

Beside the table: B's lists, searches, filters, autocompletes, dashboard,
calendar and CSV export show none of A's rows; forms of B's own pages refuse
A's ids put in their fields (accounts, posts, inline rows, members, the
workspace switcher); the CSV import refuses rows naming A's accounts or A's
stored files; the link callbacks refuse A's attempts; and the checks
themselves are shown to see a leak and a change.

Controls keep a broken discovery from passing: the superuser opens A's pages
and sends the same forms and actions, which do change things; B's people see
B's data on the same lists; the rows tried cover every status of A's posts
and accounts; and the counts must reach a floor.

The table with every one of A's rows, not one of each kind (the repeated
ones too: the queued posts, the budgets, the access log's rows):

    ISOLATION_ALL_ROWS=1 pytest tests/security/test_workspace_isolation.py -q
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from time import monotonic

import pytest
import requests
from django.contrib import admin
from django.contrib.admin.utils import get_fields_from_path
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import FileField, ForeignKey, Model, QuerySet
from django.test import RequestFactory, override_settings
from django.urls import resolve, reverse
from django.utils import timezone

from accounts.models import Invitation, User, Workspace, XAccount
from bots.models import Bot, ImportJob, Post, PostMedia
from bots.planning import tasks
from tests.bots.csv_support import HEADER, csv_bytes
from tests.conftest import TEST_CALLBACKS, register_callbacks
from tests.reliability.admin_surface import (
    Route,
    Upload,
    project_routes,
    quiet_loggers,
    read_page,
    submitted,
    tell,
    without_query,
)

from .isolation_support import (
    MARK_A,
    MARK_B,
    OWNED_BY_WORKSPACE,
    ROLES,
    WORD_A,
    Answer,
    Call,
    Probe,
    World,
    build_world,
    is_owned,
    of_each_kind,
    rows_of,
)

# The module's world is in the test database, and each test in a savepoint of it.
pytestmark = pytest.mark.django_db

# The id-taking URLs with every one of A's rows, not one of each kind.
ALL_ROWS = os.environ.get("ISOLATION_ALL_ROWS", "") not in ("", "0")

# The health check: no one's data.
SKIPPED_ROUTES = ("healthz",)
# A POST for a page the superuser is shown no form on: a delete's confirmation.
FALLBACK_POST = {"post": "yes"}
# Floors: fewer means the discovery broke, not that the site got safer.
MIN_ID_ROUTES = 60
# URLs with one row of each kind (210 today; 263 with ISOLATION_ALL_ROWS=1).
MIN_ID_PATHS = 120
MIN_ACTIONS = 15
# Field names that hold a row's id, and the model whose rows they name.
REFERENCES: dict[str, type[Model]] = {
    "account": XAccount, "workspace": Workspace, "post": Post, "parent": Post, "bot": Bot, "user": User,
    "created_by": User, "invited_by": User, "actor": User,
}
INLINE_FIELD = re.compile(r"(?P<prefix>\w+?)-(?P<row>\d+)-(?P<name>\w+)")
SELECTED = re.compile(r'name="_selected_action" value="([^"]+)"')


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, sandbox_url, redis_url, tmp_path_factory) -> Iterator[World]:
    """One world for the module, built in a transaction rolled back at its
    end: every request of every test runs in a savepoint of it, rolled back
    too, so each meets the world as built."""
    restore = quiet_loggers()
    requests.post(f"{sandbox_url}/_sandbox/reset", timeout=10).raise_for_status()
    register_callbacks(sandbox_url, *TEST_CALLBACKS)
    settings = override_settings(
        MEDIA_ROOT=tmp_path_factory.mktemp("media"), X_API_BASE=sandbox_url,
        # The password forms check a password on every try: a slow hash would spend the minutes there.
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
    try:
        with django_db_blocker.unblock(), settings, transaction.atomic():
            yield build_world(sandbox_url)
            transaction.set_rollback(True)
    finally:
        restore()


@pytest.fixture
def probe(world) -> Probe:
    return Probe(world)


def failures(probe: Probe, shown: int = 30) -> str:
    more = len(probe.failures) - shown
    return (f"{len(probe.failures)} requests reached across workspaces or broke:\n\n"
            + "\n\n".join(probe.failures[:shown]) + (f"\n\n… and {more} more" if more > 0 else ""))


def slowest(probe: Probe) -> str:
    return ", ".join(f"{what} {seconds:.0f} s" for what, seconds in probe.seconds.most_common(3))


def kinds(probe: Probe) -> str:
    """How the answers refused, and what answered a plain 200 (showing
    nothing of A and changing nothing, but saying no refusal either)."""
    plain = ", ".join(sorted(probe.answered["200"]))
    return ", ".join(f"{kind} {count}" for kind, count in probe.kinds.most_common()) + (
        f" (a plain 200 from: {plain})" if plain else "")


# --- the routes -----------------------------------------------------------------------------


def id_routes() -> list[Route]:
    """Every route that names a row: all with a placeholder but the admin's
    catch-all (any other path under /admin/, which names nothing)."""
    return [route for route in project_routes(skip=SKIPPED_ROUTES)
            if route.placeholders and set(route.placeholders) != {"url"}]


def label(route: Route) -> str:
    return route.name or route.route


def paths_for(route: Route, workspace: Workspace, *, limit: int | None = None, each_kind: bool = False,
              ) -> list[str]:
    """The route filled in with the workspace's rows of its model: every
    row, or the first ``limit``, or (``each_kind``) the first of each kind;
    for view-on-site, the first row of each model the workspace has; for the
    invitation link, its invitations' tokens; for files, the stored files."""
    names = set(route.placeholders)
    if names == {"content_type_id", "object_id"}:
        paths = []
        for model in OWNED_BY_WORKSPACE:
            first = rows_of(model, workspace).first()
            if first is not None:
                kind = ContentType.objects.get_for_model(model)
                paths.append(route.fill(content_type_id=str(kind.pk), object_id=str(first.pk)))
        return paths[:limit]
    if names == {"token"}:
        invitations = rows_of(Invitation, workspace)
        tokens = (of_each_kind(invitations) if each_kind else invitations).values_list("token", flat=True)
        return [route.fill(token=token) for token in tokens[:limit]]
    if route.model is None and len(names) == 1 and names <= {"name", "path"}:
        # A file's route: the workspace's stored files (media, imports).
        (name,) = names
        return [route.fill(**{name: stored}) for stored in files_of(workspace, each_kind=each_kind)[:limit]]
    if len(names) == 1 and route.model is not None:
        (name,) = names
        rows = rows_of(route.model, workspace)
        pks = (of_each_kind(rows) if each_kind else rows).values_list("pk", flat=True)
        return [route.fill(**{name: str(pk)}) for pk in list(pks)[:limit]]
    raise AssertionError(f"The isolation test does not know what to put in {route.route!r} ({route.name}): "
                         "teach paths_for which rows it names.")


def files_of(workspace: Workspace, *, each_kind: bool = False) -> list[str]:
    """The names of the workspace's stored files, of every model with a file
    field (``each_kind``: those of its first row of each kind)."""
    return [stored for model in OWNED_BY_WORKSPACE for f in model._meta.concrete_fields if isinstance(f, FileField)
            for stored in (of_each_kind(rows_of(model, workspace)) if each_kind else rows_of(model, workspace))
            .values_list(f.name, flat=True) if stored]


def shape(data: dict) -> tuple[str, ...]:
    return tuple(sorted(re.sub(r"\d+", "N", name) for name in data))


def forms_shown(probe: Probe, role: str, pages: dict[Route, list[str]]) -> tuple[dict[str, list[dict]], set[str]]:
    """GET the pages as ``role``: the POST forms they show, by the path
    they post to (only forms posting to one of the pages), and the pages
    that opened. A route whose first page shows no such form is not asked
    for its other pages: they are the same page of another row."""
    wanted = {path for paths in pages.values() for path in paths}
    found: dict[str, dict[tuple, dict]] = {}
    opened = set()
    for paths in pages.values():
        for n, path in enumerate(paths):
            answer = probe.run(Call(role, "GET", path, "crawl"))
            if answer.status == 200:
                opened.add(path)
            forms = [form for form in read_page(path, answer.body).forms
                     if without_query(form.action) in wanted] if answer.status == 200 else []
            for form in forms:
                data = submitted(form, first_button=True)
                found.setdefault(without_query(form.action), {}).setdefault(shape(data), data)
            if n == 0 and not forms:
                break
    return {path: list(forms.values()) for path, forms in found.items()}, opened


def echo_of(route: Route, path: str) -> tuple[str, ...]:
    """What of A the request itself carries: an invitation's link (a secret
    its holder was given) may say whom it is for."""
    if set(route.placeholders) == {"token"}:
        token = path.rstrip("/").rsplit("/", 1)[-1]
        return tuple(Invitation.objects.filter(token=token).values_list("invitee", flat=True))
    return ()


def tried(pages: dict[Route, list[str]], name: str) -> QuerySet:
    """The rows whose pages of the route named ``name`` the table tries."""
    route = next(route for route in pages if label(route) == name)
    (key,) = route.placeholders
    return route.model._default_manager.filter(pk__in=[resolve(path).kwargs[key] for path in pages[route]])


# --- the table: every id-taking URL ---------------------------------------------------------


def test_every_id_taking_url_refuses_every_role_of_another_workspace(world: World, probe: Probe,
                                                                     request: pytest.FixtureRequest):
    started = monotonic()
    routes = id_routes()
    pages = {route: paths_for(route, world.a.workspace, each_kind=not ALL_ROWS) for route in routes}
    probe.judged = {path for paths in pages.values() for path in paths}
    forms, opened = forms_shown(probe, "root", pages)

    controls: Counter[str] = Counter()
    posts = 0
    done = set()
    for route, paths in pages.items():
        controlled = False
        for path in paths:
            if path in done:
                continue
            done.add(path)
            bodies = forms.get(path) or [FALLBACK_POST]
            echo = echo_of(route, path)
            for role in ROLES:
                probe.run(Call(role, "GET", path, label(route), echo=echo))
                for data in bodies:
                    probe.run(Call(role, "POST", path, label(route), data=data, echo=echo))
                    posts += 1
            # The control: the superuser, sending a route's first real form, changes something.
            if not controlled and path in forms:
                controlled = True
                if any(probe.run(Call("root", "POST", path, label(route), data=data)).changes for data in bodies):
                    controls[label(route)] += 1

    with_rows = [route for route, paths in pages.items() if paths]
    every_row = len({path for route in routes for path in paths_for(route, world.a.workspace)})
    trimmed = "every row" if ALL_ROWS else f"one row of each kind; {every_row} with every row, ISOLATION_ALL_ROWS=1"
    tell(request, "workspace isolation",
         f"workspace isolation, id-taking URLs: {len(routes)} routes ({len(with_rows)} with rows of "
         f"workspace A), {len(done)} URLs ({trimmed}) × {len(ROLES)} roles × GET and POST "
         f"({sum(probe.counts.values())} requests, {posts} POSTs; {sum(len(f) for f in forms.values())} "
         f"forms taken from the superuser's pages, {len(opened)} of A's pages opened by the superuser); "
         f"answers: {kinds(probe)}; the superuser's same POSTs changed data on {len(controls)} routes; "
         f"{monotonic() - started:.0f} s; slowest: {slowest(probe)}")

    assert not probe.failures, failures(probe)
    assert len(routes) >= MIN_ID_ROUTES, [label(route) for route in routes]
    assert len(done) >= MIN_ID_PATHS, len(done)
    # The pages exist and the forms are real: the superuser opens A's pages,
    # and the same POSTs, sent by someone allowed, change what they are for.
    names = {label(route) for route in with_rows}
    assert {"admin:bots_post_change", "admin:bots_post_delete", "admin:bots_postingqueue_queue",
            "admin:bots_importjob_progress", "admin:accounts_xaccount_change", "admin:view_on_site",
            "accounts:invitation", "media"} <= names, sorted(names)
    # Kinds, not rows, were trimmed: the posts tried are in every status A's
    # posts are, with a thread, a part of it and a poll; the accounts tried
    # in every status A's accounts are. The superuser opens each post tried.
    posts_tried, accounts_tried = tried(pages, "admin:bots_post_change"), tried(pages, "admin:accounts_xaccount_change")
    a_posts = Post.objects.filter(account__workspace=world.a.workspace)
    a_accounts = XAccount.objects.filter(workspace=world.a.workspace)
    assert set(posts_tried.values_list("status", flat=True)) == set(a_posts.values_list("status", flat=True))
    assert all(posts.exists() for posts in (posts_tried.exclude(parts=None), posts_tried.exclude(parent=None),
                                            posts_tried.exclude(poll_options=[]))), list(posts_tried)
    assert set(accounts_tried.values_list("status", flat=True)) == set(a_accounts.values_list("status", flat=True))
    assert {reverse("admin:bots_post_change", args=[post.pk]) for post in posts_tried.filter(parent=None)} <= opened
    assert {"admin:bots_post_change", "admin:bots_post_delete", "admin:bots_bot_change",
            "admin:bots_bot_delete", "admin:bots_postingqueue_move"} <= set(controls), controls


# --- the table: every admin action ----------------------------------------------------------


def admin_actions(root: User) -> list[tuple[type[Model], admin.ModelAdmin, str]]:
    """Every action of every registered ModelAdmin, as offered to a superuser
    (who is offered every one a role may be)."""
    asking = RequestFactory().get("/admin/")
    asking.user = root
    return [(model, model_admin, name) for model, model_admin in admin.site._registry.items()
            for name in model_admin.get_actions(asking)]


def confirmation(probe: Probe, changelist: str, answer: Answer) -> dict | None:
    """The form of an action's page that asks before it acts (delete,
    reject, delete for good), as a person sends it: its button, and words in
    the text boxes left empty (a reason)."""
    if answer.status != 200 or "<form" not in answer.body:
        return None
    for form in read_page(changelist, answer.body).forms:
        if without_query(form.action) == changelist and any(f.name == "action" for f in form.fields):
            data = submitted(form, first_button=True)
            for f in form.fields:
                if f.kind in ("text", "textarea") and not data.get(f.name):
                    data[f.name] = "Not for this account."
            return data
    return None


def test_every_admin_action_refuses_another_workspaces_rows(world: World, probe: Probe,
                                                            request: pytest.FixtureRequest):
    started = monotonic()
    actions = admin_actions(world.root)
    controls: Counter[str] = Counter()
    confirmed = []
    selected_rows = 0
    skipped = []
    for model, model_admin, name in actions:
        ids = [str(pk) for pk in rows_of(model, world.a.workspace).values_list("pk", flat=True)]
        if not ids:
            skipped.append(f"{model.__name__}.{name}")
            continue
        selected_rows += len(ids)
        changelist = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        data = {"action": name, "_selected_action": ids, "index": "0", "post": "yes"}
        what = f"{model.__name__}.{name}"
        bodies = [data]
        # The control: the superuser's same request does something, or shows
        # the page that asks first, whose form is then sent too. Only the
        # platform's own admins: third-party actions may send work to Celery.
        if is_owned(model) and type(model_admin).__module__.split(".")[0] in ("accounts", "bots"):
            answer = probe.run(Call("root", "POST", changelist, what, data=data))
            asked = confirmation(probe, changelist, answer)
            if asked is not None:
                confirmed.append(what)
                bodies.append(asked)
                answer = probe.run(Call("root", "POST", changelist, what, data=asked))
            if answer.changes:
                controls[what] += 1
        for role in ROLES:
            for body in bodies:
                probe.run(Call(role, "POST", changelist, what, data=body))

    tell(request, "workspace isolation",
         f"workspace isolation, admin actions: {len(actions)} actions of {len(admin.site._registry)} "
         f"ModelAdmins × {len(ROLES)} roles, {selected_rows} of workspace A's rows selected, the "
         f"confirmation pages' forms sent too ({', '.join(confirmed)}) ({sum(probe.counts.values())} "
         f"requests; no rows to select for {', '.join(skipped) or 'none'}); answers: {kinds(probe)}; the "
         f"superuser's same requests changed data for {', '.join(sorted(controls))}; "
         f"{monotonic() - started:.0f} s")

    assert not probe.failures, failures(probe)
    assert len(actions) - len(skipped) >= MIN_ACTIONS, [what for *_, what in actions]
    assert {"Post.cancel", "Post.duplicate", "Bot.disable_bots", "Bot.delete_selected"} <= set(controls), controls


# --- lists, searches, filters, autocompletes, dashboard, calendar, export -------------------


def list_queries(route: Route, world: World) -> list[dict[str, str]]:
    """The list plain, searched for A's word, and filtered by one of A's
    rows in each of its filters by a foreign key (as the filter's links name
    them)."""
    queries: list[dict[str, str]] = [{}, {"q": WORD_A}]
    # The export takes the post list's query string.
    model = Post if route.name == "admin:bots_post_export" else route.model
    if model in admin.site._registry:
        for entry in admin.site._registry[model].list_filter:
            name = entry[0] if isinstance(entry, (tuple, list)) else entry
            f = get_fields_from_path(model, name)[-1] if isinstance(name, str) else None
            if isinstance(f, ForeignKey) and is_owned(f.related_model):
                pk = rows_of(f.related_model, world.a.workspace).values_list("pk", flat=True).first()
                queries.append({f"{name}__{f.target_field.name}__exact": str(pk)})
    if route.name == "admin:bots_postcalendar_changelist":
        # The week and month of A's posts, of each of A's accounts and of all.
        post = Post.objects.filter(account__workspace=world.a.workspace).exclude(scheduled_at=None).first()
        day = timezone.localdate(post.scheduled_at).isoformat()
        queries += [{"view": "month", "day": day, "account": str(account.pk)} for account in world.a.accounts]
        queries += [{"view": "week", "day": day, "account": str(world.a.accounts[0].pk)}, {"view": "week", "day": day}]
    return queries


def test_lists_searches_dashboard_calendar_export_and_autocompletes_show_nothing_of_another_workspace(
        world: World, probe: Probe, request: pytest.FixtureRequest):
    started = monotonic()
    theirs = probe.theirs
    lists = [route for route in project_routes(skip=SKIPPED_ROUTES)
             if not route.placeholders and (route.name.endswith(("_changelist", "_export"))
                                           or route.name in ("admin:index", "admin:app_list"))]
    seen_mine: Counter[str] = Counter()
    for route in lists:
        path = route.fill()
        table = route.model._meta.concrete_model._meta.db_table if route.model else ""
        for query in list_queries(route, world):
            for role in ROLES:
                answer = probe.run(Call(role, "GET", path, label(route), data=query))
                listed = set(SELECTED.findall(answer.body)) & theirs.get(table, set())
                if listed:
                    probe.failures.append(f"{role}: GET {path} {query}\n  lists workspace A's rows {sorted(listed)}")
                if not query and MARK_B in answer.body.lower():
                    seen_mine[label(route)] += 1
    root_sees = probe.run(Call("root", "GET", reverse("admin:bots_post_changelist"), "control"))

    autocompletes = 0
    for source, source_admin in admin.site._registry.items():
        for f in source._meta.get_fields():
            if isinstance(f, ForeignKey) and f.related_model in admin.site._registry:
                autocompletes += 1
                query = {"app_label": source._meta.app_label, "model_name": source._meta.model_name,
                         "field_name": f.name, "term": WORD_A}
                for role in ROLES:
                    probe.run(Call(role, "GET", reverse("admin:autocomplete"), "autocomplete", data=query))

    tell(request, "workspace isolation",
         f"workspace isolation, lists: {len(lists)} lists (changelists, the dashboard on the index, "
         f"the calendar, the CSV export), {autocompletes} autocomplete fields × {len(ROLES)} roles "
         f"({sum(probe.counts.values())} requests); answers: {kinds(probe)}; {monotonic() - started:.0f} s")

    assert not probe.failures, failures(probe)
    # The eyes see: the superuser's list shows A's posts, and each of B's
    # people sees B's own on the post list, the calendar and the dashboard.
    assert MARK_A in root_sees.body.lower()
    for name in ("admin:bots_post_changelist", "admin:bots_postcalendar_changelist", "admin:index",
                 "admin:bots_post_export"):
        assert seen_mine[name] == len(ROLES), (name, seen_mine)
    assert len(lists) >= 12 and autocompletes >= 10, (len(lists), autocompletes)


# --- B's own forms, with A's ids in them ----------------------------------------------------


def inline_models(root: User) -> dict[str, type[Model]]:
    """Each inline's formset prefix (``parts``, ``media``, ``items``…) and its model."""
    asking = RequestFactory().get("/admin/")
    asking.user = root
    found = {}
    for model, model_admin in admin.site._registry.items():
        for inline_class in model_admin.inlines:
            inline = inline_class(model, admin.site)
            found[inline.get_formset(asking).get_default_prefix()] = inline.model
    return found


def reference_of(name: str, inlines: dict[str, type[Model]]) -> type[Model] | None:
    match = INLINE_FIELD.fullmatch(name)
    if match:
        if match["name"] == "id":
            return inlines.get(match["prefix"])
        return REFERENCES.get(match["name"])
    return REFERENCES.get(name)


def test_forms_of_ones_own_pages_refuse_another_workspaces_ids(world: World, probe: Probe,
                                                               request: pytest.FixtureRequest):
    """Every POST form B's owner is shown (add pages, B's own objects' pages
    with their inline rows, the queue's buttons, the workspace switcher),
    sent by each of B's people with one of A's rows in a field that names a
    row (each kind of field once, with A's first row of its model): nothing
    of A changes or shows. B's own rows may change: the form is theirs."""
    started = monotonic()
    inlines = inline_models(world.root)
    pages = []
    for route in project_routes(skip=SKIPPED_ROUTES):
        if not route.placeholders:
            pages.append(route.fill())
        elif route.model is not None:
            pages += paths_for(route, world.b.workspace, limit=1)
    # A thread of B's, whose page has thread parts and media rows.
    pages += [reverse("admin:bots_post_change", args=[post.pk]) for post in Post.objects.filter(
        account__workspace=world.b.workspace, parent=None).exclude(parts=None).exclude(media=None)[:1]]
    forms: dict[tuple, tuple[str, dict]] = {}
    for page in dict.fromkeys(pages):
        answer = probe.run(Call("owner", "GET", page, "B's own pages"))
        if answer.status != 200 or "<form" not in answer.body:
            continue
        for form in read_page(page, answer.body).forms:
            data = submitted(form, first_button=True)
            target = without_query(form.action)
            if target != reverse("admin:logout"):
                forms.setdefault((re.sub(r"\d+", "N", target), shape(data)), (form.action, data))

    sent: Counter[str] = Counter()
    for action, data in forms.values():
        kinds_sent = set()
        for name in data:
            model = reference_of(name, inlines)
            kind = re.sub(r"\d+", "N", name)
            first = rows_of(model, world.a.workspace).values_list("pk", flat=True).first() if model else None
            if first is None or kind in kinds_sent:
                continue
            kinds_sent.add(kind)
            for role in ROLES:
                probe.run(Call(role, "POST", action, f"{without_query(action)} {name}",
                               data={**data, name: str(first)}), strict=False)
            sent[kind] += 1

    tell(request, "workspace isolation",
         f"workspace isolation, B's own forms: {len(forms)} forms shown to B's owner, sent by "
         f"{len(ROLES)} roles with one of A's ids in each field that names a row ({dict(sent)}; "
         f"{sum(probe.counts.values())} requests); answers: {kinds(probe)}; {monotonic() - started:.0f} s")

    assert not probe.failures, failures(probe)
    assert {"account", "workspace", "post", "parts-N-id", "media-N-id", "items-N-id",
            "posting_slots-N-id", "memberships-N-id"} <= set(sent), sent


# --- the CSV import -------------------------------------------------------------------------


def import_then_check(probe: Probe, person: User, rows: int, column: str, named: tuple[str, ...]):
    """After the upload, the worker's part (the task, run here in the
    savepoint), then: the job was refused, with a problem in ``column`` on
    every row; no post outside A holds a file of A's; and the report names
    none of A's accounts but those the file itself ``named``."""

    earlier = ImportJob.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    def check(answer: Answer) -> None:
        job = ImportJob.objects.filter(created_by=person, pk__gt=earlier).first()
        if job is None or job.workspace_id == probe.world.a.workspace.pk:
            answer.problems.append(f"the upload made no import in B: {job}")
            return
        tasks.import_posts_csv(job.pk)
        job.refresh_from_db()
        taken = PostMedia.objects.filter(file__in=named).exclude(post__account__workspace=probe.world.a.workspace)
        for media in taken.select_related("post__account"):
            answer.problems.append(f"workspace A's stored file {media.file.name} is now also media {media.pk} of "
                                   f"post {media.post_id} on @{media.post.account.username} (workspace "
                                   f"{media.post.account.workspace_id})")
        flagged = {problem["row"] for problem in job.report if problem.get("column") == column}
        if job.status != ImportJob.Status.REFUSED or flagged != set(range(2, rows + 2)):
            answer.problems.append(f"the import was not refused row by row ({job.status}, {job.created_posts} "
                                   f"posts made): {job.report}")
        for account in probe.world.a.accounts:
            if account.username in str(job.report) and account.username not in named:
                answer.problems.append(f"the report names workspace A's @{account.username}: {job.report}")

    return check


def test_the_csv_import_refuses_rows_naming_another_workspaces_accounts_or_files(world: World, probe: Probe,
                                                                                 request: pytest.FixtureRequest):
    later = (timezone.now() + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:00Z")
    handles = tuple(account.username for account in world.a.accounts)
    # Each of A's accounts (in every status), as @name, as a bare name, in capitals, in a thread.
    naming_a = [[f"@{handle}", f"Posted into A by B, {n}", later, "", ""] for n, handle in enumerate(handles)]
    naming_a += [[handles[0], "Also into A", later, "", ""],
                 [f"@{handles[0].upper()}", "A thread into A", later, "t1", ""],
                 [f"@{handles[0]}", "Its second part", "", "t1", ""]]
    a_files = files_of(world.a.workspace)
    b_news = world.b.accounts[0].username
    # A file of A's named in a post of B's own, one file an import.
    taking_a_files = [[[f"@{b_news}", "B's post with A's file", later, "", name]] for name in a_files]
    upload_page = reverse("admin:bots_importjob_add")
    for rows, column in ((naming_a, "account"), *((rows, "media") for rows in taking_a_files)):
        content = csv_bytes(rows, HEADER)
        for role in ROLES:
            person = world.people[role]
            echo = handles if column == "account" else (rows[0][-1],)
            check = import_then_check(probe, person, len(rows), column, echo)
            call = Call(role, "POST", upload_page, f"CSV import naming A's {column}s", echo=echo,
                        data={"file": Upload("posts.csv", content, "text/csv"), "time_zone": "UTC"})
            if role == "viewer":
                probe.run(call, strict=True)
            else:
                probe.run(call, strict=False, then=check)

    tell(request, "workspace isolation",
         f"workspace isolation, CSV import: {sum(probe.counts.values())} imports naming workspace A's "
         f"accounts or files; answers: {kinds(probe)}")
    assert not probe.failures, failures(probe)
    assert len(a_files) >= 3


# --- linking and two-factor sign-in: the person's own pages ---------------------------------


def test_link_callbacks_and_two_factor_pages_refuse_another_workspaces_attempts(world: World, probe: Probe):
    """X's callbacks carrying A's attempt (its state, its request token), with
    or without a link of one's own started in the browser, and the
    two-factor pages (A's editor has an app): nothing of A changes or shows."""
    a2, a1 = world.a.attempts["oauth2"], world.a.attempts["oauth1"]
    callbacks = [
        ("accounts:link_oauth2_callback", "accounts:link_oauth2", {"state": a2["state"], "code": "stolen"}),
        ("accounts:link_oauth2_callback", "accounts:link_oauth2", {"state": a2["state"], "error": "access_denied"}),
        ("accounts:link_oauth1_callback", "accounts:link_oauth1",
         {"oauth_token": a1["oauth_token"], "oauth_verifier": "123"}),
        ("accounts:link_oauth1_callback", "accounts:link_oauth1", {"denied": a1["oauth_token"]}),
    ]
    for role in ROLES:
        for callback, start, query in callbacks:
            for first in (None, Call(role, "POST", reverse(start), start)):
                probe.run(Call(role, "GET", reverse(callback), callback, data=query, first=first))
        for name in ("two_factor:setup", "two_factor:remove", "two_factor:verify"):
            probe.run(Call(role, "GET", reverse(name), name))
            probe.run(Call(role, "POST", reverse(name), name, data={"code": "123456"}))

    assert not probe.failures, failures(probe)
    assert sum(probe.counts.values()) == len(ROLES) * (len(callbacks) * 2 + 6)


# --- the checks themselves ------------------------------------------------------------------


def test_the_checks_see_a_leak_and_a_change(world: World, probe: Probe):
    """The test's own eyes: B's owner made a superuser is seen to reach A's
    post (its page shows A's mark, its deletion changes A's rows)."""
    post = Post.objects.filter(account__workspace=world.a.workspace, status=Post.Status.DRAFT).first()
    with transaction.atomic():
        User.objects.filter(pk=world.people["owner"].pk).update(is_superuser=True)
        page = probe.run(Call("owner", "GET", reverse("admin:bots_post_change", args=[post.pk]), "leak"))
        deleted = probe.run(Call("owner", "POST", reverse("admin:bots_post_delete", args=[post.pk]), "leak",
                                 data={"post": "yes"}))
        transaction.set_rollback(True)

    assert page.status == 200 and any("shows workspace A's data" in p for p in page.problems), page.problems
    assert any(f"bots_post {post.pk}: removed (workspace A's)" in p for p in deleted.problems), deleted.problems
    assert len(probe.failures) == 2
