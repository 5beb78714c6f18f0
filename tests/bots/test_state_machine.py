"""A model-based test of the post's state machine (DESIGN.md, "The post's
states"). Hypothesis draws sequences of steps and runs them against the real
services, the test database and the sandbox; nothing of the platform is mocked:
- dispatcher ticks, whose publish tasks wait in a queue the test keeps;
- deliveries of a queued task: once, twice at once, again later (after a
  sweep, say), or never (the broker lost it), each with X's answer to the
  post: 201, 503, the connection dropped before or after X stored the post, a
  401 (once, or for good: the owner revoked the app), a 429 with a 15-minute
  or a 24-hour reset, or a 403 duplicate (X's rule turned on for that step,
  the post being on X already or posted by its owner outside the platform);
- sweeps and reconciler runs (with X's timeline answering 200 or 503);
- a person's actions (publish now, cancel, retry, schedule, make draft) from a
  page loaded now or earlier, and reconnecting an account.

After every step X and the platform must agree:
- no post is on X more than once (X's duplicate rule is off, so a second send
  shows as a second post);
- a published post has its X id, and X holds that post, with the same text;
- nothing is on X for a post that is draft, cancelled or failed;
- nothing was sent before the reset of a 429 (the sandbox's ``early_retries``).
At the end, with the faults stopped, the test keeps sweeping, ticking,
delivering and reconciling until every post is published, failed, cancelled,
draft or held for an account that needs reconnecting; then it reconnects those
accounts and drives on until no post is held either.

The clock: the dispatcher, the sweeper and the reconciler take ``now``, and the
test moves it forward (never back) to expire leases and grace periods without
waiting. The publisher reads the real clock, as X's rate-limit resets do, so
an example with a 429 waits a second or more of real time.

CI runs 60 examples of 30 steps, about a minute. A longer run by hand (300
examples of 50 steps take about six minutes; the test's time limit grows
with the size):

    STATE_MACHINE_EXAMPLES=300 STATE_MACHINE_STEPS=50 pytest tests/bots/test_state_machine.py -q

A failure prints the shrunk steps, and a ``@reproduce_failure`` line that
replays them (Hypothesis gives up shrinking after five minutes).
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

import hypothesis
import pytest
import requests
from django.db.models import Max
from django.utils import timezone
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    MultipleResults,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from accounts import gateway
from accounts.models import User, XAccount
from accounts.services import xaccount_upsert
from bots.models import Post
from bots.posting import publisher, scheduler, services
from tests.sandbox.xapi import ApiClient, bearer

from .conftest import link_with_minted_tokens, sandbox_posts, schedule, set_faults

EXAMPLES = int(os.environ.get("STATE_MACHINE_EXAMPLES", "60"))
STEPS = int(os.environ.get("STATE_MACHINE_STEPS", "30"))

CREATE = "POST /2/tweets"
TIMELINE = "GET /2/users/<id>/tweets"
# One account of each kind: a 401 on OAuth 2.0 is first cured by a refresh, on
# OAuth 1.0a it cannot be.
ACCOUNTS = {"alice_bot": "oauth2", "bob_news": "oauth1"}
MAX_POSTS = 6
# Links are texts X changes (t.co), which the reconciler must still recognise.
LINKS = {"no link": "", "a link": " https://example.com/notes/{n}", "a bare domain": " example.com/notes/{n}"}
# 6 s outlive a lease (fast_publishing: 5 s) and the grace period before an
# unknown post is sent again (3 s); 11 s outlive a stale send (10 s).
SECONDS = st.sampled_from((0, 1, 6, 11, 60))
# Which account, when (mostly now: a draft waits for a person), and with what kind of link.
POST_PLANS = st.tuples(
    st.sampled_from(tuple(ACCOUNTS)),
    st.one_of(st.just("now"), st.sampled_from(("in 20 s", "draft"))),
    st.sampled_from(tuple(LINKS)),
)
END = (Post.Status.PUBLISHED, Post.Status.FAILED, Post.Status.CANCELLED, Post.Status.DRAFT)
NOTHING_ON_X = (Post.Status.DRAFT, Post.Status.CANCELLED, Post.Status.FAILED)
HELD = (Post.Status.SCHEDULED, Post.Status.UNKNOWN)
# The admin offers the form whose save schedules a post only for these statuses.
EDITABLE = (Post.Status.DRAFT, Post.Status.SCHEDULED, Post.Status.FAILED, Post.Status.CANCELLED)
SETTLE_ROUNDS = 30
# Longer than any reset the sandbox is made to give here (under 4 s).
LONGEST_RESET_WAIT = 5.0

# X's answer to a delivery's post: as often 201 as anything else.
FAULTY_ANSWERS = (
    "503",
    "drop before commit",
    "drop after commit",
    "401 once",
    "401, access revoked",
    "429, 15-minute reset",
    "429, 24-hour reset",
    "403 duplicate",
    "403 duplicate of the owner's own post",
)
ANSWERS = st.one_of(st.just("201"), st.sampled_from(FAULTY_ANSWERS))
FAULTS = {
    "503": {"mode": "status", "status": 503},
    # A refresh cures it on OAuth 2.0; on OAuth 1.0a the account needs reconnecting.
    "401 once": {"mode": "status", "status": 401},
    "drop before commit": {"mode": "drop_before_commit"},
    "drop after commit": {"mode": "drop_after_commit"},
}
# The day's window resets this long after the 15-minute one.
DAY_AFTER_QUARTER = 2
LIMITS = {
    "429, 15-minute reset": {"rate": {"limit": 0, "window_secs": 0.5}},
    # The day's window is spent while the 15-minute one is not. Both open at
    # the request and reset at whole epoch seconds, so the day's reset comes
    # exactly DAY_AFTER_QUARTER seconds after the 15-minute one's.
    "429, 24-hour reset": {
        "rate": {"limit": 100, "window_secs": 0.5},
        "user_24h": {"limit": 0, "window_secs": 0.5 + DAY_AFTER_QUARTER},
    },
}


class Delivery(NamedTuple):
    """A worker taking one of the queued publish tasks, and X's answer to its post."""

    task: int  # which of the queued tasks, counted round the queue
    answer: str
    # Celery delivers a task at least once: once, twice, again after a sweep,
    # or (the broker lost it) never.
    times: str


