"""Every post is published exactly once: a task delivered twice, two
dispatchers at once, and Redis losing every task mid-run. Two deliveries of
one post racing at its row are forced in test_races.py."""

from __future__ import annotations

import threading

import redis
from django.db import connection

from bots.models import Post
from bots.posting import scheduler
from bots.posting.tasks import publish_post
from tests.foundation.helpers import wait_until

from .conftest import link_with_minted_tokens, published, sandbox_posts, schedule


def test_the_same_publish_task_delivered_twice_posts_once(
    redis_url, worker, sandbox, owner, fast_publishing, no_duplicate_rule
):
    account = link_with_minted_tokens(sandbox, owner, "alice_bot")
    post = schedule(account, "Delivered twice")
    assert scheduler.claim_post(post_id=post.pk)

    publish_post.delay(post.pk)
    publish_post.delay(post.pk)

    published(post)
    wait_until(lambda: worker.consumer.controller.state.total_count.get(publish_post.name, 0) >= 2,
               what="both deliveries running")
    (on_x,) = sandbox_posts(sandbox, username="alice_bot")
    assert on_x["request_count"] == 1


def test_two_dispatchers_at_once_claim_each_post_once(transactional_db, sandbox, owner, fast_publishing):
    accounts = [link_with_minted_tokens(sandbox, owner, name) for name in ("alice_bot", "bob_news", "carol_daily")]
    posts = [schedule(accounts[i % 3], f"Post number {i}") for i in range(30)]
    start = threading.Barrier(2)
    claimed: list[list[int]] = [[], []]

    def dispatch(mine: list[int]) -> None:
        start.wait()
        try:
            while batch := scheduler.claim_due_posts(enqueue=lambda ids, eta: mine.extend(ids)):
                assert batch
        finally:
            connection.close()

    threads = [threading.Thread(target=dispatch, args=(claimed[i],)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert set(claimed[0]).isdisjoint(claimed[1])
    assert sorted(claimed[0] + claimed[1]) == sorted(p.pk for p in posts)


def test_flushall_mid_run_loses_no_post_and_doubles_none(pipeline, redis_url, sandbox, owner, no_duplicate_rule):
    accounts = [link_with_minted_tokens(sandbox, owner, name) for name in ("alice_bot", "bob_news", "carol_daily")]
    posts = [schedule(accounts[i % 3], f"Through a flush {i}", in_seconds=i * 0.2) for i in range(30)]

    wait_until(lambda: Post.objects.filter(status=Post.Status.PUBLISHED).count() >= 5, what="the first posts")
    with redis.Redis.from_url(redis_url) as client:
        client.flushall()

    for post in posts:
        published(post, seconds=90)
    on_x = sandbox_posts(sandbox)
    assert sorted(p["text"] for p in on_x) == sorted(p.text for p in posts)
    assert all(p["request_count"] == 1 for p in on_x)
