"""A post's media on the worker: a file that cannot be read fails the post
with the reason instead of looping through claims, and a claim with media
outlives its task, so a slow upload is never started a second time."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import PurePosixPath

import requests
from django.db import connection
from django.utils import timezone

from bots.models import Post
from bots.posting import publisher, scheduler
from tests.foundation.helpers import wait_until

from .conftest import link_with_minted_tokens, sandbox_posts, schedule, set_faults


def test_a_media_file_missing_on_the_worker_fails_the_post_with_the_reason(
    sandbox, owner, fast_publishing, media_file
):
    account = link_with_minted_tokens(sandbox, owner, "alice_bot")
    post = schedule(account, "With a picture that is gone")
    item = media_file(post, "gone.png", "image/png")
    item.file.storage.delete(item.file.name)
    assert scheduler.claim_post(post_id=post.pk)

    assert publisher.publish_post(post_id=post.pk) == "failed"

    failed = Post.objects.get(pk=post.pk)
    assert failed.status == Post.Status.FAILED
    assert PurePosixPath(item.file.name).name in failed.last_error and "cannot be read" in failed.last_error
    assert "attach it again" in failed.last_error
    log = requests.get(f"{sandbox}/_sandbox/requests", timeout=10).json()["requests"]
    assert [r["endpoint"] for r in log if "/2/media" in r["path"] or r["path"] == "/2/tweets"] == []


def test_a_slow_upload_keeps_its_claim_past_the_usual_lease(sandbox, owner, fast_publishing, media_file, settings):
    account = link_with_minted_tokens(sandbox, owner, "alice_bot")
    post = schedule(account, "With a picture that uploads slowly")
    media_file(post, "slow.png", "image/png")
    set_faults(sandbox, {"endpoint": "POST /2/media/upload/initialize", "mode": "latency", "seconds": 2, "count": 1})
    assert scheduler.claim_post(post_id=post.pk)
    outcome: list[str] = []

    def deliver() -> None:
        try:
            outcome.append(publisher.publish_post(post_id=post.pk))
        finally:
            connection.close()

    worker = threading.Thread(target=deliver)
    worker.start()
    lasts_past_the_task = timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    wait_until(
        lambda: Post.objects.get(pk=post.pk).lease_expires_at > timezone.now() + lasts_past_the_task,
        what="the claim renewed for the upload",
    )
    # The usual lease (POST_LEASE_SECONDS) has run out by now for the sweeper:
    # the claim must not be handed back while the upload is still going.
    swept = scheduler.sweep_stale_posts(now=timezone.now() + timedelta(seconds=settings.POST_LEASE_SECONDS + 1))
    worker.join(timeout=30)

    assert swept["returned"] == 0
    assert outcome == ["published"]
    assert len(sandbox_posts(sandbox, username="alice_bot")) == 1
