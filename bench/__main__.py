"""``python -m bench <scenario> [--small]``: start the whole system as real
processes, run the scenario, print every figure beside its target, and keep
the figures (JSON) and the lateness plot (PNG)."""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import subprocess
import sys
import time
import traceback
from pathlib import Path

from .harness import ROOT, System
from .report import Results, plot_lateness
from .world import Layout, World, create_accounts, migrate, raise_sandbox_limits, setup_django

SCENARIOS = ("burst", "steady", "busy", "backlog", "baselines", "memory", "admin")
# Two cores here: two worker processes (one GIL each) of four threads, since
# a publish mostly waits on the network and the database.
DEFAULT_LAYOUT = Layout(processes=2, threads=4)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("scenario", choices=(*SCENARIOS, "all"))
    parser.add_argument("--small", action="store_true",
                        help="a tiny version of each scenario (a few dozen posts): proves the benchmark works")
    parser.add_argument("--processes", type=int, default=DEFAULT_LAYOUT.processes,
                        help="Celery worker processes, K (default %(default)s)")
    parser.add_argument("--threads", type=int, default=DEFAULT_LAYOUT.threads,
                        help="threads per worker process (default %(default)s)")
    parser.add_argument("--pool", choices=("threads", "prefork"), default=DEFAULT_LAYOUT.pool,
                        help="the workers' pool: threads (one process, C threads) or prefork (C child "
                             "processes); default %(default)s")
    parser.add_argument("--claim-batch", type=int, default=500, help="POST_CLAIM_BATCH (default %(default)s)")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench",
                        help="where results.json and lateness.png go (default var/bench)")
    parser.add_argument("--database-url", default=None,
                        help="a PostgreSQL where the run may create its own database "
                             "(default: $DATABASE_URL if it is PostgreSQL, else a throwaway cluster)")
    parser.add_argument("--setting", action="append", default=[], metavar="NAME=VALUE",
                        help="an extra environment variable for the platform's processes (repeatable)")
    args = parser.parse_args(argv)
    for item in args.setting:
        if "=" not in item:
            parser.error(f"--setting takes NAME=VALUE, got {item!r}")
    if args.processes < 1 or args.threads < 1:
        parser.error("--processes and --threads must be at least 1")
    return args


def machine() -> str:
    import psutil

    pg = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.strip()
    redis = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.split()[2:3]
    return (f"{psutil.cpu_count()} CPUs, {psutil.virtual_memory().total / 2**30:.1f} GiB, "
            f"Python {platform.python_version()}, {pg}, Redis {''.join(redis).removeprefix('v=')}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["chaos"]:
        # Its own processes, settings and faults: bench/chaos.py.
        from .chaos import main as chaos

        return chaos(argv[1:])
    args = parse_args(argv)
    scenarios = SCENARIOS if args.scenario == "all" else (args.scenario,)
    layout = Layout(processes=args.processes, threads=args.threads, pool=args.pool)
    results = Results(notes=[f"machine: {machine()}",
                             # Anything else running on the machine shows here (2.0 fills two cores).
                             f"load average before the run: {os.getloadavg()[0]:.1f}",
                             f"layout: {layout.processes} worker processes x {layout.threads} ({layout.pool} pool)",
                             f"command: python -m bench {' '.join(sys.argv[1:] if argv is None else argv)}"])
    print("\n".join(results.notes), flush=True)
    began = time.monotonic()
    with System(database_url=args.database_url) as system:
        setup_django(system, {
            "POST_CLAIM_BATCH": str(args.claim_batch),
            "CELERY_WORKER_CONCURRENCY": str(layout.threads),
            "POSTS_PER_24_H_PER_APP": "10000000",
            # As many requests in flight as the ceiling's callers (processes x
            # threads): each worker thread sends its batch's posts one by one.
            "PUBLISH_CONCURRENCY": "1",
            # Workers keep their database connection between tasks.
            "DATABASE_CONN_MAX_AGE": "60",
            **dict(item.split("=", 1) for item in args.setting),
        })
        migrate()
        world = World(system=system, small=args.small, layout=layout)
        create_accounts(world, 50 if args.small else 1_000)
        raise_sandbox_limits(world.sandbox)
        try:
            for name in scenarios:
                print(f"\n== {name}", flush=True)
                importlib.import_module(f"bench.{name}").run(world, results)
                results.save(args.out / "results.json")
        except Exception:
            traceback.print_exc()
            print(system.log_tail(), file=sys.stderr)
            system.failed = True
            return 1
        finally:
            system.stop_platform()
    results.notes.append(f"load average after the run: {os.getloadavg()[0]:.1f}")
    results.notes.append(f"wall time: {time.monotonic() - began:.0f} s")
    results.save(args.out / "results.json")
    if results.lateness:
        plot_lateness(results.lateness, results.unpublished, args.out / "lateness.png",
                      title=f"Lateness per design ({'small run' if args.small else 'steady load, 20 posts/s'})")
    print("\n" + results.table())
    print(f"\n{results.notes[-1]}; figures in {args.out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
