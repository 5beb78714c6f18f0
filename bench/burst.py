"""Scenario 1, burst: many posts due at the same second across many accounts.

The platform's drain time (from the due second to the last post's arrival on
the sandbox) is compared with the ceiling's: the same texts posted by a bare
tweepy loop with the same concurrency. Both run in turns, three rounds, and
the median round's ratio is the figure: on a shared machine one round can
meet a neighbour's load that the other did not."""

from __future__ import annotations

import resource
import statistics
import time
from dataclasses import dataclass

from bots.models import Post

from . import ceiling
from .harness import HarnessError, usage
from .report import Results, percentile
from .world import (
    World, clear_posts, database_sessions, lateness, new_post, sandbox_arrivals, sandbox_call, start_platform,
    wait_published,
)

LEAD_SECONDS = 3.0


@dataclass
class Round:
    ceiling_drain: float
    drain: float
    late: list[float]
    missing: int
    doubled: int
    sessions: int
    platform_cpu: float
    loop_cpu: float
    sandbox_cpu_platform: float
    sandbox_cpu_ceiling: float

    @property
    def ratio(self) -> float:
        return self.drain / self.ceiling_drain


def _children_cpu() -> float:
    """CPU seconds of this process's finished children (the ceiling's processes)."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def one_round(world: World, prefix: str, posts: int) -> Round:
    accounts = world.accounts[: posts // 2]
    texts = [f"{prefix} {n}" for n in range(posts)]
    owners = [accounts[n % len(accounts)] for n in range(posts)]

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
    clear_posts()

    late, missing, doubled = lateness(dict.fromkeys(texts, due), sandbox_arrivals(world.sandbox, since))
    drain = max(late) if late and not missing else float("inf")
    return Round(ceiling_drain, drain, late, missing, doubled, sessions, platform_cpu / posts, loop_cpu / posts,
                 sandbox_cpu_platform / posts, sandbox_cpu_ceiling / posts)


def run(world: World, results: Results) -> None:
    posts, rounds = (40, 1) if world.small else (2_000, 3)
    print(f"burst: {posts} posts due at the same second across {posts // 2} accounts, {rounds} rounds", flush=True)
    # The ceiling posts each round's texts first, so the platform posts them
    # again: X's duplicate rule is off for this scenario only.
    window = sandbox_call("GET", f"{world.sandbox}/_sandbox/settings")["settings"]["duplicate_window"]
    sandbox_call("PUT", f"{world.sandbox}/_sandbox/settings", json={"duplicate_window": 0})
    try:
        done = []
        for n in range(rounds):
            done.append(one_round(world, f"burst {world.run_tag} r{n}", posts))
            print(f"  round {n + 1}: platform {done[-1].drain:.2f} s, ceiling {done[-1].ceiling_drain:.2f} s",
                  flush=True)
    finally:
        sandbox_call("PUT", f"{world.sandbox}/_sandbox/settings", json={"duplicate_window": window})

    median = sorted(done, key=lambda r: r.ratio)[len(done) // 2]
    late = [value for r in done for value in r.late]
    missing = sum(r.missing for r in done)
    results.add("burst", "posts published (of posted, all rounds)", posts * rounds - missing, "")
    results.add("burst", "posts sent twice", sum(r.doubled for r in done), "", target="0", check=lambda v: v == 0)
    results.add("burst", "posts sent before their time", sum(1 for v in late if v < 0), "", target="0",
                check=lambda v: v == 0)
    if rounds > 1:
        for n, r in enumerate(done, start=1):
            results.add("burst", f"round {n}: platform {r.drain:.1f} s ÷ ceiling {r.ceiling_drain:.1f} s",
                        r.ratio, "×")
    results.add("burst", "platform drain time (median round)", median.drain, "s")
    results.add("burst", "ceiling drain time, bare tweepy loop (median round)", median.ceiling_drain, "s")
    results.add("burst", "platform drain ÷ ceiling drain (median round)", median.ratio, "×", target="≤ 1.2",
                check=lambda v: v <= 1.2)
    results.add("burst", "database connections opened while draining (median round)", median.sessions, "")
    results.add("burst", "CPU per post: platform (workers and beat)",
                statistics.mean(r.platform_cpu for r in done), "s")
    results.add("burst", "CPU per post: ceiling loop", statistics.mean(r.loop_cpu for r in done), "s")
    results.add("burst", "CPU per post: platform ÷ ceiling loop",
                sum(r.platform_cpu for r in done) / sum(r.loop_cpu for r in done), "×", target="≤ 1.5",
                check=lambda v: v <= 1.5)
    results.add("burst", "CPU per post: sandbox, serving the platform",
                statistics.mean(r.sandbox_cpu_platform for r in done), "s")
    results.add("burst", "CPU per post: sandbox, serving the ceiling",
                statistics.mean(r.sandbox_cpu_ceiling for r in done), "s")
    for q in (50, 95, 99):
        results.add("burst", f"lateness p{q} (all rounds)", percentile(late, q, missing=missing), "s")
    results.add("burst", "lateness max (all rounds)", max(late) if late else None, "s")
    results.lateness["burst (all due at once)"] = late
