"""Where a profile of the workers spends its samples, by kind of work.

Reads py-spy's raw (collapsed) output: one line per stack, ``frame;frame;…
count``. Each sample is put under the innermost frame of a known kind (the
PostgreSQL driver, the HTTP request to X, Celery and Redis, …), and the top
leaf frames are listed. BENCHMARKS.md shows how the profile is recorded.

    python -m bench.profile_summary worker0.txt worker1.txt
"""

from __future__ import annotations

import sys
from collections import Counter

KINDS = (
    ("PostgreSQL driver (psycopg: sending, waiting for answers)", ("psycopg",)),
    ("X request (requests, urllib3, sockets)", ("urllib3", "requests/", "http/client", "ssl.py", "socket.py")),
    ("tweepy (client, parsing)", ("tweepy",)),
    ("token decryption (Fernet)", ("fernet", "cryptography", "crypto.py")),
    ("Celery, kombu and Redis (messages, acks)", ("celery", "kombu", "redis", "billiard")),
    ("Django ORM (building queries, making models)", ("django/db",)),
    ("twitter-text and validation", ("twitter_text", "validation.py")),
)


def summary(lines: list[str], top: int = 12) -> str:
    kinds: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    total = 0
    for line in lines:
        stack, _, count = line.rstrip().rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        kind = next((name for frame in reversed(frames) for name, marks in KINDS if any(m in frame for m in marks)),
                    "other (the interpreter, the platform's own code)")
        kinds[kind] += n
        leaves[frames[-1]] += n
    out = [f"{total:,} samples"]
    out += [f"{100 * n / total:5.1f} %  {kind}" for kind, n in kinds.most_common()]
    out += ["", "top leaf frames:"]
    out += [f"{100 * n / total:5.1f} %  {frame}" for frame, n in leaves.most_common(top)]
    return "\n".join(out)


if __name__ == "__main__":
    collected: list[str] = []
    for name in sys.argv[1:]:
        with open(name, encoding="utf-8") as f:
            collected += f.readlines()
    print(summary(collected))
