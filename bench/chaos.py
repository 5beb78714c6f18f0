"""Chaos run: the whole platform as separate processes (PostgreSQL, Redis, the
sandbox, two Celery workers, beat, and a standby worker for the run's second
deliveries) publishing N posts across M accounts over about a minute while
processes are killed, services restarted, publish tasks delivered twice at
once and X fails every way it can; then, once the system has settled, proof
from the database and the sandbox that every post was published exactly once
or ended in a designed state with its reason.

    python -m bench chaos [--small] [--posts N --accounts M] [--seed S] [--write-report RELIABILITY.md]

X's duplicate rule is off for the run (the sandbox's ``duplicate_window`` 0):
a second send of a post is a second post on X, counted as a duplicate, not a
refusal that hides it.

Exit status 1 when an invariant fails (a post lost, duplicated, sent to the
revoked account, sent before a 429's reset, or not settled in time).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import signal
import subprocess
import sys
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from .deliveries import STANDBY_APPLICATION, HeldRow, Waiting, hold_row, waiting_for
from .harness import ROOT, PlatformProcess, PostgresCluster, System, _postgres_binary, wait_for
from .report import percentile
from .world import at_epoch, migrate, raise_sandbox_limits, sandbox_call, setup_django, wait_for_workers

# Short leases, grace periods and timeouts (README, Settings), so that every
# fault resolves within the run instead of within the production defaults'
# minutes. The grace and the stale limit must exceed twice connect + read.
PROCESS_SETTINGS = {
    "X_HTTP_CONNECT_TIMEOUT": "1",
    "X_HTTP_READ_TIMEOUT": "3",
    "POST_LEASE_SECONDS": "8",
    "POST_RECONCILE_EVERY_SECONDS": "2",
    "POST_UNKNOWN_GRACE_SECONDS": "10",
    "POST_SENDING_STALE_SECONDS": "10",
    "POST_RETRY_BASE_SECONDS": "1",
    "POST_RETRY_MAX_SECONDS": "5",
    "POST_MAX_ATTEMPTS": "12",
    "RATE_LIMIT_JITTER_SECONDS": "1",
    "POSTS_PER_24_H_PER_APP": "10000000",
    "CELERY_WORKER_CONCURRENCY": "4",
    "CELERY_TASK_TIME_LIMIT": "60",
    "CELERY_TASK_SOFT_TIME_LIMIT": "50",
    "CELERY_BROKER_VISIBILITY_TIMEOUT": "120",
    "DATABASE_CONN_MAX_AGE": "60",
}
# The sweeper and the reconciler run every 15 s and 5 s in production; with
# the short leases above they run every few seconds here.
FAST_SCHEDULES = {"bots.tasks.sweep_stale_posts": 3, "bots.tasks.reconcile_unknown_posts": 2}
WORKERS, THREADS = 2, 4
READ_TIMEOUT = int(PROCESS_SETTINGS["X_HTTP_READ_TIMEOUT"])
# The sandbox's duplicate_window for the run: 0 turns X's duplicate rule off,
# so a post sent twice shows as two posts instead of a 403 for the second.
DUPLICATE_WINDOW = 0
# Two deliveries of one post: how many posts each strike takes, and how long
# the run waits for both deliveries to reach the post before it lets them go.
TWICE_POSTS, TWICE_WITHIN = 3, 2.5
# How long a strike looks for such posts: none are claimed right after a restart.
TWICE_FIND = 3.0
# The queue of a standby worker that takes only the run's second deliveries,
# so that they reach a free thread at once however busy the two workers are.
STANDBY, STANDBY_QUEUE = "standby", "chaos.second-deliveries"
AT_THE_CLAIM = "the same publish task delivered twice at once, both before the move to sending"
MID_REQUEST = "the same publish task delivered again while X held the first delivery's request"


@dataclass(frozen=True)
class Plan:
    posts: int
    accounts: int
    window: float  # seconds over which the posts fall due and faults are injected
    settle: float  # at most this long afterwards for every post to reach its end
    kill_every: float
    seed: int

    @classmethod
    def of(cls, args: argparse.Namespace) -> Plan:
        small = args.small
        return cls(
            posts=args.posts or (200 if small else 5_000),
            accounts=args.accounts or (20 if small else 500),
            window=args.window or (30.0 if small else 60.0),
            settle=150.0 if small else 420.0,
            kill_every=6.0 if small else 5.0,
            seed=args.seed,
        )


@dataclass
class Ledger:
    """What was done to the system, and when (epoch seconds)."""

    faults: Counter = field(default_factory=Counter)
    events: list[tuple[float, str]] = field(default_factory=list)
    revoked_at: float | None = None
    revoked_username: str = ""
    revoked_user_id: str = ""

    def note(self, kind: str, detail: str = "", *, count: int = 1) -> None:
        self.faults[kind] += count
        self.events.append((time.time(), f"{kind}{': ' + detail if detail else ''}"))
        print(f"  [{time.strftime('%H:%M:%S')}] {kind}{': ' + detail if detail else ''}", flush=True)


# --- the world: accounts and posts ----------------------------------------------------------


@dataclass(frozen=True)
class Account:
    pk: int
    x_user_id: str
    username: str
    method: str


def create_accounts(sandbox: str, count: int, tag: str) -> list[Account]:
    """``count`` sandbox users, alternately linked with OAuth 2.0 and OAuth 1.0a."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from accounts.models import XAccount

    created = sandbox_call("POST", f"{sandbox}/_sandbox/users",
                           json={"count": count, "username_prefix": f"c{tag}", "tokens": {}})["users"]
    owner = get_user_model().objects.create_user(f"chaos-{tag}", f"chaos-{tag}@example.com")
    rows = []
    for n, user in enumerate(created):
        tokens = user["tokens"]
        if n % 2 == 0:
            fields = {
                "auth_method": XAccount.AuthMethod.OAUTH2,
                "oauth2_access_token": tokens["oauth2"]["access_token"],
                "oauth2_refresh_token": tokens["oauth2"]["refresh_token"],
                "token_expires_at": timezone.now() + timedelta(seconds=tokens["oauth2"]["expires_in"]),
                "scopes": tokens["oauth2"]["scope"],
            }
        else:
            fields = {
                "auth_method": XAccount.AuthMethod.OAUTH1,
                "oauth1_token": tokens["oauth1"]["oauth_token"],
                "oauth1_token_secret": tokens["oauth1"]["oauth_token_secret"],
            }
        rows.append(XAccount(owner=owner, workspace=owner.workspace,
                             x_user_id=user["id"], username=user["username"], name=user["username"],
                             **fields))
    rows = XAccount.objects.bulk_create(rows)
    return [Account(row.pk, row.x_user_id, row.username, row.auth_method) for row in rows]


