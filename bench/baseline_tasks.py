"""The task both baselines run at a post's time: claim the post and publish it
with the platform's own publisher. Loaded into the workers with
``--include bench.baseline_tasks`` for the baseline runs only; the product
never imports it."""

from __future__ import annotations

from celery import shared_task

from bots.posting import publisher, scheduler


@shared_task(ignore_result=True)
def publish_scheduled_post(post_id: int) -> str:
    if not scheduler.claim_post(post_id=post_id):
        return "skipped"
    return publisher.publish_post(post_id=post_id)
