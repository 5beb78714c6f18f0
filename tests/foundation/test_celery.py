"""Tasks travel as JSON through the real Redis to a real worker, delivered at
least once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from kombu.exceptions import EncodeError

from botplatform import health
from botplatform.celery import app as celery_app
from botplatform.tasks import beat_heartbeat
from tests.foundation.helpers import wait_until

ROOT = Path(__file__).resolve().parents[2]


def test_a_task_goes_through_redis_to_a_worker_and_runs(redis_url: str, worker: object) -> None:
    with redis.Redis.from_url(redis_url) as client:
        client.delete(health.HEARTBEAT_KEY)
        sent = datetime.now(UTC)

        beat_heartbeat.delay()

        wait_until(lambda: client.exists(health.HEARTBEAT_KEY) == 1, what="the worker running the task")
        assert sent <= health.last_heartbeat(client) <= sent + timedelta(seconds=10)


def test_only_json_goes_on_the_wire(redis_url: str) -> None:
    with pytest.raises(EncodeError):
        celery_app.send_task(beat_heartbeat.name, args=[object()])


def test_the_app_takes_its_delivery_rules_from_the_settings() -> None:
    conf = celery_app.conf

    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert (conf.task_soft_time_limit, conf.task_time_limit) == (240, 300)
    assert conf.broker_transport_options["visibility_timeout"] == 3600
    assert conf.accept_content == ["json"]
    assert conf.beat_scheduler == "django_celery_beat.schedulers:DatabaseScheduler"


def test_dispatch_publishing_and_bulk_work_travel_on_queues_of_their_own(redis_url: str) -> None:
    from bots.planning.tasks import import_posts_csv
    from bots.posting.tasks import dispatch_due_posts, publish_post

    queues = ("dispatch", "publish", "bulk", "celery")
    with redis.Redis.from_url(redis_url) as client:
        client.delete(*queues)
        try:
            dispatch_due_posts.delay()
            publish_post.delay(0)
            publish_post.delay(0)
            import_posts_csv.delay(0)
            beat_heartbeat.delay()

            assert {name: client.llen(name) for name in queues} == {"dispatch": 2, "publish": 2, "bulk": 1,
                                                                     "celery": 0}
        finally:
            client.delete(*queues)


def test_each_queue_has_a_pool_in_the_procfile() -> None:
    # A queue no process takes would hold its tasks for ever.
    procfile = (ROOT / "Procfile").read_text()
    taken = {name for line in procfile.splitlines() if " worker " in line
             for name in line.split("--queues ")[1].split()[0].split(",")}
    routed = {route["queue"] for route in celery_app.conf.task_routes.values()}
    assert routed | {celery_app.conf.task_default_queue} <= taken == {q.name for q in celery_app.conf.task_queues}