def schedule_posts(plan: Plan, accounts: list[Account], tag: str, start: float) -> int:
    """N posts due evenly over the window, one in ten a thread of 2 or 3
    parts, as the admin's schedule service leaves them: the first part due,
    later parts waiting for the part before. Returns the number of threads."""
    from bots.models import Post

    rng = random.Random(plan.seed)
    made, n = 0, 0
    roots: list[Post] = []
    sizes: list[int] = []
    while made < plan.posts:
        account = accounts[n % len(accounts)]
        due = at_epoch(start + plan.window * made / plan.posts)
        parts = rng.choice((2, 3)) if n % 10 == 9 and plan.posts - made >= 3 else 1
        roots.append(Post(account_id=account.pk, text=f"chaos {tag} #{n}" + (" (1)" if parts > 1 else ""),
                          scheduled_at=due, next_attempt_at=due, status=Post.Status.SCHEDULED))
        sizes.append(parts)
        made += parts
        n += 1
    roots = Post.objects.bulk_create(roots, batch_size=1000)
    Post.objects.bulk_create([
        Post(account_id=root.account_id, parent=root, position=p, text=f"{root.text[:-4]} ({p + 1})",
             scheduled_at=root.scheduled_at, status=Post.Status.SCHEDULED)
        for root, parts in zip(roots, sizes) for p in range(1, parts)
    ], batch_size=1000)
    return sum(parts > 1 for parts in sizes)


def speed_up_schedules() -> None:
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    for task, every in FAST_SCHEDULES.items():
        interval, _ = IntervalSchedule.objects.get_or_create(every=every, period=IntervalSchedule.SECONDS)
        PeriodicTask.objects.filter(task=task).update(interval=interval, expires=None, expire_seconds=every)


# --- faults ---------------------------------------------------------------------------------


