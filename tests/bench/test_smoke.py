"""The benchmark works: ``python -m bench all --small`` starts the whole system
as real processes (PostgreSQL, Redis, the sandbox, Celery workers and beat),
runs a tiny version of every scenario and reports every figure. Nothing here
is timed: the figures of a small run on a shared machine mean nothing."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from tests.support import ROOT

# Every scenario's key figures, by the start of their names.
EXPECTED = {
    "burst": ["platform drain time", "ceiling drain time", "platform drain ÷ ceiling drain", "lateness p50",
              "lateness p95", "lateness p99", "lateness max", "CPU per post: platform ÷ ceiling loop",
              "posts sent before their time"],
    "steady": ["platform (dispatcher + partial index), 0 pending: lateness p50",
               "platform (dispatcher + partial index), 0 pending: lateness p99"],
    "busy": ["platform beside a CSV import and a video upload, 0 pending: lateness p99",
             "CSV import: posts created", "CSV import: from upload to done", "video post"],
    "backlog": ["tick, nothing due", "tick ratio, nothing due", "tick claiming 100 due posts", "tick ratio, 100 due",
                "claim query uses post_due_idx"],
    "baselines": ["(a) PeriodicTask + ClockedSchedule per post, 0 pending: lateness p99",
                  "(a) PeriodicTask + ClockedSchedule per post, 50 pending: lateness p99",
                  "(b) apply_async(eta=…) per post, 0 pending: lateness p99",
                  "(b) apply_async(eta=…) per post, 50 pending: lateness p99",
                  "(a) PeriodicTask + ClockedSchedule per post, 50 pending: beat CPU",
                  "(b) apply_async(eta=…) per post, 50 pending: workers RSS",
                  "p99 lateness, (a) ÷ platform"],
    "memory": ["workers' RSS after 20 posts", "workers' RSS after 200 posts", "RSS growth"],
    "admin": ["admin home (dashboard), 10,000 posts", "Posts list, 10,000 posts",
              "Posts list, a deep page (500, or the last one), 10,000 posts",
              "Posts list filtered by status: scheduled, 10,000 posts", "Calendar (month), 10,000 posts",
              "Posting queues, 10,000 posts", "X accounts, 10,000 posts", "Posts list, search for a rare phrase",
              "Posts list, search for a common phrase", "Posts list filtered by account, 10,000 posts",
              "CSV export at 10,000 posts: first byte", "CSV export at 10,000 posts: web worker's memory growth"],
}


@pytest.mark.timeout(600)
def test_every_scenario_runs_small_and_reports_every_figure(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "bench", "all", "--small", "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=540,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]

    results = json.loads((tmp_path / "results.json").read_text())
    figures = results["figures"]
    for scenario, names in EXPECTED.items():
        reported = [f["name"] for f in figures if f["scenario"] == scenario]
        for name in names:
            assert any(r.startswith(name) for r in reported), f"{scenario}: no figure {name!r} in {reported}"
    for figure in figures:
        assert figure["value"] is not None and not math.isnan(figure["value"]), figure
        # Exactly once holds in every design, however fast the machine.
        if "sent twice" in figure["name"]:
            assert figure["value"] == 0, figure
        # Nor does the platform send a post before its time (the baselines' early posts are only shown).
        if "before their time" in figure["name"] and figure["target"]:
            assert figure["value"] == 0, figure
    assert "post_due_idx" in results["explain"]
    # Each admin page's slowest query, with PostgreSQL's plan for it.
    assert results["plans"] and all("Execution Time" in plan for plan in results["plans"].values())
    # The burst, the busy platform, and three designs with and without pending posts.
    assert len(results["lateness"]) == 8
    assert (tmp_path / "lateness.png").read_bytes().startswith(b"\x89PNG")
