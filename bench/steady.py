"""Scenario 2, steady: 20 posts a second for 60 seconds, each created ten
seconds before it is due, published by the platform."""

from __future__ import annotations

from .designs import Platform, measure, report, report_cost, steady_load
from .report import Results
from .world import World


def run(world: World, results: Results) -> None:
    load = steady_load(world)
    print(f"steady: {load.rate:g} posts/s for {load.seconds:g} s, each due {load.lead:g} s after it is created",
          flush=True)
    result = measure(world, Platform(), load)
    world.runs[("platform", 0)] = result
    report(results, "steady", result, p99_target="≤ 0.25 s", check=lambda v: v <= 0.25, never_early=True)
    report_cost(results, "steady", result)