class Faults:
    """Every fault the run injects, each a method that records itself in the ledger."""

    def __init__(self, system: System, ledger: Ledger, accounts: list[Account], rng: random.Random):
        self.system = system
        self.ledger = ledger
        self.accounts = accounts
        self.rng = rng
        self.sandbox = system.sandbox.url
        self.kills = 0

    # The sandbox.

    def sandbox_faults_on(self, *, latency: bool = True) -> None:
        rules = [
            {"endpoint": "POST /2/tweets", "mode": "status", "status": 503, "probability": 0.10},
            {"endpoint": "POST /2/tweets", "mode": "status", "status": 500, "probability": 0.05, "empty_body": True},
            {"endpoint": "POST /2/tweets", "mode": "status", "status": 502, "probability": 0.05},
            {"endpoint": "POST /2/tweets", "mode": "drop_after_commit", "probability": 0.05},
            {"endpoint": "POST /2/tweets", "mode": "drop_before_commit", "probability": 0.05},
            {"endpoint": "POST /2/tweets", "mode": "garbled_body", "probability": 0.02},
            {"endpoint": "POST /2/tweets", "mode": "truncated_body", "probability": 0.02},
        ]
        if latency:
            rules.append(
                {"endpoint": "POST /2/tweets", "mode": "latency", "seconds": READ_TIMEOUT + 1.5, "probability": 0.03}
            )
        self.harvest()
        sandbox_call("PUT", f"{self.sandbox}/_sandbox/faults", json={"faults": rules, "seed": self.ledger_seed()})
        if latency and not self.ledger.faults["sandbox faults on"]:
            self.ledger.note("sandbox faults on", "POST /2/tweets: 20% 5xx, 5% commit-then-drop, "
                                                  "5% drop-before-commit, 2% an unreadable 201, 2% a 201 cut off, "
                                                  f"3% latency {READ_TIMEOUT + 1.5:g} s")

    def ledger_seed(self) -> int:
        return self.rng.randrange(1 << 30)

    def sandbox_faults_off(self) -> None:
        self.harvest()
        sandbox_call("DELETE", f"{self.sandbox}/_sandbox/faults")

    def harvest(self) -> None:
        """Count the requests each sandbox rule struck, before its rules are replaced."""
        for rule in sandbox_call("GET", f"{self.sandbox}/_sandbox/faults")["faults"]:
            if not rule.get("applied"):
                continue
            if rule["mode"] == "status":
                kind = f"X answered {rule['status']}" + (" with no body" if rule.get("empty_body") else "")
            elif rule["mode"] == "latency":
                kind = f"X held a post {rule['seconds']:g} s" + (
                    " (past the read timeout)" if rule["seconds"] > READ_TIMEOUT else " (for a fault to strike mid-request)")
            else:
                kind = {"drop_after_commit": "X committed the post, then dropped the connection",
                        "drop_before_commit": "X dropped the connection before committing",
                        "garbled_body": "X committed the post, then answered 201 with a body that cannot be read",
                        "truncated_body": "X committed the post, then cut its 201 answer off"}[rule["mode"]]
            self.ledger.faults[kind] += rule["applied"]

    def hold_requests(self, seconds: float, count: int) -> None:
        """The next ``count`` posts wait ``seconds`` on X, so a fault that follows hits them mid-request."""
        sandbox_call("POST", f"{self.sandbox}/_sandbox/faults", json={"faults": [
            {"endpoint": "POST /2/tweets", "mode": "latency", "seconds": seconds, "count": count}]})

    def rate_limit_wave(self, seconds: float) -> None:
        """Each account may post once per 6 s for ``seconds``: X answers 429 with its reset.

        The latency spikes pause meanwhile: a 429 answered after the client
        gave up waiting never reaches the platform, yet the sandbox would
        count the next request as one sent before that 429's reset."""
        self.sandbox_faults_on(latency=False)
        time.sleep(READ_TIMEOUT + 2)
        limits = {"POST /2/tweets": {"rate": {"limit": 1, "window_secs": 6}}}
        sandbox_call("PUT", f"{self.sandbox}/_sandbox/rate-limits", json=limits)
        self.ledger.note("429 wave", f"1 post per account per 6 s, for {seconds:g} s")
        time.sleep(seconds)
        sandbox_call("PUT", f"{self.sandbox}/_sandbox/rate-limits",
                     json={"POST /2/tweets": {"rate": {"limit": 100, "window_secs": 900}}})
        self.sandbox_faults_on()

    def expire_tokens(self) -> None:
        expired = 0
        for account in self.accounts:
            if account.method == "oauth2" and account.x_user_id != self.ledger.revoked_user_id:
                sandbox_call("POST", f"{self.sandbox}/_sandbox/users/{account.x_user_id}/expire-tokens")
                expired += 1
        self.ledger.note("OAuth 2.0 tokens expired", f"{expired} accounts")

    def revoke(self, account: Account) -> None:
        self.ledger.revoked_at = time.time()
        self.ledger.revoked_username = account.username
        self.ledger.revoked_user_id = account.x_user_id
        sandbox_call("POST", f"{self.sandbox}/_sandbox/users/{account.x_user_id}/revoke")
        self.ledger.note("account revoked", f"@{account.username} ({account.method})")

    # Workers.

    def kill_worker(self, *, mid_request: bool = False) -> None:
        worker = [w for w in self.system.workers if w.name != STANDBY][self.kills % WORKERS]
        self.kills += 1
        if mid_request:
            self.hold_requests(2.5, count=2 * THREADS)
            time.sleep(1.0)
        worker.kill(signal.SIGKILL)
        self.ledger.note("worker kill -9" + (" mid-request" if mid_request else ""), worker.name)
        time.sleep(0.5)
        worker.start()

    # Redis.

    def redis_restart(self) -> None:
        """kill -9 and start again: Redis keeps nothing on disk, so every queued task is gone."""
        redis = self.system.redis
        redis.kill(signal.SIGKILL)
        time.sleep(1.0)
        redis.start()
        self.ledger.note("Redis restart without persistence")

    def redis_flushall(self) -> None:
        with self.system.redis.client() as client:
            client.flushall()
        self.ledger.note("Redis FLUSHALL")

    # PostgreSQL.

    def pg_ctl_stop(self, mode: str) -> None:
        """``pg_ctl stop -m mode`` on the run's cluster, then start it again on the same port."""
        postgres = self.system.postgres
        assert isinstance(postgres, PostgresCluster)
        pg_ctl = str(Path(_postgres_binary("initdb")).with_name("pg_ctl"))
        subprocess.run(postgres._as_owner([pg_ctl, "-D", str(postgres.data_dir / "data"), "stop", "-m", mode, "-w"]),
                       check=True, capture_output=True, cwd="/", timeout=60)
        postgres.process.wait(timeout=30)
        time.sleep(2.0)
        postgres.start()

    def pg_fast_shutdown_holding_results(self) -> None:
        """Workers have posts in flight on X when the database goes: they come
        back with X's answer and nowhere to write it."""
        self.hold_requests(2.0, count=4 * THREADS)
        time.sleep(1.0)
        self.pg_ctl_stop("fast")
        self.ledger.note("PostgreSQL fast shutdown (pg_ctl -m fast) while workers hold results")

    def pg_restart(self) -> None:
        self.pg_ctl_stop("immediate")
        self.ledger.note("PostgreSQL restart (pg_ctl -m immediate: crash and recovery)")

    # Two deliveries of one publish task (bench/deliveries.py).

    def posts_in(self, status: str, *, lease_left: float = 0.0, sending_for: float = 0.0,
                 sent_after: datetime | None = None) -> list[int]:
        """Up to TWICE_POSTS posts in ``status``, with at least ``lease_left``
        seconds of their claim left, or in a request for ``sending_for``
        seconds that began after ``sent_after``, waiting up to TWICE_FIND for
        them: right after a restart there are none until the dispatcher's
        next claims."""
        from django.utils import timezone

        from bots.models import Post

        deadline = time.monotonic() + TWICE_FIND
        while True:
            now = timezone.now()
            posts = Post.objects.filter(status=status)
            if lease_left:
                posts = posts.filter(lease_expires_at__gt=now + timedelta(seconds=lease_left))
            if sending_for:
                posts = posts.filter(sending_since__lt=now - timedelta(seconds=sending_for))
            if sent_after:
                posts = posts.filter(sending_since__gt=sent_after)
            found = db(lambda: list(posts.order_by("pk").values_list("pk", flat=True)[:TWICE_POSTS]))
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.2)

    def deliver_twice_at_claim(self) -> None:
        """The claimed posts' task sent twice more, to the standby worker, while
        the post's row is held locked (as any transaction working on it would
        hold it) until both copies wait on it, then let go: they reach the
        move to ``sending`` together, and only one may send."""
        import psycopg

        from bots.models import Post
        from bots.posting.tasks import publish_posts

        # A lease that outlives the hold, so that the sweeper leaves the post claimed meanwhile.
        post_ids = self.posts_in(Post.Status.CLAIMED, lease_left=TWICE_WITHIN + 0.5)
        # One connection, one transaction, per post held.
        holders: list[psycopg.Connection] = []
        rows: dict[int, HeldRow] = {}
        waiting: dict[int, Waiting] = {}
        try:
            for post_id in post_ids:
                holders.append(psycopg.connect(self.system.postgres.url, connect_timeout=5))
                row = hold_row(holders[-1], Post._meta.db_table, post_id, Post.Status.CLAIMED.value)
                if row is not None:
                    rows[post_id] = row
            # Each post as a batch of its own, so that each copy waits on that post's row.
            for post_id in rows:
                for _ in range(2):
                    publish_posts.apply_async(([post_id],), queue=STANDBY_QUEUE)
            waiting = dict.fromkeys(rows, Waiting(standby=0, total=0))
            with psycopg.connect(self.system.postgres.url, autocommit=True, connect_timeout=5) as monitor:
                deadline = time.monotonic() + TWICE_WITHIN
                while rows and time.monotonic() < deadline and min(w.standby for w in waiting.values()) < 2:
                    time.sleep(0.05)
                    waiting = {post_id: waiting_for(monitor, row) for post_id, row in rows.items()}
        finally:
            for conn in holders:
                conn.close()
        struck = [post_id for post_id, w in waiting.items() if w.standby >= 2]
        self.ledger.note(AT_THE_CLAIM, ", ".join(
            f"post {post_id}: {w.standby} copies waiting on its row ({w.total} deliveries in all)"
            for post_id, w in sorted(waiting.items())) or "no claimed post", count=len(struck))

    def deliver_twice_mid_request(self) -> None:
        """The task of the posts X holds a request of sent again, as one batch,
        to the standby worker: the second delivery must leave them alone."""
        from django.utils import timezone

        from bots.models import Post
        from bots.posting.tasks import publish_posts

        held_from = timezone.now()
        self.hold_requests(2.5, count=THREADS)
        # A request that began after the hold, and is still waiting, is one X holds: not a quick one
        # about to end, nor that of a worker killed earlier.
        post_ids = self.posts_in(Post.Status.SENDING, sending_for=0.3, sent_after=held_from)
        if post_ids:
            publish_posts.apply_async((list(post_ids),), queue=STANDBY_QUEUE)
        deadline = time.monotonic() + 2.0
        with self.system.redis.client() as redis:
            while redis.llen(STANDBY_QUEUE) and time.monotonic() < deadline:
                time.sleep(0.05)
            taken = not redis.llen(STANDBY_QUEUE)
        # Taken by a worker with threads to spare, so run at once: while these were still being sent.
        struck = db(lambda: Post.objects.filter(pk__in=post_ids, status=Post.Status.SENDING).count()) if taken else 0
        self.ledger.note(MID_REQUEST, f"{len(post_ids)} being sent, {struck} of them taken again while X held them",
                         count=struck)


