"""A scheduled post is published once, shortly after its time, and shows as
published with its URL: on its own, as a thread, with images, with a video
that X has to process, and with a poll."""

from __future__ import annotations

import requests

from bots.models import Post
from bots.posting import publisher, scheduler
from tests.foundation.helpers import wait_until

from .conftest import link_with_minted_tokens, published, sandbox_posts, schedule


def test_a_scheduled_post_is_published_once_after_its_time(pipeline, sandbox, owner):
    account = link_with_minted_tokens(sandbox, owner, "alice_bot")
    post = schedule(account, "Good morning from the platform", in_seconds=2)

    done = published(post)

    on_x = sandbox_posts(sandbox, username="alice_bot")
    assert [p["text"] for p in on_x] == ["Good morning from the platform"]
    assert on_x[0]["request_count"] == 1
    assert on_x[0]["created_at"] >= post.scheduled_at.timestamp()
    assert done.x_post_id == on_x[0]["id"]
    assert done.x_post_url == f"https://x.com/alice_bot/status/{done.x_post_id}"
    assert done.last_error == ""


def test_an_oauth1_account_publishes_too(pipeline, sandbox, owner):
    account = link_with_minted_tokens(sandbox, owner, "carol_daily", method="oauth1")

    published(schedule(account, "Signed with OAuth 1.0a"))

    assert [p["text"] for p in sandbox_posts(sandbox, username="carol_daily")] == ["Signed with OAuth 1.0a"]


def test_a_three_part_thread_replies_part_to_part(pipeline, sandbox, owner):
    account = link_with_minted_tokens(sandbox, owner, "alice_bot")
    root = schedule(account, "A thread 1/3", parts=("and 2/3", "and 3/3"))

    parts = [published(p) for p in [root, *root.parts.order_by("position")]]

    on_x = {p["id"]: p for p in sandbox_posts(sandbox, username="alice_bot")}
    assert len(on_x) == 3
    assert on_x[parts[0].x_post_id]["reply_to"] is None
    assert on_x[parts[1].x_post_id]["reply_to"] == parts[0].x_post_id
    assert on_x[parts[2].x_post_id]["reply_to"] == parts[1].x_post_id


def test_a_poll_is_published(pipeline, sandbox, owner):
    account = link_with_minted_tokens(sandbox, owner, "alice_bot")

    published(schedule(account, "Tea or coffee?", poll_options=["Tea", "Coffee"], poll_duration_minutes=60))

    (on_x,) = sandbox_posts(sandbox, username="alice_bot")
    assert on_x["poll"]["options"] == ["Tea", "Coffee"]
    assert on_x["poll"]["duration_minutes"] == 60


def test_a_post_with_two_images(pipeline, sandbox, owner, media_file):
    account = link_with_minted_tokens(sandbox, owner, "alice_bot")
    post = schedule(account, "Two pictures", in_seconds=60)
    media_file(post, "a.png", "image/png", alt_text="A red square")
    media_file(post, "b.png", "image/png")
    Post.objects.filter(pk=post.pk).update(next_attempt_at=post.created_at)

    done = published(post)

    (on_x,) = sandbox_posts(sandbox, username="alice_bot")
    assert len(on_x["media_keys"]) == 2
    assert done.media.filter(x_media_id="").count() == 0


def test_a_video_waits_for_processing_without_holding_a_worker(pipeline, sandbox, owner, media_file):
    requests.put(f"{sandbox}/_sandbox/settings", json={"video_processing_secs": 2}, timeout=10)
    account = link_with_minted_tokens(sandbox, owner, "alice_bot")
    post = schedule(account, "A clip", in_seconds=60)
    media_file(post, "clip.mp4", "video/mp4")
    Post.objects.filter(pk=post.pk).update(next_attempt_at=post.created_at)

    wait_until(
        lambda: Post.objects.get(pk=post.pk).last_error == "Waiting for X to finish processing the video.",
        what="the post waiting for video processing",
    )
    done = published(post)

    (on_x,) = sandbox_posts(sandbox, username="alice_bot")
    assert len(on_x["media_keys"]) == 1
    assert done.attempts == 0


def test_a_delivery_that_comes_early_waits_for_the_posts_time(sandbox, owner, fast_publishing):
    account = link_with_minted_tokens(sandbox, owner, "alice_bot")
    post = schedule(account, "At its time, never before", in_seconds=1.5)
    enqueued = []

    scheduler.claim_due_posts(enqueue=lambda ids, eta: enqueued.append((ids, eta)),
                              lookahead=scheduler.DISPATCH_LOOKAHEAD)
    # Claimed ahead and handed on with its time as the task's ETA; here the
    # delivery comes at once, 1.5 s early (Celery's timer fires a few ms early).
    assert enqueued == [([post.pk], post.scheduled_at)]
    assert publisher.publish_posts(post_ids=[post.pk]) == {"published": 1}

    (on_x,) = sandbox_posts(sandbox, username="alice_bot")
    assert on_x["created_at"] >= post.scheduled_at.timestamp()
