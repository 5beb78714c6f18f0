"""Three ways to publish a post at its time, measured under the same load:

- the platform: a row in the posts table, claimed by the dispatcher beat runs
  every second;
- baseline (a): one django-celery-beat ``PeriodicTask`` with a
  ``ClockedSchedule`` per post (``one_off``) on the ``DatabaseScheduler``;
- baseline (b): ``apply_async(eta=scheduled_at)`` per post.

Both baselines run ``bench.baseline_tasks.publish_scheduled_post``, which
claims the post and publishes it with the platform's own publisher: only the
way the post is brought to a worker at its time differs.

The load: posts created at a steady rate, each due a fixed lead time after it
is created (people schedule ahead), optionally on top of many pending posts
due later (spread over the next 24 hours, one day of X's app limit)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field

from django.db import connection

from .harness import usage, wait_for
from .report import Results, percentile
from .world import (
    World, at_epoch, clear_posts, lateness, new_post, sandbox_arrivals, settle, start_platform, wait_published,
)

BASELINE_TASK = "bench.baseline_tasks.publish_scheduled_post"
BASELINE_NAME = "bench post "


@dataclass
class Run:
    """What one design did under one load."""

    label: str
    pending: int
    late: list[float]
    missing: int
    doubled: int
    beat_cpu: float
    beat_rss: int
    worker_cpu: float
    worker_rss: int
    grace: float
    # Lateness with every unpublished post counted as published when the run gave up.
    at_least: list[float]


def pending_posts(world: World, count: int, *, dispatchable: bool) -> tuple[list, list[float]]:
    """``count`` posts spread over the day after the next ten minutes, across
    the world's accounts; the posts and their due times (epoch seconds)."""
    from bots.models import Post

    start = time.time() + 600
    dues = [start + n * 86_400 / count for n in range(count)]
    posts = Post.objects.bulk_create(
        [new_post(world.accounts[n % len(world.accounts)], f"pending {world.run_tag} {n}", due,
                  dispatchable=dispatchable) for n, due in enumerate(dues)],
        batch_size=5_000,
    )
    return posts, dues


class Design:
    label = ""
    key = ""
    include: tuple[str, ...] = ()
    # The queues the publishing workers take (empty: all of them).
    queues: tuple[str, ...] = ()
    platform_schedule = False

    def started(self, world: World) -> None:
        """The workers are up and idle; the load is about to begin."""

    def ended(self, world: World) -> None:
        """The load is published (or the run gave up); nothing is cleared yet."""

    def add_pending(self, world: World, count: int) -> None:
        raise NotImplementedError

    def schedule(self, world: World, account, text: str, due: float) -> None:
        raise NotImplementedError


class Platform(Design):
    label = "platform (dispatcher + partial index)"
    key = "platform"
    platform_schedule = True

    def add_pending(self, world: World, count: int) -> None:
        pending_posts(world, count, dispatchable=True)

    def schedule(self, world: World, account, text: str, due: float) -> None:
        new_post(account, text, due).save()


class PeriodicTaskPerPost(Design):
    label = "(a) PeriodicTask + ClockedSchedule per post"
    key = "periodic_task"
    include = ("bench.baseline_tasks",)

    def add_pending(self, world: World, count: int) -> None:
        from django_celery_beat.models import ClockedSchedule, PeriodicTask, PeriodicTasks

        posts, dues = pending_posts(world, count, dispatchable=False)
        clocks = ClockedSchedule.objects.bulk_create([ClockedSchedule(clocked_time=at_epoch(d)) for d in dues],
                                                     batch_size=5_000)
        PeriodicTask.objects.bulk_create(
            [PeriodicTask(name=f"{BASELINE_NAME}{post.pk}", task=BASELINE_TASK, args=json.dumps([post.pk]),
                          clocked=clock, one_off=True) for post, clock in zip(posts, clocks)],
            batch_size=5_000,
        )
        PeriodicTasks.update_changed()

    def schedule(self, world: World, account, text: str, due: float) -> None:
        from django_celery_beat.models import ClockedSchedule, PeriodicTask

        post = new_post(account, text, due, dispatchable=False)
        post.save()
        clock = ClockedSchedule.objects.create(clocked_time=at_epoch(due))
        PeriodicTask.objects.create(name=f"{BASELINE_NAME}{post.pk}", task=BASELINE_TASK,
                                    args=json.dumps([post.pk]), clocked=clock, one_off=True)