def timeline(plan: Plan, faults: Faults, revoked: Account) -> list[tuple[float, Callable[[], None]]]:
    """When each fault strikes, in seconds after the first post falls due."""
    w = plan.window
    events: list[tuple[float, Callable[[], None]]] = [
        (0.0, faults.sandbox_faults_on),
        (0.20 * w, faults.redis_restart),
        (0.30 * w, lambda: faults.rate_limit_wave(min(10.0, 0.2 * w))),
        (0.35 * w, lambda: faults.revoke(revoked)),
        (0.45 * w, faults.pg_fast_shutdown_holding_results),
        (0.55 * w, faults.expire_tokens),
        (0.65 * w, faults.redis_flushall),
        (0.80 * w, faults.pg_restart),
        (0.12 * w, faults.deliver_twice_at_claim),
        (0.27 * w, faults.deliver_twice_mid_request),
        (0.60 * w, faults.deliver_twice_at_claim),
        (0.75 * w, faults.deliver_twice_mid_request),
        (0.90 * w, faults.deliver_twice_at_claim),
    ]
    at, n = plan.kill_every / 2, 0
    while at < w:
        events.append((at, lambda mid=(n % 3 == 1): faults.kill_worker(mid_request=mid)))
        at += plan.kill_every
        n += 1
    return sorted(events, key=lambda event: event[0])


class Standby(PlatformProcess):
    """The worker that takes only the run's second deliveries (STANDBY_QUEUE),
    two threads for each post a strike takes; its database sessions are
    named, so that the run can tell them apart."""

    def environment(self) -> dict[str, str]:
        return {**super().environment(), "PGAPPNAME": STANDBY_APPLICATION}


