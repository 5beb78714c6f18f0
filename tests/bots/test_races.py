"""The races of publishing on PostgreSQL, each made to happen on purpose: a row
lock held by another transaction, a transaction held open, or X holding a
request (a sandbox latency), never left to luck. X's duplicate rule is off, so
a post sent twice shows as two posts on X rather than as a refusal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import suppress
from datetime import UTC, time, timedelta

import pytest
import requests
from django.db import connection
from django.utils import timezone

from accounts import services as account_services
from accounts.models import XAccount
from bots.models import Post, PostingSlot
from bots.planning import csv_io, slots
from bots.posting import publisher, scheduler, services
from tests.foundation.helpers import wait_until

from .conftest import link_with_minted_tokens, sandbox_posts, schedule, set_faults
from .interleave import Interleaving, blocked_on_a_lock

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="races of PostgreSQL's READ COMMITTED row locking: CI runs them on PostgreSQL",
)

S = Post.Status
CREATE = "POST /2/tweets"
LOOKUP = "GET /2/users/:id/tweets"
# Long enough for the other side of a race to act while X holds the request,
# and within the read timeout of ``fast_publishing``.
HELD_BY_X = 1.5


@pytest.fixture
def threads() -> Iterator[Interleaving]:
    running = Interleaving()
    yield running
    running.close()


@pytest.fixture
def account(sandbox, owner, fast_publishing, no_duplicate_rule) -> XAccount:
    return link_with_minted_tokens(sandbox, owner, "alice_bot")


def status(post: Post) -> str:
    return Post.objects.values_list("status", flat=True).get(pk=post.pk)


def claimed(account: XAccount, text: str) -> Post:
    post = schedule(account, text)
    assert scheduler.claim_post(post_id=post.pk)
    return Post.objects.get(pk=post.pk)


def deliver(post: Post) -> Callable[[], str]:
    return lambda: publisher.publish_post(post_id=post.pk)


def hold_at_x(sandbox: str, endpoint: str, seconds: float = HELD_BY_X) -> None:
    """X holds the next request to ``endpoint`` for ``seconds`` before handling it."""
    set_faults(sandbox, {"endpoint": endpoint, "mode": "latency", "seconds": seconds, "count": 1})


def reached_x(sandbox: str, what: str) -> None:
    """Until the request that ``hold_at_x`` holds has arrived: the sandbox
    counts a fault when it draws it, before the wait."""

    def arrived() -> bool:
        rules = requests.get(f"{sandbox}/_sandbox/faults", timeout=10).json()["faults"]
        return any(rule["mode"] == "latency" and rule["applied"] for rule in rules)

    wait_until(arrived, seconds=10, what=f"{what} reaching X")


def lock_row(post: Post) -> Callable[[], Post]:
    return lambda: Post.objects.select_for_update().get(pk=post.pk)


def unknown(sandbox: str, account: XAccount, text: str, *, on_x: bool) -> Post:
    """A post whose answer from X was lost: the connection dropped after X
    created the post, or before."""
    post = claimed(account, text)
    mode = "drop_after_commit" if on_x else "drop_before_commit"
    set_faults(sandbox, {"endpoint": CREATE, "mode": mode, "count": 1})
    assert publisher.publish_post(post_id=post.pk) == "unknown"
    assert len(sandbox_posts(sandbox)) == int(on_x)
    return post


def run_the_platform(*, seconds_ahead: float = 2) -> None:
    """One round of beat's work on this thread, as if ``seconds_ahead`` had
    passed: the sweeper, the reconciler, a dispatcher tick and the deliveries
    it enqueues (at once, whatever their ETA)."""
    later = timezone.now() + timedelta(seconds=seconds_ahead)
    scheduler.sweep_stale_posts(now=later)
    publisher.reconcile_unknown_posts(now=later)
    enqueued: list[int] = []
    scheduler.claim_due_posts(enqueue=lambda ids, eta: enqueued.extend(ids), now=later)
    for post_id in enqueued:
        publisher.publish_post(post_id=post_id)


def published_once(sandbox: str, post: Post) -> Post:
    """The post, published with the id of the one post X has of it."""
    on_x = sandbox_posts(sandbox, username="alice_bot")
    assert len(on_x) == 1, f"X has {len(on_x)} posts of post {post.pk}: {[p['id'] for p in on_x]}"
    current = Post.objects.get(pk=post.pk)
    assert (current.status, current.x_post_id) == (S.PUBLISHED, on_x[0]["id"]), (
        f"post {post.pk} is {current.status}: {current.last_error}"
    )
    return current


# --- two deliveries of one claimed post ------------------------------------------------------


def test_a_second_delivery_while_the_first_is_in_its_request_to_x_sends_nothing(account, sandbox, threads):
    post = claimed(account, "Delivered twice, the first one slow")
    hold_at_x(sandbox, CREATE)
    first = threads.run(deliver(post), "the first delivery")
    reached_x(sandbox, "the first delivery's request")

    second = publisher.publish_post(post_id=post.pk)

    assert first.running, "X answered the first delivery before the second one ran"
    outcomes = [first.join(), second]
    published_once(sandbox, post)
    assert outcomes.count("published") == 1, outcomes
    run_the_platform()
    published_once(sandbox, post)


@pytest.mark.parametrize("deliveries", [2, 3])
def test_deliveries_waiting_on_a_row_lock_held_by_another_transaction_send_once(
    account, sandbox, threads, deliveries
):
    post = claimed(account, "Waited for by every delivery")
    lock = threads.hold(lock_row(post), "a transaction locking the post's row")
    lock.wait_done()
    runs = [threads.run(deliver(post), f"delivery {n}") for n in range(1, deliveries + 1)]
    blocked_on_a_lock(*runs)

    lock.commit()

    outcomes = [run.join() for run in runs]
    published_once(sandbox, post)
    assert outcomes.count("published") == 1, outcomes


# --- a person's action against a worker ------------------------------------------------------

ACTIONS: dict[str, Callable[[Post], object]] = {
    "schedule": lambda post: services.post_schedule(post=post),
    "publish now": lambda post: services.post_publish_now(post=post),
    "retry": lambda post: services.post_retry(post=post),
    "cancel": lambda post: services.post_cancel(post=post),
    "make draft": lambda post: services.post_make_draft(post=post),
}


def page_loaded_before_the_worker(sandbox: str, account: XAccount, action: str) -> Post:
    """The post as a person's page loaded it, in a state in which the page
    offers ``action``: failed for retry, scheduled for the others. Retry's
    page is then overtaken by someone retrying the post from a fresh page."""
    post = schedule(account, f"An old page's {action}")
    if action != "retry":
        return Post.objects.get(pk=post.pk)
    set_faults(sandbox, {"endpoint": CREATE, "mode": "status", "status": 400, "count": 1})
    assert scheduler.claim_post(post_id=post.pk)
    assert publisher.publish_post(post_id=post.pk) == "failed"
    page = Post.objects.get(pk=post.pk)
    services.post_retry(post=Post.objects.get(pk=post.pk))
    return page


@pytest.mark.parametrize("state", [S.SENDING, S.PUBLISHED, S.UNKNOWN])
@pytest.mark.parametrize("action", ACTIONS)
def test_an_action_from_an_old_page_never_puts_a_post_the_worker_took_back_in_the_queue(
    account, sandbox, threads, action, state
):
    page = page_loaded_before_the_worker(sandbox, account, action)
    assert scheduler.claim_post(post_id=page.pk)
    worker = None
    if state == S.SENDING:
        hold_at_x(sandbox, CREATE)
        worker = threads.run(deliver(page), "the worker")
        reached_x(sandbox, "the worker's request")
    else:
        if state == S.UNKNOWN:
            set_faults(sandbox, {"endpoint": CREATE, "mode": "drop_after_commit", "count": 1})
        publisher.publish_post(post_id=page.pk)
    assert status(page) == state

    with suppress(services.PostActionError):
        ACTIONS[action](page)
    after_the_action = status(page)

    if worker is not None:
        assert sandbox_posts(sandbox) == [], "X answered the worker before the action ran"
        worker.join()
    run_the_platform()
    published_once(sandbox, page)
    assert after_the_action == state, f"{action} moved a {state} post to {after_the_action}"


def test_a_cancel_that_commits_while_a_delivery_waits_on_the_row_lock_is_not_sent(account, sandbox, threads):
    post = claimed(account, "Cancelled while the worker waited")
    page = Post.objects.get(pk=post.pk)
    cancel = threads.hold(lambda: services.post_cancel(post=page), "a person's cancel, not committed yet")
    cancel.wait_done()
    delivery = threads.run(deliver(post), "the delivery")
    blocked_on_a_lock(delivery)

    cancel.commit()

    outcome = delivery.join()
    run_the_platform()
    assert sandbox_posts(sandbox) == [], f"the delivery ({outcome}) sent a cancelled post"
    assert status(post) == S.CANCELLED


# --- a batch of posts claimed together ------------------------------------------------------


def claimed_together(account: XAccount, *texts: str) -> list[int]:
    """Posts claimed in one dispatcher tick: the batch it hands to a worker."""
    posts = [schedule(account, text) for text in texts]
    batches: list[list[int]] = []
    scheduler.claim_due_posts(enqueue=lambda ids, eta: batches.append(ids))
    assert sorted(batches) == [sorted(p.pk for p in posts)]
    return batches[0]


def deliver_batch(batch: list[int]) -> Callable[[], dict[str, int]]:
    return lambda: publisher.publish_posts(post_ids=batch)


def each_once_on_x(sandbox: str, *texts: str) -> None:
    on_x = sandbox_posts(sandbox)
    assert sorted(p["text"] for p in on_x) == sorted(texts), [p["text"] for p in on_x]
    published = Post.objects.filter(status=S.PUBLISHED).values_list("text", "x_post_id")
    assert sorted(published) == sorted((p["text"], p["id"]) for p in on_x)


def test_a_second_delivery_of_a_batch_while_the_first_is_at_x_sends_nothing(account, sandbox, threads, settings):
    settings.PUBLISH_CONCURRENCY = 1
    batch = claimed_together(account, "Batch one", "Batch two")
    hold_at_x(sandbox, CREATE)
    first = threads.run(deliver_batch(batch), "the first delivery")
    reached_x(sandbox, "the first delivery's first request")

    second = publisher.publish_posts(post_ids=batch)

    assert second == {"skipped": 2}
    assert first.join() == {"published": 2}
    each_once_on_x(sandbox, "Batch one", "Batch two")


@pytest.mark.parametrize("deliveries", [2, 3])
def test_deliveries_of_a_batch_waiting_on_a_row_lock_send_each_post_once(account, sandbox, threads, deliveries):
    batch = claimed_together(account, "Locked one", "Locked two", "Locked three")
    lock = threads.hold(lambda: list(Post.objects.select_for_update().filter(pk__in=batch)),
                        "a transaction locking the batch's rows")
    lock.wait_done()
    runs = [threads.run(deliver_batch(batch), f"delivery {n}") for n in range(1, deliveries + 1)]
    blocked_on_a_lock(*runs)

    lock.commit()

    outcomes = [run.join() for run in runs]
    each_once_on_x(sandbox, "Locked one", "Locked two", "Locked three")
    assert sum(outcome.get("published", 0) for outcome in outcomes) == 3, outcomes


def test_a_cancel_that_commits_while_a_batch_waits_on_the_row_lock_sends_only_the_others(account, sandbox, threads):
    batch = claimed_together(account, "Kept in the batch", "Cancelled while the batch waited")
    page = Post.objects.get(text="Cancelled while the batch waited")
    cancel = threads.hold(lambda: services.post_cancel(post=page), "a person's cancel, not committed yet")
    cancel.wait_done()
    delivery = threads.run(deliver_batch(batch), "the batch")
    blocked_on_a_lock(delivery)

    cancel.commit()

    assert delivery.join() == {"published": 1, "skipped": 1}
    run_the_platform()
    each_once_on_x(sandbox, "Kept in the batch")
    assert status(page) == S.CANCELLED


# --- two reconcilers at once -----------------------------------------------------------------


def test_two_reconcilers_at_once_record_a_post_whose_answer_was_lost_once(
    account, sandbox, threads, fast_publishing
):
    post = unknown(sandbox, account, "Answer lost, looked for twice", on_x=True)
    hold_at_x(sandbox, LOOKUP)
    # Past the grace period, a run that does not recognise the post as the
    # one the other run just recorded would send it again.
    past_grace = timezone.now() + timedelta(seconds=fast_publishing.POST_UNKNOWN_GRACE_SECONDS + 1)
    first = threads.run(lambda: publisher.reconcile_unknown_posts(now=past_grace), "the first reconciler")
    reached_x(sandbox, "the first reconciler's lookup")

    publisher.reconcile_unknown_posts(now=past_grace)

    first.join()
    published_once(sandbox, post)
    run_the_platform(seconds_ahead=fast_publishing.POST_UNKNOWN_GRACE_SECONDS + 2)
    published_once(sandbox, post)


def test_two_reconcilers_at_once_past_the_grace_period_send_a_post_not_on_x_again_once(
    account, sandbox, threads, fast_publishing
):
    post = unknown(sandbox, account, "Never reached X, looked for twice", on_x=False)
    hold_at_x(sandbox, LOOKUP)
    past_grace = timezone.now() + timedelta(seconds=fast_publishing.POST_UNKNOWN_GRACE_SECONDS + 1)
    first = threads.run(lambda: publisher.reconcile_unknown_posts(now=past_grace), "the first reconciler")
    reached_x(sandbox, "the first reconciler's lookup")

    publisher.reconcile_unknown_posts(now=past_grace)
    # Whatever the second run decided is acted on while the first still looks:
    # a post it sent back to the queue is claimed and sent, and X holds that
    # send until the first run has decided too.
    enqueued: list[int] = []
    scheduler.claim_due_posts(enqueue=lambda ids, eta: enqueued.extend(ids), now=past_grace)
    resend = None
    if enqueued:
        hold_at_x(sandbox, CREATE, seconds=2.5)
        resend = threads.run(deliver(post), "the new send")
        reached_x(sandbox, "the new send's request")
        assert first.running, "the first reconciler decided before the new send reached X"

    first.join()
    if resend is not None:
        assert resend.running, "X answered the new send before the first reconciler decided"
        resend.join()
    run_the_platform(seconds_ahead=fast_publishing.POST_UNKNOWN_GRACE_SECONDS + 2)
    published_once(sandbox, post)


# --- the sweeper against a late worker -------------------------------------------------------


def test_a_late_worker_whose_claim_was_swept_and_claimed_again_sends_nothing(account, sandbox, threads, media_file):
    post = schedule(account, "Claimed twice over, with a picture")
    media_file(post, "picture.png", "image/png")
    assert scheduler.claim_post(post_id=post.pk)
    hold_at_x(sandbox, "POST /2/media/upload/initialize")
    late = threads.run(deliver(post), "the late worker")
    reached_x(sandbox, "the late worker's upload")
    lease = Post.objects.values_list("lease_expires_at", flat=True).get(pk=post.pk)

    def sweep_and_claim_again() -> None:
        scheduler.sweep_stale_posts(now=lease + timedelta(seconds=1))
        assert scheduler.claim_post(post_id=post.pk), "the sweeper did not hand the expired claim back"

    # The lease runs out while X holds the late worker's upload; back from
    # it, the worker finds the post's row locked by the sweeper and the new
    # claim, and waits for them to commit.
    new_claim = threads.hold(sweep_and_claim_again, "the sweeper and a new claim, not committed yet")
    new_claim.wait_done()
    blocked_on_a_lock(late)

    new_claim.commit()

    late_outcome = late.join()
    on_time_outcome = publisher.publish_post(post_id=post.pk)
    published_once(sandbox, post)
    assert (late_outcome != "published", on_time_outcome) == (True, "published"), (
        f"the late worker: {late_outcome}; the new claim's delivery: {on_time_outcome}"
    )


def test_a_worker_held_by_x_past_the_stale_limit_is_swept_looked_for_and_published_once(
    account, sandbox, threads, fast_publishing
):
    # The grace outlasts any request to X, as the settings require outside tests.
    fast_publishing.POST_UNKNOWN_GRACE_SECONDS = 60
    post = claimed(account, "Slow at X")
    hold_at_x(sandbox, CREATE)
    worker = threads.run(deliver(post), "the worker")
    reached_x(sandbox, "the worker's request")
    stale = timezone.now() + timedelta(seconds=fast_publishing.POST_SENDING_STALE_SECONDS + 1)

    scheduler.sweep_stale_posts(now=stale)
    assert status(post) == S.UNKNOWN
    publisher.reconcile_unknown_posts(now=stale)
    assert status(post) == S.UNKNOWN

    assert sandbox_posts(sandbox) == [], "X answered the worker before the reconciler looked"
    worker.join()
    run_the_platform(seconds_ahead=fast_publishing.POST_SENDING_STALE_SECONDS + 2)
    published_once(sandbox, post)


# --- a person's action against unlinking -----------------------------------------------------


def test_a_schedule_waiting_on_an_unlinking_is_refused_in_words_once_it_commits(account, owner, sandbox, threads):
    draft = Post.objects.create(account=account, text="Written as the account was unlinked",
                                scheduled_at=timezone.now())
    unlinking = threads.hold(lambda: account_services.xaccount_unlink(account=account, by=owner),
                             "an unlinking, not committed yet")
    unlinking.wait_done()
    scheduling = threads.run(lambda: services.post_schedule(post=draft), "a person scheduling the draft")
    blocked_on_a_lock(scheduling)

    unlinking.commit()

    with pytest.raises(services.PostActionError, match=rf"@alice_bot is unlinked, so post {draft.pk} cannot be "
                                                       r"scheduled: link the account again first\."):
        scheduling.join()
    assert status(draft) == S.DRAFT
    run_the_platform(seconds_ahead=60)
    assert sandbox_posts(sandbox) == []


def test_an_unlinking_waiting_on_a_schedule_holds_the_post_once_it_commits(account, owner, sandbox, threads):
    draft = Post.objects.create(account=account, text="Scheduled as the account was unlinked",
                                scheduled_at=timezone.now())
    scheduling = threads.hold(lambda: services.post_schedule(post=draft), "a person's schedule, not committed yet")
    scheduling.wait_done()
    unlinking = threads.run(lambda: account_services.xaccount_unlink(account=account, by=owner), "an unlinking")
    blocked_on_a_lock(unlinking)

    scheduling.commit()

    assert "1 post that was to go out is held" in unlinking.join()
    held = Post.objects.get(pk=draft.pk)
    assert (held.status, held.next_attempt_at) == (S.SCHEDULED, None)
    assert held.last_error.startswith("Held: @alice_bot was unlinked by alice on ")
    run_the_platform(seconds_ahead=60)
    assert sandbox_posts(sandbox) == []


# --- a CSV import against posts being made for its accounts -----------------------------------


def _import_plan(account: XAccount, owner, rows: str):
    plan = csv_io.import_check(text=f"account,text,scheduled_at\n{rows}", user=owner, workspace=account.workspace,
                               zone=UTC)
    assert plan.problems == []
    return plan


def test_a_draft_is_saved_for_an_account_while_an_import_for_it_is_still_creating_posts(account, owner, threads):
    plan = _import_plan(account, owner, "@alice_bot,Imported for later,2030-01-15T09:00:00Z\n")
    importing = threads.hold(lambda: csv_io.import_create(plan=plan, user=owner),
                             "an import creating posts, not committed yet")
    importing.wait_done()

    # Not made to wait for the import: a lock on the account that stopped new
    # posts for it (their foreign key's check) held them for the whole import.
    saving = threads.run(lambda: services.post_create(account=account, text="Written meanwhile", by=owner,
                                                      schedule=False), "a person saving a draft")
    draft = saving.join()
    assert importing.running

    importing.commit()
    assert importing.join() == 1
    assert sorted(Post.objects.filter(account=account).values_list("text", "status")) == [
        ("Imported for later", S.SCHEDULED), ("Written meanwhile", S.DRAFT)]
    assert draft.status == S.DRAFT


def test_an_import_placing_posts_in_free_slots_holds_the_queue_until_it_commits(account, owner, threads):
    PostingSlot.objects.create(account=account, weekday=PostingSlot.Weekday.MONDAY, time=time(9, 0))
    plan = _import_plan(account, owner, "@alice_bot,Into the next free slot,\n")
    importing = threads.hold(lambda: csv_io.import_create(plan=plan, user=owner),
                             "an import taking a slot, not committed yet")
    importing.wait_done()
    draft = Post.objects.create(account=account, text="Added to the queue meanwhile")
    adding = threads.run(lambda: slots.queue_add(post=draft), "a person's Add to queue")
    blocked_on_a_lock(adding)

    importing.commit()

    taken = adding.join()
    imported = Post.objects.get(text="Into the next free slot")
    assert taken == imported.scheduled_at + timedelta(days=7)