# One argument: Hypothesis draws the rules with fewer arguments more often,
# and deliveries are where X's answers come in.
DELIVERIES = st.builds(
    Delivery,
    task=st.integers(0, 9),
    answer=ANSWERS,
    times=st.sampled_from(("once", "twice at once", "again later", "never")),
)


def control(method: str, url: str, **kwargs: object) -> dict:
    answer = requests.request(method, url, timeout=10, **kwargs)
    assert answer.status_code in (200, 201), f"{method} {url}: {answer.status_code} {answer.text}"
    return answer.json()


def set_duplicate_window(sandbox: str, seconds: int) -> None:
    control("PUT", f"{sandbox}/_sandbox/settings", json={"duplicate_window": seconds})


def load(post_id: int) -> Post:
    """The post as a page shows it, loaded now."""
    return Post.objects.select_related("account", "parent").get(pk=post_id)


def schedule_from_page(post: Post) -> None:
    if post.status in EDITABLE:
        services.post_schedule(post=post)


ACTIONS: dict[str, Callable[[Post], object]] = {
    "publish now": lambda post: services.post_publish_now(post=post),
    "cancel": lambda post: services.post_cancel(post=post),
    "retry": lambda post: services.post_retry(post=post),
    "schedule": schedule_from_page,
    "make draft": lambda post: services.post_make_draft(post=post),
}
# What else a person does with a post's page: look at it again, or reconnect
# its account (the admin's "Reconnect" link, which runs the OAuth flow).
PAGE_ACTIONS = ("open the page", "reconnect the account", *ACTIONS)


@dataclass(frozen=True)
class World:
    sandbox: str
    owner: User


