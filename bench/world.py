"""What every scenario shares: this process set up as the platform (Django on
the run's database), linked accounts with tokens the sandbox minted, posts
written straight into the table, and lateness read back from the sandbox."""

from __future__ import annotations

import io
import os
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import requests

from .harness import HarnessError, System, usage, wait_for

# X's 10,000 posts a day per app would stop a benchmark that posts more than
# that in one run: both the platform's own budget and the sandbox's window are
# raised; the per-account limits (100 per 15 minutes) stay X's.
APP_DAY_LIMIT = 10_000_000


@dataclass(frozen=True)
class Layout:
    """How the platform's work is spread: K worker processes of C threads."""

    processes: int
    threads: int
    pool: str = "threads"

    @property
    def concurrency(self) -> int:
        return self.processes * self.threads


@dataclass
class Account:
    pk: int
    x_user_id: str
    access_token: str


@dataclass
class World:
    system: System
    small: bool
    layout: Layout
    accounts: list[Account] = field(default_factory=list)
    run_tag: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    # Steady-load runs by (design, pending), shared by the scenarios that report them.
    runs: dict = field(default_factory=dict)

    @property
    def sandbox(self) -> str:
        return self.system.sandbox.url


def setup_django(system: System, extra: dict[str, str]) -> None:
    """Configure this process exactly like the workers: same settings, same database."""
    system.settings.extra.update(extra)
    os.environ.update(system.settings.environment())
    import django

    django.setup()


def migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    call_command("install_schedules", verbosity=0, stdout=io.StringIO())


def sandbox_call(method: str, url: str, **kwargs) -> dict:
    response = requests.request(method, url, timeout=120, **kwargs)
    if response.status_code >= 400:
        raise HarnessError(f"{method} {url} answered {response.status_code}: {response.text[:300]}")
    return response.json()


def raise_sandbox_limits(sandbox: str) -> None:
    sandbox_call("PUT", f"{sandbox}/_sandbox/rate-limits",
                 json={"POST /2/tweets": {"app_24h": {"limit": APP_DAY_LIMIT, "window_secs": 86400}}})


def create_accounts(world: World, count: int) -> None:
    """``count`` sandbox users with OAuth 2.0 tokens, linked as XAccounts."""
    from django.contrib.auth import get_user_model

    from accounts.models import XAccount

    created = sandbox_call(
        "POST", f"{world.sandbox}/_sandbox/users",
        json={"count": count, "username_prefix": f"b{world.run_tag}", "tokens": {"oauth2": {}}},
    )["users"]
    owner = get_user_model().objects.create_user(f"bench-{world.run_tag}", f"bench-{world.run_tag}@example.com")
    expires = datetime.now(dt_timezone.utc) + timedelta(hours=2)
    rows = XAccount.objects.bulk_create([
        XAccount(
            owner=owner, workspace=owner.workspace, x_user_id=user["id"], username=user["username"],
            name=user["username"],
            auth_method=XAccount.AuthMethod.OAUTH2,
            oauth2_access_token=user["tokens"]["oauth2"]["access_token"],
            oauth2_refresh_token=user["tokens"]["oauth2"]["refresh_token"],
            token_expires_at=expires, scopes=user["tokens"]["oauth2"]["scope"],
        )
        for user in created
    ])
    world.accounts = [
        Account(row.pk, user["id"], user["tokens"]["oauth2"]["access_token"]) for row, user in zip(rows, created)
    ]


def clear_posts() -> None:
    """Empty the posts table, and the tally of those published, between
    measurements (TRUNCATE: fast at a million rows)."""
    from django.db import connection

    from bots.models import Post, PublishedTally

    with connection.cursor() as cursor:
        cursor.execute(f'TRUNCATE TABLE "{Post._meta.db_table}", "{PublishedTally._meta.db_table}" CASCADE')


def database_sessions() -> int:
    """Connections ever opened to the run's database (PostgreSQL 14 and later count them)."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.pg_version >= 150000:  # older servers flush statistics on their own, within a second
            cursor.execute("SELECT pg_stat_force_next_flush()")
        else:
            time.sleep(1)
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


def epoch(moment: datetime) -> float:
    return moment.timestamp()


def at_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=dt_timezone.utc)


def new_post(account: Account, text: str, due: float, *, dispatchable: bool = True):
    """A scheduled post as the admin's schedule service leaves it. A post the
    platform's dispatcher must leave alone (a baseline's) has no
    ``next_attempt_at``: the dispatcher only claims rows that have one."""
    from bots.models import Post

    moment = at_epoch(due)
    return Post(
        account_id=account.pk, text=text, scheduled_at=moment, status=Post.Status.SCHEDULED,
        next_attempt_at=moment if dispatchable else None,
    )


def sandbox_arrivals(sandbox: str, since: float) -> dict[str, list[float]]:
    """Each text's arrival times on the sandbox (more than one would be a duplicate post)."""
    posts = sandbox_call("GET", f"{sandbox}/_sandbox/posts", params={"since": since})["posts"]
    arrivals: dict[str, list[float]] = {}
    for post in posts:
        arrivals.setdefault(post["submitted_text"], []).append(post["created_at"])
    return arrivals


def published_count(texts_prefix: str) -> int:
    from bots.models import Post

    return Post.objects.filter(text__startswith=texts_prefix, status=Post.Status.PUBLISHED).count()


def wait_published(prefix: str, expected: int, *, seconds: float, system: System) -> float:
    """Wait until ``expected`` posts whose text starts with ``prefix`` are
    published or ``seconds`` pass; returns when the wait ended (epoch)."""
    from bots.models import Post

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if published_count(prefix) >= expected:
            break
        failed = Post.objects.filter(text__startswith=prefix, status=Post.Status.FAILED).first()
        if failed is not None:
            raise HarnessError(f"a post failed: {failed.last_error}\n{system.log_tail()}")
        for worker in system.workers:
            if not worker.running:
                raise HarnessError(f"{worker.name} died\n{system.log_tail()}")
        time.sleep(0.25)
    return time.time()


def lateness(due: dict[str, float], arrivals: dict[str, list[float]]) -> tuple[list[float], int, int]:
    """Seconds between each post's scheduled time and its arrival on the
    sandbox, the number that never arrived, and the number posted twice."""
    late = [min(arrivals[text]) - at for text, at in due.items() if text in arrivals]
    missing = sum(1 for text in due if text not in arrivals)
    doubled = sum(1 for text in due if len(arrivals.get(text, ())) > 1)
    return late, missing, doubled


def start_platform(world: World, *, include: tuple[str, ...] = (), queues: tuple[str, ...] = (),
                   beat: bool = True) -> None:
    system = world.system
    system.start_workers(world.layout.processes, pool=world.layout.pool, concurrency=world.layout.threads,
                         include=include, queues=queues)
    wait_for_workers(world.layout.processes)
    if beat:
        system.start_beat()
        settle(system.beat_pids())


def wait_for_workers(count: int, seconds: float = 60) -> None:
    from botplatform.celery import app

    wait_for(lambda: len(app.control.ping(timeout=0.5) or []) >= count, seconds=seconds,
             what=f"{count} Celery workers answering a ping", interval=0.2)


def settle(pids: list[int], *, seconds: float = 60) -> None:
    """Wait until the processes are idle (start-up work such as beat reading
    its schedule is done), so the measurement starts from a quiet system."""
    last = usage(pids).cpu_seconds
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = usage(pids).cpu_seconds
        if now - last < 0.05:
            return
        last = now


def texts(prefix: str, count: int) -> Iterable[str]:
    return (f"{prefix} {n}" for n in range(count))
