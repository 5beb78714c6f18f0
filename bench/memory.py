"""Scenario 5, memory: the workers' resident memory after 1,000 published
posts and after 20,000, to show that nothing accumulates per post."""

from __future__ import annotations

import time

from bots.models import Post

from .harness import usage
from .report import Results
from .world import World, clear_posts, new_post, start_platform, wait_published

WAVE = 2_000


def publish(world: World, prefix: str, first: int, count: int) -> None:
    """``count`` posts due now, in waves so the queue stays a realistic size."""
    for start in range(first, first + count, WAVE):
        size = min(WAVE, first + count - start)
        due = time.time()
        Post.objects.bulk_create(
            [new_post(world.accounts[n % len(world.accounts)], f"{prefix} {n}", due)
             for n in range(start, start + size)],
            batch_size=1_000,
        )
        wait_published(prefix, start + size, seconds=600, system=world.system)


def worker_rss(world: World) -> float:
    return usage(world.system.worker_pids()).rss_bytes / 2**20


def run(world: World, results: Results) -> None:
    warm, total = (20, 200) if world.small else (1_000, 20_000)
    print(f"memory: worker RSS after {warm:,} and after {total:,} published posts", flush=True)
    clear_posts()
    start_platform(world)
    prefix = f"memory {world.run_tag}"
    publish(world, prefix, 0, warm)
    time.sleep(2)
    after_warm = worker_rss(world)
    publish(world, prefix, warm, total - warm)
    time.sleep(2)
    after_total = worker_rss(world)
    world.system.stop_platform()
    clear_posts()
    results.add("memory", f"workers' RSS after {warm:,} posts (all workers)", after_warm, "MB")
    results.add("memory", f"workers' RSS after {total:,} posts (all workers)", after_total, "MB")
    results.add("memory", "RSS growth", after_total - after_warm, "MB", target="≤ 20 MB", check=lambda v: v <= 20)
