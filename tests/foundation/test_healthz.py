"""GET /healthz: 200 when the database, Redis, beat and the workers are up,
503 naming the part that is not."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis
from django.test import Client

from botplatform import health
from tests.foundation.django_process import production_env, run
from tests.foundation.helpers import wait_until
from tests.support import free_port


@pytest.fixture
def heartbeat_store(redis_url: str) -> Iterator[redis.Redis]:
    with redis.Redis.from_url(redis_url) as client:
        client.delete(health.HEARTBEAT_KEY)
        yield client


def healthz(client: Client) -> tuple[int, dict]:
    response = client.get("/healthz")
    assert response["Content-Type"] == "application/json"
    return response.status_code, json.loads(response.content)


def test_healthz_is_ok_once_beat_has_had_its_heartbeat_run_by_a_worker(
    heartbeat_store: redis.Redis, beat: None, client: Client
) -> None:
    wait_until(lambda: heartbeat_store.exists(health.HEARTBEAT_KEY) == 1, what="beat's first heartbeat")

    status, body = healthz(client)

    assert status == 200, body
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "redis", "beat", "workers"}
    assert all(check["status"] == "ok" for check in body["checks"].values())
    assert 0 <= body["checks"]["beat"]["age_seconds"] < 10
    assert datetime.fromisoformat(body["checks"]["beat"]["last_heartbeat"]) > datetime.now(UTC) - timedelta(seconds=10)
    assert body["checks"]["workers"]["answered"]


@pytest.mark.django_db
def test_a_stale_heartbeat_is_beat_down(heartbeat_store: redis.Redis, client: Client) -> None:
    health.record_heartbeat(at=datetime.now(UTC) - timedelta(seconds=90))

    status, body = healthz(client)

    assert status == 503
    assert body["status"] == "fail"
    beat = body["checks"]["beat"]
    assert beat["status"] == "fail"
    assert 90 <= beat["age_seconds"] < 100
    assert beat["max_age_seconds"] == 60
    assert body["checks"]["database"]["status"] == body["checks"]["redis"]["status"] == "ok"


@pytest.mark.django_db
def test_a_heartbeat_never_seen_is_beat_down(heartbeat_store: redis.Redis, client: Client) -> None:
    status, body = healthz(client)

    assert status == 503
    assert body["checks"]["beat"] == {
        "status": "fail",
        "last_heartbeat": None,
        "age_seconds": None,
        "max_age_seconds": 60,
    }


@pytest.mark.django_db
def test_a_fresh_heartbeat_without_a_worker_answering_names_the_workers(
    heartbeat_store: redis.Redis, client: Client
) -> None:
    health.record_heartbeat()

    status, body = healthz(client)

    assert status == 503
    assert body["checks"]["beat"]["status"] == "ok"
    assert body["checks"]["workers"] == {"status": "fail", "answered": []}


@pytest.mark.django_db
def test_redis_down_fails_fast(redis_url: str, client: Client, settings) -> None:
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"

    started = time.monotonic()
    status, body = healthz(client)

    assert time.monotonic() - started < 3
    assert status == 503
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["redis"] == {"status": "fail", "error": "ConnectionError"}
    assert body["checks"]["beat"]["status"] == body["checks"]["workers"]["status"] == "fail"


PROBE = (
    "import django; django.setup(); from django.test import Client; "
    "r = Client().get('/healthz'); print(r.status_code); print(r.content.decode())"
)


def test_database_down_is_reported(redis_url: str) -> None:
    env = {
        "DJANGO_SETTINGS_MODULE": "botplatform.settings",
        "ALLOWED_HOSTS": "testserver",
        "REDIS_URL": redis_url,
        "DATABASE_URL": f"postgres://bots:pw@127.0.0.1:{free_port()}/bots",
    }

    result = run(["-c", PROBE], env)

    assert result.returncode == 0, result.stderr
    status, body = result.stdout.splitlines()
    checks = json.loads(body)["checks"]
    assert status == "503"
    assert checks["database"] == {"status": "fail", "error": "OperationalError"}
    assert checks["redis"]["status"] == "ok"


def test_healthz_answers_plain_http_in_production(redis_url: str) -> None:
    # Load balancers probe over HTTP; everything else is redirected to HTTPS.
    env = production_env() | {"DJANGO_SETTINGS_MODULE": "botplatform.settings", "ALLOWED_HOSTS": "testserver"}
    probe = PROBE + "; print(Client().get('/admin/').status_code)"

    result = run(["-c", probe], env)

    assert result.returncode == 0, result.stderr
    healthz_status, _, admin_status = result.stdout.splitlines()
    assert healthz_status in ("200", "503")
    assert admin_status == "301"


@pytest.mark.django_db
def test_healthz_is_never_cached_and_only_read(client: Client, settings) -> None:
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"

    assert "no-store" in client.get("/healthz")["Cache-Control"]
    assert client.post("/healthz").status_code == 405