def start_standby(system: System) -> None:
    """The standby worker is one of the system's workers, so it is kept alive
    and stopped with them, but never killed."""
    standby = Standby(system.log_dir, system.settings, STANDBY, [
        "worker", "--loglevel", "WARNING", "--pool", "threads", "--concurrency", str(2 * TWICE_POSTS),
        "--hostname", "standby@%h", "--without-mingle", "--without-gossip", "--queues", STANDBY_QUEUE,
    ])
    standby.start()
    system.workers.append(standby)


def keep_alive(system: System, ledger: Ledger) -> None:
    """A platform process that died of a fault (not killed by us) is started
    again, as a supervisor (systemd, Kubernetes) would."""
    for process in [*system.workers, system.beat]:
        if process is not None and not process.running:
            ledger.note("platform process died on its own, restarted", process.name)
            process.start()


# --- settling and verdict -------------------------------------------------------------------


def db(query: Callable[[], object], seconds: float = 60) -> object:
    """Run a query of this process, reconnecting after the database's restarts."""
    from django.db import InterfaceError, OperationalError, connection

    deadline = time.monotonic() + seconds
    while True:
        try:
            return query()
        except (OperationalError, InterfaceError):
            connection.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


# A post of an account that needs reconnecting is held until a person
# reconnects it: one not sent yet (scheduled), or one whose answer was lost
# (unknown), looked for on X again after reconnecting.
HELD = ("scheduled", "unknown")


def unsettled(tag: str) -> dict[str, int]:
    """Posts not yet at an end (or held), by status."""
    from django.db.models import Count

    from accounts.models import XAccount
    from bots.models import Post

    open_statuses = (Post.Status.SCHEDULED, Post.Status.CLAIMED, Post.Status.SENDING, Post.Status.UNKNOWN)
    rows = (Post.objects.filter(text__startswith=f"chaos {tag} ", status__in=open_statuses)
            .exclude(status__in=HELD, account__status=XAccount.Status.NEEDS_REAUTH)
            .values("status").annotate(n=Count("pk")))
    return {row["status"]: row["n"] for row in rows}


def settle(plan: Plan, system: System, ledger: Ledger, tag: str) -> float:
    """Wait for every post to reach its end; the seconds it took."""
    began = time.monotonic()
    last = ""
    while time.monotonic() - began < plan.settle:
        keep_alive(system, ledger)
        left = db(lambda: unsettled(tag))
        if not left:
            return time.monotonic() - began
        shown = ", ".join(f"{n} {status}" for status, n in sorted(left.items()))
        if shown != last:
            print(f"  settling: {shown}", flush=True)
            last = shown
        time.sleep(1.0)
    return time.monotonic() - began


def reason_kind(reason: str) -> str:
    """A failure's reason without the names and numbers that differ per post."""
    if reason.startswith("Reconnect @"):
        return "Reconnect @… (the account was revoked on X)"
    text = re.sub(r"@\w+", "@…", reason)
    return re.sub(r"\d+", "N", text)[:90]


# A request that reached X within this long of the 429 held against it was
# already on its way when that 429 was answered: the platform cannot honour a
# 429 it has not received yet. (The sandbox logs a request when it answers
# it, so a concurrent request logged after the 429 counts as early there.)
IN_FLIGHT_SECONDS = 1.0


def the_429_before(retry: dict, requests_log: list[dict]) -> dict | None:
    told = [r for r in requests_log if r["user_id"] == retry["user_id"] and r["retry_at"] and r["id"] < retry["id"]
            and retry["arrived_at"] < r["retry_at"]]
    return told[-1] if told else None


def in_flight(retry: dict, requests_log: list[dict]) -> bool:
    answer = the_429_before(retry, requests_log)
    return answer is not None and retry["arrived_at"] - answer["arrived_at"] <= IN_FLIGHT_SECONDS


def early(retry: dict, requests_log: list[dict]) -> str:
    """An early request beside the 429 the sandbox holds against it."""
    answer = the_429_before(retry, requests_log)
    if answer is None:
        return f"{retry['text']!r}: no 429 before it"
    return (f"{retry['text']!r} arrived {retry['arrived_at'] - answer['arrived_at']:+.2f} s after the 429 "
            f"for {answer['text']!r} arrived, {answer['retry_at'] - retry['arrived_at']:.1f} s before its reset")


@dataclass
class Verdict:
    figures: dict[str, object]
    failures: list[str]