class EtaPerPost(Design):
    label = "(b) apply_async(eta=…) per post"
    key = "eta"
    include = ("bench.baseline_tasks",)

    def add_pending(self, world: World, count: int) -> None:
        from bench.baseline_tasks import publish_scheduled_post

        posts, dues = pending_posts(world, count, dispatchable=False)
        for post, due in zip(posts, dues):
            publish_scheduled_post.apply_async((post.pk,), eta=at_epoch(due))
        # The workers take every ETA task off the queue at once and hold it.
        queue = world.system.redis.client()
        wait_for(lambda: queue.llen("celery") == 0, seconds=300, what="the workers taking the pending ETA tasks",
                 interval=0.5)

    def schedule(self, world: World, account, text: str, due: float) -> None:
        from bench.baseline_tasks import publish_scheduled_post

        post = new_post(account, text, due, dispatchable=False)
        post.save()
        publish_scheduled_post.apply_async((post.pk,), eta=at_epoch(due))


DESIGNS: tuple[Design, ...] = (Platform(), PeriodicTaskPerPost(), EtaPerPost())


@dataclass
class Load:
    rate: float  # posts created per second
    seconds: float
    lead: float  # each post is due this long after it is created
    pending: int = 0
    grace: float = 60  # how long past the last due time a post may still arrive
    label: str = ""
    extra: dict[str, float] = field(default_factory=dict)


def reset(world: World) -> None:
    """A clean slate between runs: no posts, no baseline schedules, an empty broker."""
    from django_celery_beat.models import ClockedSchedule, PeriodicTask, PeriodicTasks

    world.system.stop_platform()
    world.system.redis.client().flushall()
    clear_posts()
    # Plain DELETEs: the models' delete signals would mark the schedule
    # changed once per row, minutes for 10,000 tasks and their clocks.
    tasks, clocks = PeriodicTask._meta.db_table, ClockedSchedule._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {tasks} WHERE name LIKE %s", [f"{BASELINE_NAME}%"])
        cursor.execute(f"DELETE FROM {clocks} WHERE id NOT IN "
                       f"(SELECT clocked_id FROM {tasks} WHERE clocked_id IS NOT NULL)")
    PeriodicTasks.update_changed()


def use_platform_schedule(enabled: bool) -> None:
    """The platform's periodic tasks (dispatcher, sweeper, …) run only for the
    platform's runs, so a baseline's beat and workers do the baseline's work alone."""
    from django_celery_beat.models import PeriodicTask, PeriodicTasks

    from botplatform.schedules import NAME_PREFIX

    PeriodicTask.objects.filter(name__startswith=NAME_PREFIX).update(enabled=enabled)
    PeriodicTasks.update_changed()


class Sampler(threading.Thread):
    """Peak resident memory of beat and of the workers, sampled twice a second."""

    def __init__(self, world: World):
        super().__init__(daemon=True)
        self.world = world
        self.beat_rss = 0
        self.worker_rss = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.5):
            self.beat_rss = max(self.beat_rss, usage(self.world.system.beat_pids()).rss_bytes)
            self.worker_rss = max(self.worker_rss, usage(self.world.system.worker_pids()).rss_bytes)


