"""Celery tasks: each loads ids and calls a service. Retries live in the
database (``next_attempt_at``), never in Celery."""

from __future__ import annotations

from datetime import datetime

from celery import shared_task

from . import csv_io, publisher, recurring, scheduler


@shared_task(ignore_result=True)
def dispatch_due_posts() -> int:
    return len(scheduler.claim_due_posts(enqueue=_publish, lookahead=scheduler.DISPATCH_LOOKAHEAD))


def _publish(post_id: int, eta: datetime | None = None) -> None:
    publish_post.apply_async((post_id,), eta=eta)


@shared_task(ignore_result=True)
def publish_post(post_id: int) -> str:
    return publisher.publish_post(post_id=post_id)


@shared_task(ignore_result=True)
def sweep_stale_posts() -> dict[str, int]:
    return scheduler.sweep_stale_posts()


@shared_task(ignore_result=True)
def reconcile_unknown_posts() -> dict[str, int]:
    return publisher.reconcile_unknown_posts()


@shared_task(ignore_result=True)
def run_bot(bot_id: int, slot: str | None = None) -> str:
    """Beat's fire for one bot. ``slot`` (ISO 8601) names the scheduled time
    when the sender knows it; otherwise the service works it out."""
    return recurring.run_bot(bot_id=bot_id, slot=datetime.fromisoformat(slot) if slot else None).outcome


@shared_task(ignore_result=True)
def import_posts_csv(job_id: int) -> str:
    return csv_io.import_job_run(job_id=job_id).status


@shared_task(ignore_result=True)
def sweep_stalled_imports() -> int:
    return csv_io.import_jobs_sweep()