def verify(plan: Plan, system: System, ledger: Ledger, tag: str, start: float) -> Verdict:
    from django.db import connection

    from accounts.models import XAccount
    from bots.models import Post

    connection.close()
    posts = list(Post.objects.filter(text__startswith=f"chaos {tag} ").select_related("account")
                 .order_by("pk").values("pk", "text", "status", "x_post_id", "last_error", "scheduled_at",
                                        "parent_id", "position", "account__x_user_id", "account__status",
                                        "account__username"))
    on_x = sandbox_call("GET", f"{system.sandbox.url}/_sandbox/posts", params={"since": start - 120})["posts"]
    on_x = [p for p in on_x if p["submitted_text"].startswith(f"chaos {tag} ")]
    log = sandbox_call("GET", f"{system.sandbox.url}/_sandbox/requests",
                       params={"endpoint": "POST /2/tweets", "since": start - 120})
    duplicate_window = sandbox_call("GET", f"{system.sandbox.url}/_sandbox/settings")["settings"]["duplicate_window"]
    by_id = {p["id"]: p for p in on_x}
    # Every post on X counts against the run's post of its author and text
    # (each text is unique in the run), whatever it replies to: a second send
    # of a thread's part may answer a second copy of the part before it.
    # X's own request_count is no measure: it counts attempts, not posts.
    copies = Counter((p["author_id"], p["submitted_text"]) for p in on_x)
    ours = {(p["account__x_user_id"], p["text"]) for p in posts}
    failures: list[str] = []

    published = [p for p in posts if p["status"] == Post.Status.PUBLISHED]
    x_id_of = {p["pk"]: p["x_post_id"] for p in published}
    mismatched, late = [], []
    for post in published:
        found = by_id.get(post["x_post_id"])
        if (found is None or found["submitted_text"] != post["text"]
                or found["author_id"] != post["account__x_user_id"]):
            mismatched.append(post["pk"])
            continue
        late.append(found["created_at"] - post["scheduled_at"].timestamp())
        if post["parent_id"]:
            previous = (post["parent_id"] if post["position"] == 1 else
                        next(p["pk"] for p in posts if p["parent_id"] == post["parent_id"]
                             and p["position"] == post["position"] - 1))
            if found["reply_to"] != x_id_of.get(previous):
                mismatched.append(post["pk"])
    duplicates = sum(n - 1 for n in copies.values() if n > 1)
    strays = [key for key in copies if key not in ours]
    held = [p for p in posts if p["status"] in HELD and p["account__status"] == XAccount.Status.NEEDS_REAUTH]
    held_ids = {p["pk"] for p in held}
    # A held post whose answer was lost may be on X: it is found once the account is reconnected.
    held_on_x = [p for p in held if copies.get((p["account__x_user_id"], p["text"]))]
    on_x_unpublished = [p for p in posts if p["status"] != Post.Status.PUBLISHED and p["pk"] not in held_ids
                        and copies.get((p["account__x_user_id"], p["text"]))]
    failed = [p for p in posts if p["status"] == Post.Status.FAILED]
    open_ = [p for p in posts if p["status"] not in (Post.Status.PUBLISHED, Post.Status.FAILED)
             and p["pk"] not in held_ids]
    lost = len(open_) + len(mismatched) + len(on_x_unpublished) + (plan.posts - len(posts))
    after_revoke = [p for p in on_x if ledger.revoked_at and p["author_id"] == ledger.revoked_user_id
                    and p["created_at"] >= ledger.revoked_at]
    revoked_texts = {p["text"] for p in posts if p["account__x_user_id"] == ledger.revoked_user_id}
    attempts_after_revoke = [r for r in log["requests"] if ledger.revoked_at and r["arrived_at"] >= ledger.revoked_at
                             and r["text"] in revoked_texts]
    wrongly_failed = [p for p in failed if p["account__x_user_id"] != ledger.revoked_user_id]
    requests_per_post = [p["request_count"] for p in on_x]
    sent = [r for r in log["requests"] if (r["text"] or "").startswith(f"chaos {tag} ")]
    told_early = [r for r in log["early_retries"] if not in_flight(r, log["requests"])]

    figures = {
        "X's duplicate rule (sandbox duplicate_window)":
            "off (0 s): a second send is a second post" if duplicate_window == 0 else f"on ({duplicate_window} s)",
        "posts scheduled": plan.posts,
        "posts in the database": len(posts),
        "published": len(published),
        "failed": len(failed),
        "failed by reason": dict(Counter(reason_kind(p["last_error"]) for p in failed)),
        "held (account needs reconnecting)": len(held),
        "held, on X, found once the account is reconnected": len(held_on_x),
        "duplicates on X": duplicates,
        "posts on X of one post, max": max((copies[key] for key in ours), default=0),
        "lost": lost,
        "not at an end (scheduled, claimed, sending, unknown)": len(open_),
        "published but not on X as recorded": len(mismatched),
        "on X but not published in the database": len(on_x_unpublished),
        "on X but never scheduled": len(strays),
        "posts on the revoked account after revocation": len(after_revoke),
        "create requests for the revoked account after revocation": len(attempts_after_revoke),
        "failed on accounts that were not revoked": len(wrongly_failed),
        "requests before a 429's reset, sent after it (early_retries)": len(told_early),
        "requests already in flight when a 429 was answered (in early_retries, within 1 s)":
            len(log["early_retries"]) - len(told_early),
        "429 answers": sum(1 for r in log["requests"] if r["status"] == 429),
        "create requests sent (every attempt, faults included)": len(sent),
        "create requests per post on X, as X counts them (request_count), max": max(requests_per_post, default=0),
        "lateness p50 (s)": round(percentile(late, 50), 2) if late else None,
        "lateness p99 (s)": round(percentile(late, 99), 2) if late else None,
        "lateness max (s)": round(max(late), 2) if late else None,
    }
    checks = [
        (lost == 0, f"{lost} posts lost: " + "; ".join(
            f"post {p['pk']} ({p['status']}, @{p['account__username']}): {p['last_error'][:100] or 'no reason'}"
            for p in (open_ + on_x_unpublished)[:5])),
        (duplicate_window == 0, f"X's duplicate rule was on ({duplicate_window} s): a second send was refused, "
                                "not seen, so duplicates cannot be counted"),
        (duplicates == 0, f"{duplicates} duplicates on X: " + "; ".join(
            f"{n} posts of {text!r}" for (_, text), n in copies.most_common(5) if n > 1)),
        (not strays, f"{len(strays)} posts on X that were never scheduled"),
        (not after_revoke, f"{len(after_revoke)} posts on the revoked account after revocation"),
        (not told_early, f"{len(told_early)} requests before a 429's reset, e.g. "
                         + "; ".join(early(r, log["requests"]) for r in told_early[:3])),
        (not wrongly_failed, f"{len(wrongly_failed)} posts failed on accounts that were not revoked: "
                             + "; ".join(sorted({p["last_error"][:120] for p in wrongly_failed})[:5])),
    ]
    failures = [message for ok, message in checks if not ok]
    return Verdict(figures, failures)