def measure(world: World, design: Design, load: Load) -> Run:
    reset(world)
    use_platform_schedule(design.platform_schedule)
    if load.pending:
        if isinstance(design, EtaPerPost):
            # ETA tasks go to the workers, which must be running to take them.
            start_platform(world, include=design.include, beat=False)
            design.add_pending(world, load.pending)
            world.system.start_beat()
            settle(world.system.beat_pids())
        else:
            design.add_pending(world, load.pending)
            start_platform(world, include=design.include, queues=design.queues)
    else:
        start_platform(world, include=design.include, queues=design.queues)
    settle(world.system.worker_pids())
    design.started(world)

    prefix = f"{design.key} {load.pending} {world.run_tag}"
    count = int(load.rate * load.seconds)
    accounts = world.accounts
    beat_before = usage(world.system.beat_pids()).cpu_seconds
    workers_before = usage(world.system.worker_pids()).cpu_seconds
    sampler = Sampler(world)
    sampler.start()
    since = time.time()
    due: dict[str, float] = {}
    began = time.time()
    for n in range(count):
        created = began + n / load.rate
        time.sleep(max(0.0, created - time.time()))
        text = f"{prefix} {n}"
        due[text] = created + load.lead
        design.schedule(world, accounts[n % len(accounts)], text, due[text])
    last_due = max(due.values())
    time.sleep(max(0.0, last_due - time.time()))
    gave_up = wait_published(prefix, count, seconds=load.grace, system=world.system)
    beat_cpu = usage(world.system.beat_pids()).cpu_seconds - beat_before
    worker_cpu = usage(world.system.worker_pids()).cpu_seconds - workers_before
    sampler.done.set()
    sampler.join()
    arrivals = sandbox_arrivals(world.sandbox, since)
    late, missing, doubled = lateness(due, arrivals)
    # A post still unpublished when the run gave up was at least this late.
    at_least = late + [gave_up - at for text, at in due.items() if text not in arrivals]
    run = Run(design.label, load.pending, late, missing, doubled, beat_cpu, sampler.beat_rss, worker_cpu,
              sampler.worker_rss, load.grace, at_least)
    design.ended(world)
    reset(world)
    use_platform_schedule(True)
    return run


def report(results: Results, scenario: str, run: Run, *, p99_target: str = "",
           check=None, never_early: bool = False) -> None:
    """``never_early``: a post reaching X before its time is a failure (the
    platform's promise; a baseline's early posts are shown, not judged)."""
    tag = f"{run.label}, {run.pending:,} pending"
    results.lateness[tag] = run.late
    results.unpublished[tag] = run.missing
    results.add(scenario, f"{tag}: posts sent twice", run.doubled, "", target="0", check=lambda v: v == 0)
    results.add(scenario, f"{tag}: posts sent before their time", sum(1 for v in run.late if v < 0), "",
                **({"target": "0", "check": lambda v: v == 0} if never_early else {}))
    if run.missing:
        results.add(scenario, f"{tag}: posts not published by {run.grace:g} s after the last one was due "
                              "(counted as never)", run.missing, "")
        results.add(scenario, f"{tag}: lateness p99, at least (unpublished posts counted as published "
                              "when the run gave up)", percentile(run.at_least, 99), "s")
    results.add(scenario, f"{tag}: lateness p50", percentile(run.late, 50, missing=run.missing), "s")
    results.add(scenario, f"{tag}: lateness p99", percentile(run.late, 99, missing=run.missing), "s",
                target=p99_target, check=check)


def report_cost(results: Results, scenario: str, run: Run) -> None:
    tag = f"{run.label}, {run.pending:,} pending"
    results.add(scenario, f"{tag}: beat CPU", run.beat_cpu, "s")
    results.add(scenario, f"{tag}: beat RSS (peak)", run.beat_rss / 2**20, "MB")
    results.add(scenario, f"{tag}: workers CPU", run.worker_cpu, "s")
    results.add(scenario, f"{tag}: workers RSS (peak, all workers)", run.worker_rss / 2**20, "MB")


def steady_load(world: World, pending: int = 0) -> Load:
    if world.small:
        return Load(rate=5, seconds=3, lead=3, pending=min(pending, 50), grace=20)
    return Load(rate=20, seconds=60, lead=10, pending=pending, grace=60)
