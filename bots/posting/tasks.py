"""Publishing's Celery tasks: each loads ids and calls a service. Retries live
in the database (``next_attempt_at``), never in Celery.

The tasks keep the names they had before the app was split into concerns, so
that messages already queued and beat's stored schedules still find them."""

from __future__ import annotations

from datetime import datetime

from celery import shared_task

from bots.posting import publisher, scheduler


@shared_task(name="bots.tasks.dispatch_due_posts", ignore_result=True)
def dispatch_due_posts() -> int:
    return len(scheduler.claim_due_posts(enqueue=_publish, lookahead=scheduler.DISPATCH_LOOKAHEAD))


def _publish(post_ids: list[int], eta: datetime | None) -> None:
    publish_posts.apply_async((post_ids,), eta=eta)


@shared_task(name="bots.tasks.publish_posts", ignore_result=True)
def publish_posts(post_ids: list[int]) -> dict[str, int]:
    return publisher.publish_posts(post_ids=post_ids)


@shared_task(name="bots.tasks.publish_post", ignore_result=True)
def publish_post(post_id: int) -> str:
    return publisher.publish_post(post_id=post_id)


@shared_task(name="bots.tasks.sweep_stale_posts", ignore_result=True)
def sweep_stale_posts() -> dict[str, int]:
    return scheduler.sweep_stale_posts()


@shared_task(name="bots.tasks.reconcile_unknown_posts", ignore_result=True)
def reconcile_unknown_posts() -> dict[str, int]:
    return publisher.reconcile_unknown_posts()