class PostStateMachine(RuleBasedStateMachine):
    posts = Bundle("posts")

    def __init__(self, world: World) -> None:
        super().__init__()
        self.sandbox = world.sandbox
        self.owner = world.owner
        # How far the test's clock is ahead of the real one.
        self.offset = timedelta(0)
        # Publish tasks enqueued by the dispatcher and not delivered yet.
        self.queue: list[int] = []
        # Each post as a page loaded earlier shows it.
        self.pages: dict[int, Post] = {}
        # Copies of a post's text that its account's owner posted on X themselves.
        self.external: Counter[str] = Counter()
        self.outsider_requests: set[int] = set()
        # Accounts whose owner removed the app on X, which the platform may not have noticed yet.
        self.revoked: set[str] = set()
        self.made = 0
        control("POST", f"{self.sandbox}/_sandbox/reset")
        set_duplicate_window(self.sandbox, 0)
        XAccount.objects.all().delete()
        for username, method in ACCOUNTS.items():
            link_with_minted_tokens(self.sandbox, self.owner, username, method)

    def now(self) -> datetime:
        return timezone.now() + self.offset

    def advance(self, seconds: int) -> datetime:
        self.offset += timedelta(seconds=seconds)
        return self.now()

    def enqueue(self, post_ids: list[int], eta: datetime | None) -> None:
        self.queue.extend(post_ids)

    # --- the world moving on --------------------------------------------------------------------

    @initialize(target=posts, plans=st.lists(POST_PLANS, min_size=1, max_size=3))
    def first_posts(self, plans: list[tuple[str, str, str]]) -> MultipleResults[int]:
        return multiple(*(self.create_post(*plan) for plan in plans))

    @precondition(lambda self: self.made < MAX_POSTS)
    @rule(target=posts, plan=POST_PLANS)
    def another_post(self, plan: tuple[str, str, str]) -> int:
        return self.create_post(*plan)

    def create_post(self, account: str, when: str, link: str) -> int:
        self.made += 1
        text = f"State machine post {self.made}" + LINKS[link].format(n=self.made)
        owner_of = XAccount.objects.get(username=account)
        if when == "draft":
            post = Post.objects.create(account=owner_of, text=text)
        else:
            ahead = self.offset.total_seconds() + (20 if when == "in 20 s" else 0)
            post = schedule(owner_of, text, in_seconds=ahead)
        self.pages[post.pk] = load(post.pk)
        return post.pk

    @contextmanager
    def x_answers(self, answer: str, post: Post) -> Iterator[None]:
        """The sandbox made to give ``answer`` to the next post created, and
        set back afterwards: a fault left armed would hit a later step instead."""
        sandbox = self.sandbox
        if answer in FAULTS:
            set_faults(sandbox, {"endpoint": CREATE, "count": 1, **FAULTS[answer]})
        elif answer in LIMITS:
            control("PUT", f"{sandbox}/_sandbox/rate-limits", json={CREATE: LIMITS[answer]})
        elif answer == "401, access revoked":
            # The owner removed the app on X: every request answers 401 until
            # a person reconnects the account.
            control("POST", f"{sandbox}/_sandbox/users/{post.account.x_user_id}/revoke")
            self.revoked.add(post.account.username)
        elif answer.startswith("403 duplicate"):
            if answer == "403 duplicate of the owner's own post":
                self.post_outside_the_platform(post)
            # X's duplicate rule, off elsewhere so that a second send shows as a second post.
            set_duplicate_window(sandbox, 86400)
        try:
            yield
        finally:
            if answer in FAULTS:
                control("DELETE", f"{sandbox}/_sandbox/faults")
            elif answer in LIMITS:
                # X's own limits again. A client that came back before the
                # reset it was told is still caught: the request log keeps it.
                control("DELETE", f"{sandbox}/_sandbox/rate-limits")
                if answer == "429, 24-hour reset":
                    self.until_the_quarter_resets()
            elif answer.startswith("403 duplicate"):
                set_duplicate_window(sandbox, 0)

    def until_the_quarter_resets(self) -> None:
        """Wait, after X refused a post for a spent day, until the 15-minute
        window has reset and the day's has not: a client that reads only
        x-rate-limit-reset comes back at the next delivery, whichever step
        that is, and the failure does not hang on how fast the steps ran."""
        log = control("GET", f"{self.sandbox}/_sandbox/requests", params={"endpoint": CREATE})["requests"]
        if log and log[-1]["status"] == 429 and log[-1]["retry_at"] > time.time():
            time.sleep(max(0.0, log[-1]["retry_at"] - DAY_AFTER_QUARTER - time.time()) + 0.05)

    def post_outside_the_platform(self, post: Post) -> None:
        """The account's owner posts the post's words on X themselves."""
        answer = ApiClient(self.sandbox, bearer(self.sandbox, post.account.x_user_id)).tweet(post.text)
        assert answer.status_code == 201, answer.text
        self.external[post.text] += 1
        log = control("GET", f"{self.sandbox}/_sandbox/requests",
                      params={"endpoint": CREATE, "user_id": post.account.x_user_id})["requests"]
        self.outsider_requests.add(log[-1]["id"])

    @rule(advance=SECONDS)
    def tick(self, advance: int) -> None:
        scheduler.claim_due_posts(enqueue=self.enqueue, now=self.advance(advance))

    # No precondition on the queue: what is queued depends on the real clock,
    # and Hypothesis must draw the same rules when it replays an example.
    @rule(delivery=DELIVERIES)
    def deliver(self, delivery: Delivery) -> None:
        """A worker takes a queued task; an idle one, the first task of the
        dispatcher's next tick (beat ticks every second)."""
        if not self.queue:
            scheduler.claim_due_posts(enqueue=self.enqueue, now=self.advance(1))
        if not self.queue:
            return
        post_id = self.queue.pop(delivery.task % len(self.queue))
        if delivery.times == "never":
            return
        with self.x_answers(delivery.answer, load(post_id)):
            publisher.publish_post(post_id=post_id)
            if delivery.times == "twice at once":
                publisher.publish_post(post_id=post_id)
        if delivery.times == "again later":
            self.queue.append(post_id)

    @rule(advance=SECONDS)
    def sweep(self, advance: int) -> None:
        scheduler.sweep_stale_posts(now=self.advance(advance))

    @rule(advance=SECONDS, answer=st.sampled_from(("200", "503")))
    def reconcile(self, advance: int, answer: str) -> None:
        if answer == "503":
            set_faults(self.sandbox, {"endpoint": TIMELINE, "mode": "status", "status": 503})
        try:
            publisher.reconcile_unknown_posts(now=self.advance(advance))
        finally:
            if answer == "503":
                control("DELETE", f"{self.sandbox}/_sandbox/faults")

    # --- people ---------------------------------------------------------------------------------

    @rule(post=posts, action=st.sampled_from(PAGE_ACTIONS), page=st.sampled_from(("loaded now", "loaded earlier")))
    def act(self, post: int, action: str, page: str) -> None:
        """A person's action on the post as a page shows it; a page loaded
        earlier may show a status the post has left since."""
        if action == "open the page":
            self.pages[post] = load(post)
            return
        if action == "reconnect the account":
            self.relink(load(post).account.username)
            return
        shown = self.pages[post] if page == "loaded earlier" else load(post)
        try:
            ACTIONS[action](shown)
        except services.PostActionError:
            pass  # refused, with the reason: the post is not in a state the action applies to

    def relink(self, username: str) -> None:
        """Link the account again, as the OAuth callback does with the tokens X issues."""
        account = XAccount.objects.get(username=username)
        method = ACCOUNTS[username]
        minted = control("POST", f"{self.sandbox}/_sandbox/users/{account.x_user_id}/tokens",
                         json={method: {}})[method]
        if method == "oauth1":
            oauth1 = gateway.OAuth1Tokens(token=minted["oauth_token"], secret=minted["oauth_token_secret"])
            me = gateway.me_for_tokens(oauth1=oauth1)
            tokens: dict[str, object] = {"oauth1_token": oauth1.token, "oauth1_token_secret": oauth1.secret}
        else:
            oauth2 = gateway.OAuth2Tokens(
                access_token=minted["access_token"],
                refresh_token=minted["refresh_token"],
                expires_at=timezone.now() + timedelta(seconds=minted["expires_in"]),
                scopes=minted["scope"],
            )
            me = gateway.me_for_tokens(oauth2=oauth2)
            tokens = {
                "oauth2_access_token": oauth2.access_token,
                "oauth2_refresh_token": oauth2.refresh_token,
                "token_expires_at": oauth2.expires_at,
                "scopes": oauth2.scopes,
            }
        xaccount_upsert(owner=self.owner, workspace=self.owner.workspace, me=me, auth_method=method, tokens=tokens)
        self.revoked.discard(username)

    # --- what must always hold ------------------------------------------------------------------

    @invariant()
    def x_and_the_platform_agree(self) -> None:
        on_x = sandbox_posts(self.sandbox)
        by_id = {p["id"]: p for p in on_x}
        copies = Counter((p["author_id"], p["submitted_text"]) for p in on_x)
        for post in Post.objects.select_related("account").order_by("pk"):
            sent = copies[(post.account.x_user_id, post.text)] - self.external[post.text]
            which = f"post {post.pk} ({post.status}, {post.text!r})"
            assert sent <= 1, f"{which} is on X {sent} times"
            if post.status == Post.Status.PUBLISHED:
                found = by_id.get(post.x_post_id)
                assert found is not None, f"{which} is published as {post.x_post_id!r}, which X does not have"
                assert (found["author_id"], found["submitted_text"]) == (post.account.x_user_id, post.text), (
                    f"{which} is published as {post.x_post_id!r}, which is {found['submitted_text']!r} "
                    f"by user {found['author_id']}"
                )
            if post.status in NOTHING_ON_X:
                assert sent == 0, f"{which} is on X: {post.last_error}"
        log = control("GET", f"{self.sandbox}/_sandbox/requests", params={"endpoint": CREATE})
        early = [r for r in log["early_retries"] if r["id"] not in self.outsider_requests]
        assert not early, f"sent before the reset of a 429: {early}"

    # --- once the faults stop -------------------------------------------------------------------

    def teardown(self) -> None:
        # After a failed step that failure is the finding; settling on would
        # replace it with another and lose the shrunk example.
        if sys.exc_info()[1] is not None:
            return
        self.settle(held_allowed=True)
        needing = set(XAccount.objects.filter(status=XAccount.Status.NEEDS_REAUTH).values_list("username", flat=True))
        for username in sorted(needing | self.revoked):
            self.relink(username)
        self.settle(held_allowed=False)

    def settle(self, *, held_allowed: bool) -> None:
        """Everything the scheduler, workers and reconciler do, over and over,
        until every post is at an end."""
        for _ in range(SETTLE_ROUNDS):
            if not self.not_at_an_end(held_allowed=held_allowed):
                return
            self.wait_for_rate_limits()
            now = self.advance(6)
            scheduler.sweep_stale_posts(now=now)
            scheduler.claim_due_posts(enqueue=self.enqueue, now=now)
            while self.queue:
                publisher.publish_post(post_id=self.queue.pop(0))
            publisher.reconcile_unknown_posts(now=now)
            self.x_and_the_platform_agree()
        stuck = self.not_at_an_end(held_allowed=held_allowed)
        assert not stuck, f"once X's faults stopped, {len(stuck)} posts never reached an end: " + "; ".join(
            f"post {p.pk} {p.status} (@{p.account.username} {p.account.status}): {p.last_error or 'no reason'}"
            for p in stuck
        )

    def not_at_an_end(self, *, held_allowed: bool) -> list[Post]:
        return [
            post for post in Post.objects.select_related("account").order_by("pk")
            if post.status not in END
            and not (held_allowed and post.status in HELD and post.account.status == XAccount.Status.NEEDS_REAUTH)
        ]

    def wait_for_rate_limits(self) -> None:
        """X's resets are real time: wait for the latest the platform holds."""
        until = XAccount.objects.aggregate(until=Max("rate_limited_until"))["until"]
        if until is not None and until > timezone.now():
            time.sleep(min(LONGEST_RESET_WAIT, (until - timezone.now()).total_seconds()) + 0.05)


# Room for the examples, then for Hypothesis's shrinking of a failure, which
# it stops after five minutes.
@pytest.mark.timeout(EXAMPLES * STEPS // 10 + 400)
def test_every_post_reaches_x_at_most_once_and_ends(sandbox, owner, fast_publishing):
    world = World(sandbox=sandbox, owner=owner)
    run_state_machine_as_test(
        lambda: PostStateMachine(world),
        settings=hypothesis.settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            # Nothing written into the working tree; print_blob replays a failure.
            database=None,
            print_blob=True,
            suppress_health_check=[hypothesis.HealthCheck.too_slow],
            # The explain phase traces every line run, which makes a failing
            # example's replays here take minutes.
            phases=[phase for phase in hypothesis.Phase if phase != hypothesis.Phase.explain],
        ),
    )
