"""Whether the platform's parts are up, for /healthz.

Beat's liveness is shown by its effect: beat sends the heartbeat task every
10 s and a worker, running it, stores the time in Redis. A fresh heartbeat
proves beat, the broker and a worker together; the worker check (a broadcast
ping) tells which of beat and the workers is missing when it is stale.
Every probe has a short timeout, so /healthz answers even when a part hangs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import redis
from django.conf import settings
from django.db import Error as DatabaseError
from django.db import connection
from kombu.exceptions import KombuError

from botplatform.celery import app as celery_app

logger = logging.getLogger(__name__)

HEARTBEAT_KEY = "botplatform:beat-heartbeat"
REDIS_TIMEOUT_SECONDS = 1.0
WORKER_PING_TIMEOUT_SECONDS = 1.0


@dataclass
class Check:
    ok: bool
    details: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"status": "ok" if self.ok else "fail", **self.details}


@dataclass
class Report:
    checks: dict[str, Check]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks.values())

    def as_json(self) -> dict[str, Any]:
        return {
            "status": "ok" if self.ok else "fail",
            "checks": {name: check.as_json() for name, check in self.checks.items()},
        }


def redis_client() -> redis.Redis:
    return redis.Redis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
    )


def record_heartbeat(*, at: datetime | None = None) -> None:
    at = at or datetime.now(UTC)
    with redis_client() as client:
        client.set(HEARTBEAT_KEY, at.isoformat())


def last_heartbeat(client: redis.Redis) -> datetime | None:
    value = client.get(HEARTBEAT_KEY)
    return datetime.fromisoformat(value.decode()) if value else None


def _failure(part: str, error: Exception) -> Check:
    # The reason goes to the log; the public answer names only its kind, as
    # messages may carry host names and user names.
    logger.warning("health check: %s is down: %s", part, error)
    return Check(ok=False, details={"error": type(error).__name__})


def _timed(probe: Callable[[], None]) -> dict[str, Any]:
    started = time.monotonic()
    probe()
    return {"latency_ms": round((time.monotonic() - started) * 1000, 1)}


def check_database() -> Check:
    def probe() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")

    try:
        return Check(ok=True, details=_timed(probe))
    except DatabaseError as error:
        return _failure("the database", error)


def check_redis(client: redis.Redis) -> Check:
    try:
        return Check(ok=True, details=_timed(client.ping))
    except redis.RedisError as error:
        return _failure("Redis", error)


def check_beat(client: redis.Redis, *, now: datetime) -> Check:
    max_age = settings.BEAT_HEARTBEAT_MAX_AGE
    try:
        beat = last_heartbeat(client)
    except redis.RedisError as error:
        return _failure("beat's heartbeat", error)
    if beat is None:
        return Check(ok=False, details={"last_heartbeat": None, "age_seconds": None, "max_age_seconds": max_age})
    age = (now - beat).total_seconds()
    return Check(
        ok=age <= max_age,
        details={"last_heartbeat": beat.isoformat(), "age_seconds": round(age, 1), "max_age_seconds": max_age},
    )


def check_workers() -> Check:
    try:
        replies = celery_app.control.ping(timeout=WORKER_PING_TIMEOUT_SECONDS, limit=1)
    except (KombuError, redis.RedisError, OSError) as error:
        return _failure("the workers", error)
    names = sorted(name for reply in replies for name in reply)
    return Check(ok=bool(names), details={"answered": names})


def health_report(*, now: datetime | None = None) -> Report:
    now = now or datetime.now(UTC)
    with redis_client() as client:
        checks = {"database": check_database(), "redis": check_redis(client)}
        if checks["redis"].ok:
            checks["beat"] = check_beat(client, now=now)
            checks["workers"] = check_workers()
        else:
            # Both live in Redis: asking again would only wait out more timeouts.
            checks["beat"] = Check(ok=False, details={"error": "Redis is down"})
            checks["workers"] = Check(ok=False, details={"error": "Redis is down"})
    return Report(checks=checks)