# --- the report -----------------------------------------------------------------------------


def table(ledger: Ledger, verdict: Verdict) -> str:
    lines = ["| | |", "|---|---|"]
    for kind, n in ledger.faults.items():
        lines.append(f"| fault: {kind} | {n} |")
    for name, value in verdict.figures.items():
        if isinstance(value, dict):
            for reason, n in value.items() or {"—": 0}.items():
                lines.append(f"| {name}: {reason} | {n} |")
        else:
            lines.append(f"| {name} | {value} |")
    lines.append(f"| invariants | {'all hold' if not verdict.failures else '**FAILED**: ' + '; '.join(verdict.failures)} |")
    return "\n".join(lines)


FINDINGS = "\n## What the runs found\n"


def write_report(path: Path, *, plan: Plan, ledger: Ledger, verdict: Verdict, wall: float, command: str) -> None:
    """The figures of a run, the machine it ran on and how to run it again."""
    from .__main__ import machine

    settings = ", ".join(f"`{name}={value}`" for name, value in PROCESS_SETTINGS.items())
    schedules = ", ".join(f"`{task.rsplit('.', 1)[1]}` every {every} s" for task, every in FAST_SCHEDULES.items())
    timeline_lines = "\n".join(
        f"- +{at - ledger.events[0][0]:5.1f} s  {what}" for at, what in ledger.events
    )
    # The findings are written by people; a new run keeps them.
    kept = path.read_text().partition(FINDINGS)[2] if path.exists() else ""
    path.write_text(f"""# Reliability

Figures of a chaos run: {plan.posts:,} posts across {plan.accounts:,} accounts (OAuth 2.0 and OAuth 1.0a
alternately, one in ten posts a thread of 2 or 3 parts) falling due over {plan.window:g} s, published by the
whole platform as separate processes — a PostgreSQL cluster of the run's own, Redis, the X API sandbox,
{WORKERS} Celery workers of {THREADS} threads, beat, and a standby worker that takes only the run's second
deliveries of a task — while faults strike. X's duplicate rule is off
(the sandbox's `duplicate_window` 0), so a post sent twice is two posts on X, not a 403 that hides the
second send. Afterwards the run waits (at most {plan.settle:g} s) for every post to reach its end and
checks, from the database and the sandbox's `/_sandbox/posts` and `/_sandbox/requests`:

- every post is published, or failed with its reason, or held (its account needs reconnecting);
- the sandbox holds exactly one post per published post, with the recorded id, author, text and (for a
  thread part) the part it replies to: every post on X counts against the run's post of its author and
  text, whatever it replies to; no post on X that was never scheduled or is not published in the
  database;
- none is lost (everything scheduled is accounted for);
- nothing was posted to the revoked account after its revocation, and no post of another account failed;
- no request came before a 429's reset: the sandbox's `early_retries`, less the requests that reached X
  within 1 s of the 429 held against them — already in flight when it was answered, as two threads
  sending two posts of one account at once are; those are counted apart.

## Figures

{"All invariants hold." if not verdict.failures else "**Invariants failed:** " + "; ".join(verdict.failures)}

{table(ledger, verdict)}

Wall time of the run, start-up and checks included: {wall:.0f} s.

## The faults, as they struck

{timeline_lines}

- **Workers:** `kill -9` of a worker's process group every {plan.kill_every:g} s, alternating between the
  two; every third while the sandbox holds the next posts for 2.5 s (the worker dies mid-request). The
  worker is started again half a second later.
- **Redis:** `kill -9` and a fresh start (no persistence: every queued task is gone), and a `FLUSHALL`.
- **PostgreSQL:** `pg_ctl stop -m fast` while the sandbox holds posts in flight (workers come back with X's
  answer and no database), and `pg_ctl stop -m immediate` (a crash; recovery on start), each started again
  after 2 s.
- **The sandbox (X):** on `POST /2/tweets`, rolled in order per request: 10% 503, 5% 500 with no body, 5% 502,
  5% commit-then-drop, 5% drop-before-commit, and 3% a latency of {READ_TIMEOUT + 1.5:g} s, past the client's
  {READ_TIMEOUT} s read timeout (the post is created after the client gave up).
- **Rate limits:** a 429 wave: for a while every account may post once per 6 s, and X's 429 carries
  `x-rate-limit-reset`. The latency spikes pause during the wave: a 429 produced after the client gave up
  waiting never reaches the platform, yet the sandbox would count the next request as early.
- **Tokens:** every OAuth 2.0 account's access token expired on X mid-run (the platform still thinks it
  valid: a 401, then a refresh), and one account revoked on X.
- **Two deliveries of one task:** what Redis does with a task a worker has not acknowledged within the
  broker's visibility timeout (it hands it to the next worker that asks, while the first may still be
  running it), done on purpose: the run sends a post's publish task again, with the same arguments, to a
  standby worker that takes only these and so runs them at once. Three times, for up to {TWICE_POSTS}
  claimed posts, two copies each, while the run holds the post's row locked (as any transaction on it
  would) until both copies wait on it, then lets them go together: they reach the move to `sending` at
  the same moment, and only one may send. Twice, for up to {TWICE_POSTS} posts whose requests X holds for
  2.5 s, one copy each: the second delivery comes while the first waits for X. The table counts the posts
  where it struck: both copies waiting on the row together (from `pg_locks`), or the copy taken while
  the post was still `sending`.

## The machine

{machine()}

## How to reproduce

```sh
make test PYTEST_ARGS=tests/reliability     # once: the virtualenv, Redis and PostgreSQL's binaries
.venv/bin/{command} --write-report RELIABILITY.md
```

The run starts its own PostgreSQL cluster with `initdb` (Debian: `apt-get install postgresql`; as root it
runs as the `postgres` user), its own `redis-server` and sandbox on free ports, and leaves nothing behind;
the logs of every process are kept when an invariant fails. CI runs `python -m bench chaos --small`
(200 posts, 20 accounts, 30 s) in `tests/reliability/test_chaos_smoke.py`.

The platform's processes run with short leases, grace periods and timeouts, so faults resolve in seconds
rather than the production defaults' minutes: {settings}; beat runs {schedules}.
""" + (FINDINGS + kept if kept else ""))


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench chaos", description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="200 posts across 20 accounts, faults over 30 s (CI)")
    parser.add_argument("--posts", type=int, default=0, help="posts to schedule, N (default 5000; 200 with --small)")
    parser.add_argument("--accounts", type=int, default=0, help="accounts, M (default 500; 20 with --small)")
    parser.add_argument("--window", type=float, default=0.0,
                        help="seconds over which posts fall due and faults strike (default 60; 30 with --small)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the schedule and the sandbox's fault draws")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "chaos", help="where chaos.json goes")
    parser.add_argument("--write-report", type=Path, default=None, metavar="PATH",
                        help="write the figures as a Markdown report (RELIABILITY.md)")
    args = parser.parse_args(argv)
    if args.posts < 0 or args.accounts < 0 or (args.accounts and args.posts and args.accounts > args.posts):
        parser.error("--posts and --accounts must be positive, with at least one post per account")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    plan = Plan.of(args)
    rng = random.Random(plan.seed)
    ledger = Ledger()
    # In usernames too, which X keeps to 15 characters.
    tag = uuid.uuid4().hex[:5]
    print(f"chaos: {plan.posts} posts across {plan.accounts} accounts, due over {plan.window:g} s; "
          f"{WORKERS} workers x {THREADS} threads", flush=True)
    began = time.monotonic()
    # A cluster of its own even when DATABASE_URL names a PostgreSQL (as in
    # CI): the run stops and restarts it.
    with System(database_url="") as system:
        try:
            setup_django(system, PROCESS_SETTINGS)
            # It needs no table to start: its start-up overlaps the migrations.
            start_standby(system)
            migrate()
            speed_up_schedules()
            raise_sandbox_limits(system.sandbox.url)
            sandbox_call("PUT", f"{system.sandbox.url}/_sandbox/settings", json={"duplicate_window": DUPLICATE_WINDOW})
            accounts = create_accounts(system.sandbox.url, plan.accounts, tag)
            system.start_workers(WORKERS, pool="threads", concurrency=THREADS)
            wait_for_workers(WORKERS + 1)
            system.start_beat()
            start = time.time() + 5
            threads = schedule_posts(plan, accounts, tag, start)
            print(f"  scheduled {plan.posts} posts ({threads} threads) from {time.strftime('%H:%M:%S', time.localtime(start))}",
                  flush=True)
            faults = Faults(system, ledger, accounts, rng)
            revoked = accounts[1 if len(accounts) > 1 else 0]
            wait_for(lambda: time.time() >= start, seconds=30, what="the first post's time")
            for at, strike in timeline(plan, faults, revoked):
                while time.time() < start + at:
                    keep_alive(system, ledger)
                    time.sleep(0.1)
                strike()
            faults.sandbox_faults_off()
            settled_in = settle(plan, system, ledger, tag)
            verdict = verify(plan, system, ledger, tag, start)
            verdict.figures["seconds to settle after the last fault"] = round(settled_in, 1)
        except Exception:
            traceback.print_exc()
            print(system.log_tail(), file=sys.stderr)
            system.failed = True
            return 1
        finally:
            system.stop_platform()
        if verdict.failures:
            system.failed = True
    wall = time.monotonic() - began
    print("\n" + table(ledger, verdict))
    print(f"\nwall time: {wall:.0f} s")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "chaos.json").write_text(json.dumps({
        "plan": plan.__dict__, "faults": dict(ledger.faults), "figures": verdict.figures,
        "failures": verdict.failures, "events": ledger.events, "wall_seconds": wall,
    }, indent=1, default=str))
    if args.write_report:
        given = sys.argv[1:] if argv is None else argv
        # Where this run wrote its files is no part of how to run it again.
        kept = [a for n, a in enumerate(given) if a not in ("--write-report", "--out")
                and (n == 0 or given[n - 1] not in ("--write-report", "--out"))]
        command = " ".join(["python -m bench chaos", *kept])
        write_report(args.write_report, plan=plan, ledger=ledger, verdict=verdict, wall=wall, command=command)
    if verdict.failures:
        print("INVARIANTS FAILED: " + "; ".join(verdict.failures), file=sys.stderr)
        return 1
    print("every invariant holds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
