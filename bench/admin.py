"""Scenario 7, admin: the pages people look at, at 10,000 and at 1,000,000 posts.

The run's 1,000 accounts get posts written with COPY: nine in ten published
over the past year, one in ten scheduled over the next three months, with
texts made of everyday words (one post in 500 has the common phrase the
search looks for, and the same 16 posts at both sizes a rare one); one busy
account has one post in twenty besides its share. The web process runs as the Procfile's does, gunicorn, with one worker;
the staff member who owns every account signs in through the admin's login
form, and each page is fetched three times, the best time kept.

The same page rendered in this process (Django's test client, signed in as
the same person) gives its number of queries and its slowest query, whose
EXPLAIN ANALYZE is kept. The CSV export of the scheduled posts (100,000 at a
million) is timed to its first byte, with the web worker's memory sampled
while it streams."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from urllib.parse import urlencode

import psutil
import requests
from django.db import connection, transaction
from django.urls import reverse

from bots.models import Post, PublishedTally
from bots.posting import tallies

from .harness import HarnessError
from .report import Results
from .world import World, clear_posts

PASSWORD = "bench-admin-password"  # nosec B105: a throwaway user of the benchmark's own database
PHRASE = "harbor lights"
# A phrase in the same 16 posts at both sizes (all among the first 1,000):
# the search's own growth with the table, its result unchanged.
RARE_PHRASE = "velvet compass"
WORDS = (
    "morning coffee launch update thread weekly recap new feature release notes team photo event ticket sale "
    "reminder webinar podcast episode blog post tip trick question answer poll result thank you community "
    "milestone roadmap sneak peek behind scenes quiet evening weekend plan city river market garden music"
).split()
PAGE_TARGET, SEARCH_TARGET, GROWTH_TARGET = 0.3, 0.5, 1.5
# The post list's page size (Django's default, which PostAdmin keeps).
PER_PAGE = 100
FIRST_BYTE_TARGET, EXPORT_MEMORY_TARGET = 1.0, 20 * 2**20


@dataclass(frozen=True)
class Page:
    name: str
    url: str
    target: float = PAGE_TARGET
    # Whether the page lists as much at both sizes, so that its growth is the
    # table's alone (a search whose matches grow a hundredfold lists more).
    same_listing: bool = True


@dataclass(frozen=True)
class Measured:
    seconds: float
    queries: int
    slowest: str
    plan: str


def text_of(n: int) -> str:
    words = [WORDS[(n * 7 + k * 13) % len(WORDS)] for k in range(5)]
    if n % 500 == 7:
        words.insert(2, PHRASE)
    if n % 64 == 5 and n < 1_000:
        words.insert(1, RARE_PHRASE)
    return f"{' '.join(words)} #{n % 97} {n}"


def copy_posts(world: World, owner_id: int, count: int, *, offset: int, now: datetime) -> None:
    """``count`` posts numbered from ``offset``: one in ten scheduled over the
    next 90 days, the others published over the past 365."""
    template = Post(account_id=world.accounts[0].pk, created_by_id=owner_id)
    fields = [f for f in Post._meta.concrete_fields if not f.primary_key]
    fixed = {f.name: f.get_db_prep_save(f.pre_save(template, True), connection) for f in fields}
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    accounts = world.accounts
    connection.ensure_connection()
    with connection.connection.cursor() as cursor:
        with cursor.copy(f"COPY {Post._meta.db_table} ({columns}) FROM STDIN") as copy:
            for n in range(offset, offset + count):
                # One busy account has one post in twenty besides its share,
                # so that its filtered list is a full page at both sizes.
                account = accounts[0] if n % 20 == 1 else accounts[n % len(accounts)]
                row = dict(fixed, account=account.pk, text=text_of(n))
                # Spread evenly in time whatever the count, by a fixed stride.
                spread = (n * 7_919) % 1_000_000 / 1_000_000
                if n % 10 == 0:
                    due = now + timedelta(days=90 * spread, minutes=1)
                    row.update(status=Post.Status.SCHEDULED, scheduled_at=due, next_attempt_at=due)
                else:
                    at = now - timedelta(days=365 * spread, minutes=1)
                    row.update(status=Post.Status.PUBLISHED, scheduled_at=at, sending_since=at, first_sent_at=at,
                               published_at=at, maybe_sent=True, x_post_id=str(10**15 + n),
                               x_post_url=f"https://x.com/b/status/{10**15 + n}", created_at=at, updated_at=at)
                copy.write_row([row[f.name] for f in fields])
    # Posts written without the state machine: the dashboard's tally of
    # published posts is counted from them, as its migration counts it.
    tallies.recount(now=now)
    # Pages must not pay for the bulk load: as autovacuum would soon after,
    # and the checkpointer writing out its pages, where the role may ask for it
    # (otherwise the first pages measured run beside that writing).
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) {Post._meta.db_table}, {PublishedTally._meta.db_table}")
        cursor.execute("SELECT rolsuper OR pg_has_role(current_user, 'pg_checkpoint', 'member') "
                       "FROM pg_roles WHERE rolname = current_user")
        if cursor.fetchone()[0]:
            cursor.execute("CHECKPOINT")


def pages(world: World, rows: int) -> list[Page]:
    posts = reverse("admin:bots_post_changelist")
    deep = min(500, -(-rows // PER_PAGE))
    today = datetime.now(dt_timezone.utc)
    listed = [
        ("admin home (dashboard)", reverse("admin:index"), {}),
        ("Posts list", posts, {}),
        ("Posts list, a deep page (500, or the last one)", posts, {"p": deep}),
        ("Posts list filtered by status: scheduled", posts, {"status": "scheduled"}),
        ("Posts list filtered by status: published", posts, {"status": "published"}),
        ("Posts list filtered by status: failed", posts, {"status": "failed"}),
        ("Posts list filtered by status: held", posts, {"status": "held"}),
        ("Posts list filtered by account", posts, {"account__id__exact": world.accounts[0].pk}),
        ("Posts list filtered by publish time: next 7 days", posts, {"when": "next7"}),
        ("Posts list filtered by publish time: this month", posts, {"when": "month"}),
        ("Posts list, one month of the date drill-down", posts,
         {"scheduled_at__year": today.year, "scheduled_at__month": today.month}),
        ("Calendar (month)", reverse("admin:bots_postcalendar_changelist"), {}),
        ("Calendar (week)", reverse("admin:bots_postcalendar_changelist"), {"view": "week"}),
        ("Posting queues", reverse("admin:bots_postingqueue_changelist"), {}),
        ("X accounts", reverse("admin:accounts_xaccount_changelist"), {}),
    ]
    out = [Page(name, f"{url}?{urlencode(query)}" if query else url) for name, url, query in listed]
    out.append(Page(f"Posts list, search for a rare phrase (“{RARE_PHRASE}”, the same 16 posts at both sizes)",
                    f"{posts}?{urlencode({'q': RARE_PHRASE})}", SEARCH_TARGET))
    out.append(Page(f"Posts list, search for a common phrase (“{PHRASE}”, one post in 500)",
                    f"{posts}?{urlencode({'q': PHRASE})}", SEARCH_TARGET, same_listing=False))
    return out


def signed_in(base: str, username: str) -> requests.Session:
    """A browser's session, signed in through the admin's login form."""
    session = requests.Session()
    login = f"{base}{reverse('admin:login')}"
    session.get(login, timeout=60)
    answer = session.post(login, data={
        "username": username, "password": PASSWORD, "next": reverse("admin:index"),
        "csrfmiddlewaretoken": session.cookies["csrftoken"],
    }, headers={"Referer": login}, timeout=60, allow_redirects=False)
    if answer.status_code != 302 or "sessionid" not in session.cookies:
        raise HarnessError(f"could not sign in to the admin: {answer.status_code} {answer.text[:300]}")
    return session


def best_time(session: requests.Session, url: str, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        answer = session.get(url, timeout=300, allow_redirects=False)
        times.append(time.perf_counter() - began)
        if answer.status_code != 200:
            raise HarnessError(f"GET {url} answered {answer.status_code}: {answer.text[:300]}")
    return min(times)


def queries_of(user, url: str) -> tuple[int, str, str]:
    """The page's number of queries, its slowest, and that one's plan."""
    from django.test import Client

    client = Client(HTTP_HOST="localhost")
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    timed: list[tuple[float, str, object]] = []

    def record(execute, sql, params, many, context):
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            timed.append((time.perf_counter() - began, sql, params))

    with connection.execute_wrapper(record):
        answer = client.get(url)
        if answer.streaming:
            b"".join(answer.streaming_content)
    if answer.status_code != 200:
        raise HarnessError(f"GET {url} in this process answered {answer.status_code}")
    _, sql, params = max(timed, key=lambda item: item[0])
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        transaction.set_rollback(True)
    return len(timed), sql, plan


def measure(base: str, session: requests.Session, user, page: Page) -> Measured:
    queries, slowest, plan = queries_of(user, page.url)
    return Measured(best_time(session, f"{base}{page.url}"), queries, slowest, plan)


# Memory that is constant grows at the start of a stream (the first query of
# its shape, buffers), not with the rows: the growth after these many rows.
SETTLED_AFTER = 10_000


@dataclass(frozen=True)
class Exported:
    first_byte: float
    whole: float
    rows: int
    grown: int
    # The growth after the first SETTLED_AFTER rows (None for fewer rows).
    grown_after_settled: int | None


def export(base: str, session: requests.Session, worker_pid: int) -> Exported:
    """The CSV export of the scheduled posts: seconds to its first byte, to its
    last, its rows, and how far the web worker's memory rose while it streamed,
    in all and after its first SETTLED_AFTER rows."""
    url = f"{base}{reverse('admin:bots_post_export')}?{urlencode({'status': 'scheduled'})}"
    worker = psutil.Process(worker_pid)
    before = worker.memory_info().rss
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], worker.memory_info().rss)
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    began = time.perf_counter()
    try:
        with session.get(url, stream=True, timeout=600) as answer:
            if answer.status_code != 200:
                raise HarnessError(f"the export answered {answer.status_code}: {answer.text[:300]}")
            chunks = answer.iter_content(chunk_size=65536)
            first = next(chunks)
            first_byte = time.perf_counter() - began
            lines, settled = first.count(b"\n"), None
            for chunk in chunks:
                lines += chunk.count(b"\n")
                if settled is None and lines > SETTLED_AFTER:
                    settled = worker.memory_info().rss
        whole = time.perf_counter() - began
    finally:
        done.set()
        sampler.join()
    return Exported(first_byte, whole, lines - 1, peak[0] - before,
                    None if settled is None else max(0, peak[0] - settled))


def measure_all(world: World, user, rows: int) -> tuple[dict[str, Measured], Exported]:
    web = world.system.start_web()
    try:
        session = signed_in(web.url, user.get_username())
        measured = {page.name: measure(web.url, session, user, page) for page in pages(world, rows)}
        exported = export(web.url, session, web.worker_pid())
    finally:
        world.system.stop_web()
    return measured, exported


def staff_owner(world: World):
    """The person who owns every account of the run, made staff with a password."""
    from accounts.models import XAccount

    user = XAccount.objects.select_related("owner").get(pk=world.accounts[0].pk).owner
    user.is_staff = True
    user.set_password(PASSWORD)
    user.save()
    return user


def collect_static() -> None:
    """The web process serves hashed static files, as production does after
    its release step."""
    import io

    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0, stdout=io.StringIO())


def run(world: World, results: Results) -> None:
    small_rows, big_rows = (1_000, 10_000) if world.small else (10_000, 1_000_000)
    print(f"admin: pages at {small_rows:,} and at {big_rows:,} posts, one gunicorn worker", flush=True)
    user = staff_owner(world)
    collect_static()
    clear_posts()
    now = datetime.now(dt_timezone.utc)
    copy_posts(world, user.pk, small_rows, offset=0, now=now)
    small, small_export = measure_all(world, user, small_rows)
    began = time.perf_counter()
    copy_posts(world, user.pk, big_rows - small_rows, offset=small_rows, now=now)
    print(f"  wrote {big_rows - small_rows:,} more posts in {time.perf_counter() - began:.0f} s", flush=True)
    big, big_export = measure_all(world, user, big_rows)
    clear_posts()

    for page in pages(world, big_rows):
        before, after = small[page.name], big[page.name]
        results.add("admin", f"{page.name}, {small_rows:,} posts ({before.queries} queries)", before.seconds, "s")
        results.add("admin", f"{page.name}, {big_rows:,} posts ({after.queries} queries)", after.seconds, "s",
                    target=f"≤ {page.target * 1000:.0f} ms", check=lambda v, t=page.target: v <= t)
        results.add("admin", f"{page.name}: {big_rows:,} ÷ {small_rows:,} posts", after.seconds / before.seconds,
                    "×", target=f"≤ {GROWTH_TARGET}" if page.same_listing else "",
                    check=(lambda v: v <= GROWTH_TARGET) if page.same_listing else None)
        results.plans[f"{page.name}, {big_rows:,} posts"] = f"{after.slowest}\n\n{after.plan}"
    for rows, exported in ((small_rows, small_export), (big_rows, big_export)):
        big_case = rows == big_rows
        results.add("admin", f"CSV export of the scheduled posts at {rows:,} posts: rows", exported.rows, "")
        results.add("admin", f"CSV export at {rows:,} posts: first byte", exported.first_byte, "s",
                    target=f"≤ {FIRST_BYTE_TARGET:g} s" if big_case else "",
                    check=(lambda v: v <= FIRST_BYTE_TARGET) if big_case else None)
        results.add("admin", f"CSV export at {rows:,} posts: whole file", exported.whole, "s")
        results.add("admin", f"CSV export at {rows:,} posts: web worker's memory growth", exported.grown / 2**20, "MB",
                    target="≤ 20 MB" if big_case else "",
                    check=(lambda v: v <= EXPORT_MEMORY_TARGET / 2**20) if big_case else None)
        if exported.grown_after_settled is not None:
            results.add("admin", f"CSV export at {rows:,} posts: memory growth after its first "
                                 f"{SETTLED_AFTER:,} rows", exported.grown_after_settled / 2**20, "MB")
    for name, plan in results.plans.items():
        if name.startswith("admin home") or "search" in name:
            print(f"-- the slowest query of {name}:\n{plan}", flush=True)
