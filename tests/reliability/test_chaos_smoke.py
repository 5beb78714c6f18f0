"""The chaos run works, small: ``python -m bench chaos --small`` publishes 200
posts across 20 accounts while workers are killed, Redis and PostgreSQL
restarted, publish tasks delivered twice at once and X fails every way it can,
with X's duplicate rule off, and every post is accounted for: none lost, none
twice on X (RELIABILITY.md has the full run's figures)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bench.chaos import AT_THE_CLAIM, MID_REQUEST
from tests.support import ROOT


@pytest.mark.timeout(300)
def test_a_small_chaos_run_loses_nothing_and_doubles_nothing(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "bench", "chaos", "--small", "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=280,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]

    result = json.loads((tmp_path / "chaos.json").read_text())
    figures = result["figures"]
    assert result["failures"] == []
    assert figures["lost"] == 0
    # A second send would be a second post on X, so "no duplicates" means none was sent twice.
    assert figures["X's duplicate rule (sandbox duplicate_window)"].startswith("off (0 s)")
    assert figures["duplicates on X"] == 0
    assert figures["posts on X of one post, max"] == 1
    assert figures["posts in the database"] == figures["posts scheduled"] == 200
    assert figures["published"] + figures["failed"] + figures["held (account needs reconnecting)"] == 200
    assert figures["posts on the revoked account after revocation"] == 0
    assert figures["requests before a 429's reset, sent after it (early_retries)"] == 0
    # Every fault class struck at least once.
    for kind in ("worker kill -9", "worker kill -9 mid-request", "Redis restart without persistence",
                 "Redis FLUSHALL", "PostgreSQL fast shutdown (pg_ctl -m fast) while workers hold results",
                 "PostgreSQL restart (pg_ctl -m immediate: crash and recovery)", "sandbox faults on", "429 wave",
                 "OAuth 2.0 tokens expired", "account revoked", AT_THE_CLAIM, MID_REQUEST):
        assert result["faults"].get(kind, 0) >= 1, (kind, result["faults"])
    assert figures["429 answers"] > 0
    # The table a person reads.
    assert "| lost | 0 |" in run.stdout and "| duplicates on X | 0 |" in run.stdout
