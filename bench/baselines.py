"""Scenario 4, baselines in the same run: the steady load of scenario 2 on the
platform and on the two usual designs, with nothing else pending and with
10,000 pending posts (designs.py describes them)."""

from __future__ import annotations

import math

from .designs import DESIGNS, measure, report, report_cost, steady_load
from .report import Results, percentile
from .world import World

PENDING = 10_000


def run(world: World, results: Results) -> None:
    for pending in (0, PENDING):
        for design in DESIGNS:
            load = steady_load(world, pending)
            print(f"baselines: {design.label}, {load.pending:,} pending", flush=True)
            key = (design.key, load.pending)
            if key not in world.runs:
                world.runs[key] = measure(world, design, load)
            result = world.runs[key]
            report(results, "baselines", result)
            report_cost(results, "baselines", result)
    pending = steady_load(world, PENDING).pending
    platform = world.runs[("platform", pending)]
    periodic = world.runs[("periodic_task", pending)]
    ours = percentile(platform.late, 99, missing=platform.missing)
    # (a)'s p99 may be beyond the run's end: the ratio is then a lower bound.
    theirs = percentile(periodic.at_least, 99)
    bound = ", at least" if periodic.missing else ""
    ratio = math.inf if ours <= 0 else theirs / ours
    results.add("baselines", f"p99 lateness, (a) ÷ platform, {pending:,} pending{bound}", ratio, "×",
                target="≥ 10×", check=lambda v: v >= 10)
