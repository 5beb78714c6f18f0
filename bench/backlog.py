"""Scenario 3, backlog: the dispatcher's tick with 1,000 and with 1,000,000
future posts in the table, with the run's 1,000 accounts and with 100,000
accounts (1% of them needing reconnecting, 1% paused by a rate limit), and
the plan PostgreSQL uses for its claim query.

A tick is ``bots.tasks.dispatch_due_posts`` run in this process, exactly the
code a worker runs each second: with nothing due (what almost every tick
sees) and with 100 posts due (claimed, then handed back for the next try)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

from django.db import connection, transaction

from accounts.models import XAccount
from bots.models import Post
from bots.posting.tasks import dispatch_due_posts

from .report import Results
from .world import World, clear_posts, new_post

DUE = 100


def copy_future_posts(world: World, count: int, *, offset: int) -> float:
    """Write ``count`` posts due over the next year with COPY; returns the seconds it took."""
    template = new_post(world.accounts[0], "", time.time())
    fields = [f for f in Post._meta.concrete_fields if not f.primary_key]
    varying = {"account": 0, "text": 1, "scheduled_at": 2, "next_attempt_at": 2}
    fixed = [f.get_db_prep_save(f.pre_save(template, True), connection) for f in fields]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    start, accounts = time.time() + 3600, world.accounts
    began = time.perf_counter()
    connection.ensure_connection()
    with connection.connection.cursor() as cursor:
        with cursor.copy(f"COPY {Post._meta.db_table} ({columns}) FROM STDIN") as copy:
            for n in range(offset, offset + count):
                due = new_post(accounts[0], "", start + n * 30).scheduled_at
                row = list(fixed)
                for position, f in enumerate(fields):
                    which = varying.get(f.name)
                    if which == 0:
                        row[position] = accounts[n % len(accounts)].pk
                    elif which == 1:
                        row[position] = f"backlog {world.run_tag} {n}"
                    elif which == 2:
                        row[position] = due
                copy.write_row(row)
    elapsed = time.perf_counter() - began
    # Measured ticks must not pay for the bulk load: VACUUM sets the new rows'
    # hint bits and ANALYZE gives the planner their statistics, as autovacuum
    # would soon after, and a pause lets the background writer catch up.
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) {Post._meta.db_table}")
    time.sleep(2)
    return elapsed


def add_idle_accounts(world: World, count: int) -> list[int]:
    """``count`` more linked accounts that post nothing, as a big platform has:
    1 in 100 needs reconnecting and 1 in 100 is paused by a rate limit."""
    first = XAccount.objects.select_related("owner").get(pk=world.accounts[0].pk)
    later = datetime.now(dt_timezone.utc) + timedelta(hours=1)
    rows = XAccount.objects.bulk_create([
        XAccount(owner=first.owner, workspace_id=first.workspace_id, x_user_id=f"idle-{world.run_tag}-{n}",
                 username=f"idle{world.run_tag}{n}", auth_method=XAccount.AuthMethod.OAUTH2,
                 status=XAccount.Status.NEEDS_REAUTH if n % 100 == 1 else XAccount.Status.ACTIVE,
                 rate_limited_until=later if n % 100 == 2 else None)
        for n in range(count)
    ], batch_size=5_000)
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) {XAccount._meta.db_table}")
    return [row.pk for row in rows]


def add_due_posts(world: World) -> list[int]:
    past = time.time() - 1
    posts = Post.objects.bulk_create(
        [new_post(world.accounts[n % len(world.accounts)], f"due {world.run_tag} {n}", past) for n in range(DUE)]
    )
    return [p.pk for p in posts]


def hand_back(post_ids: list[int]) -> None:
    Post.objects.filter(pk__in=post_ids).update(status=Post.Status.SCHEDULED, claim_token="",
                                                lease_expires_at=None)


def tick_seconds(repeats: int, due_ids: list[int] | None = None) -> float:
    """The median time of a tick."""
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        claimed = dispatch_due_posts()
        times.append(time.perf_counter() - began)
        if due_ids is not None:
            assert claimed == len(due_ids), f"a tick claimed {claimed} of {len(due_ids)} due posts"
            hand_back(due_ids)
    return statistics.median(times)


@contextmanager
def captured_claim() -> Iterator[list[tuple[str, object]]]:
    """The statements a tick sends, as (sql, params)."""
    seen: list[tuple[str, object]] = []

    def record(execute, sql, params, many, context):
        seen.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        yield seen


def explain_claim(due_ids: list[int]) -> str:
    """EXPLAIN ANALYZE of the dispatcher's claim query as a tick sends it
    (taken from a real tick, so it follows the code), with the due posts
    handed back first so that it finds them, rolled back."""
    with captured_claim() as seen:
        dispatch_due_posts()
    hand_back(due_ids)
    sql, params = next((s, p) for s, p in seen if "FOR UPDATE" in s)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        transaction.set_rollback(True)
    return plan


def run(world: World, results: Results) -> None:
    small_rows, big_rows, repeats = (100, 5_000, 5) if world.small else (1_000, 1_000_000, 31)
    print(f"backlog: dispatcher tick with {small_rows:,} and {big_rows:,} future posts", flush=True)
    clear_posts()
    world.system.redis.client().flushall()
    copy_future_posts(world, small_rows, offset=0)
    idle_small = tick_seconds(repeats * 5)
    due_ids = add_due_posts(world)
    busy_small = tick_seconds(repeats, due_ids)
    idle_accounts = add_idle_accounts(world, 500 if world.small else 99_000)
    busy_accounts = tick_seconds(repeats, due_ids)
    accounts_plan = explain_claim(due_ids)
    XAccount.objects.filter(pk__in=idle_accounts).delete()
    Post.objects.filter(pk__in=due_ids).delete()

    insert_seconds = copy_future_posts(world, big_rows - small_rows, offset=small_rows)
    idle_big = tick_seconds(repeats * 5)
    due_ids = add_due_posts(world)
    busy_big = tick_seconds(repeats, due_ids)
    plan = explain_claim(due_ids)
    rows = Post.objects.count()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_size_pretty(pg_total_relation_size(%s))", [Post._meta.db_table])
        size = cursor.fetchone()[0]
    clear_posts()
    world.system.redis.client().flushall()

    results.add("backlog", f"rows in the posts table for the big case ({size})", rows, "")
    results.add("backlog", f"COPY of {big_rows - small_rows:,} future posts", insert_seconds, "s")
    results.add("backlog", f"tick, nothing due, {small_rows:,} rows", idle_small, "s")
    results.add("backlog", f"tick, nothing due, {big_rows:,} rows", idle_big, "s")
    results.add("backlog", "tick ratio, nothing due (big ÷ small)", idle_big / idle_small, "×",
                target="≤ 1.2", check=lambda v: v <= 1.2)
    results.add("backlog", f"tick claiming {DUE} due posts, {small_rows:,} rows", busy_small, "s")
    results.add("backlog", f"tick claiming {DUE} due posts, {big_rows:,} rows", busy_big, "s")
    results.add("backlog", f"tick ratio, {DUE} due (big ÷ small)", busy_big / busy_small, "×",
                target="≤ 1.2", check=lambda v: v <= 1.2)
    results.add("backlog", "claim query uses post_due_idx (EXPLAIN ANALYZE)", int("post_due_idx" in plan), "",
                target="1 (yes)", check=lambda v: v == 1)
    accounts = len(world.accounts) + len(idle_accounts)
    results.add("backlog", f"tick claiming {DUE} due posts, {small_rows:,} rows, {accounts:,} accounts", busy_accounts,
                "s")
    results.add("backlog", f"tick ratio, {DUE} due, {accounts:,} ÷ {len(world.accounts):,} accounts",
                busy_accounts / busy_small, "×", target="≤ 1.2", check=lambda v: v <= 1.2)
    results.explain = plan
    print(plan, flush=True)
    print(f"The claim query with {accounts:,} accounts:", flush=True)
    print(accounts_plan, flush=True)
