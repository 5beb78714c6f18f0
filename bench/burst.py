"""Scenario 1, burst: many posts due at the same second across many accounts.

The platform's drain time (from the due second to the last post's arrival on
the sandbox) is compared with the ceiling's: the same texts posted by a bare
tweepy loop with the same concurrency."""

from __future__ import annotations

import resource
import time

from bots.models import Post

from . import ceiling
from .harness import HarnessError, usage
from .report import Results, percentile
from .world import (
    World, clear_posts, database_sessions, lateness, new_post, sandbox_arrivals, sandbox_call, start_platform, wait_published,
)

LEAD_SECONDS = 3.0


def _children_cpu() -> float:
    """CPU seconds of this process's finished children (the ceiling's processes)."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def run(world: World, results: Results) -> None:
    posts, per_account = (40, 2) if world.small else (2_000, 2)
    accounts = world.accounts[: posts // per_account]
    prefix = f"burst {world.run_tag}"
    texts = [f"{prefix} {n}" for n in range(posts)]
    owners = [accounts[n % len(accounts)] for n in range(posts)]
    print(f"burst: {posts} posts due at the same second across {len(accounts)} accounts", flush=True)

    # The ceiling posts these texts first, so the platform posts them again:
    # X's duplicate rule is off for this scenario only.
    window = sandbox_call("GET", f"{world.sandbox}/_sandbox/settings")["settings"]["duplicate_window"]
    sandbox_call("PUT", f"{world.sandbox}/_sandbox/settings", json={"duplicate_window": 0})
    try:
        since = time.time()
        sandbox_cpu = usage(world.system.sandbox.pids()).cpu_seconds
        loop_cpu = _children_cpu()
        started, errors = ceiling.post_all(
            world.sandbox, [(owner.access_token, text) for owner, text in zip(owners, texts)],
            processes=world.layout.processes, threads=world.layout.threads,
        )
        loop_cpu = _children_cpu() - loop_cpu
        sandbox_cpu_ceiling = usage(world.system.sandbox.pids()).cpu_seconds - sandbox_cpu
        if errors:
            raise HarnessError(f"the ceiling loop failed {len(errors)} times, e.g. {errors[0]}")
        arrived = sandbox_arrivals(world.sandbox, since)
        ceiling_drain = max(max(arrived[t]) for t in texts) - started

        clear_posts()
        start_platform(world)
        sessions = database_sessions()
        platform_cpu = usage(world.system.worker_pids() + world.system.beat_pids()).cpu_seconds
        sandbox_cpu = usage(world.system.sandbox.pids()).cpu_seconds
        due = time.time() + LEAD_SECONDS
        since = time.time()
        Post.objects.bulk_create([new_post(owner, text, due) for owner, text in zip(owners, texts)], batch_size=1000)
        wait_published(prefix, posts, seconds=120 if not world.small else 60, system=world.system)
        platform_cpu = usage(world.system.worker_pids() + world.system.beat_pids()).cpu_seconds - platform_cpu
        sandbox_cpu_platform = usage(world.system.sandbox.pids()).cpu_seconds - sandbox_cpu
        sessions = database_sessions() - sessions
        world.system.stop_platform()
    finally:
        sandbox_call("PUT", f"{world.sandbox}/_sandbox/settings", json={"duplicate_window": window})

    late, missing, doubled = lateness(dict.fromkeys(texts, due), sandbox_arrivals(world.sandbox, since))
    drain = max(late) if late and not missing else float("inf")
    results.add("burst", "posts published (of posted)", posts - missing, "")
    results.add("burst", "posts sent twice", doubled, "", target="0", check=lambda v: v == 0)
    results.add("burst", "platform drain time", drain, "s")
    results.add("burst", "database connections opened while draining", sessions, "")
    results.add("burst", "ceiling drain time (bare tweepy loop)", ceiling_drain, "s")
    results.add("burst", "platform drain ÷ ceiling drain", drain / ceiling_drain, "×", target="≤ 1.5",
                check=lambda v: v <= 1.5)
    results.add("burst", "CPU per post: platform (workers and beat)", platform_cpu / posts, "s")
    results.add("burst", "CPU per post: ceiling loop", loop_cpu / posts, "s")
    results.add("burst", "CPU per post: sandbox, serving the platform", sandbox_cpu_platform / posts, "s")
    results.add("burst", "CPU per post: sandbox, serving the ceiling", sandbox_cpu_ceiling / posts, "s")
    for q in (50, 95, 99):
        results.add("burst", f"lateness p{q}", percentile(late, q, missing=missing), "s")
    results.add("burst", "lateness max", max(late) if late else None, "s")
    results.lateness["burst (all due at once)"] = late
