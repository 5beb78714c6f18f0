"""The post's state machine, walked edge by edge: every transition applies
from each status it lists and from no other, leaves a refused row exactly as
it was, is one UPDATE on the post's own row (no join, no subquery), and
README.md's state diagram draws exactly these edges."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import XAccount
from bots.models import Post
from bots.posting import transitions as t

S = Post.Status
TOKEN = "the-claim"


def _call(transition: t.Transition, post: Post, token: str) -> bool:
    """Apply one transition to ``post`` as its callers do."""
    now = timezone.now()
    callers = {
        t.SCHEDULE: lambda: t.schedule(post.pk, at=now, due=True),
        t.PUBLISH_NOW: lambda: t.schedule(post.pk, at=now, due=True, transition=t.PUBLISH_NOW),
        t.RETRY: lambda: t.retry(post.pk, at=now),
        t.MAKE_DRAFT: lambda: t.make_draft([post.pk]),
        t.CANCEL: lambda: t.cancel([post.pk]),
        t.SUBMIT: lambda: t.submit(post.pk, at=now + timedelta(hours=1)),
        t.APPROVE: lambda: t.approve(post.pk, at=now + timedelta(hours=1), due=True, reviewer_id=None, now=now),
        t.REJECT: lambda: t.reject(post.pk, reason="Not on a Sunday.", reviewer_id=None, now=now),
        t.HOLD: lambda: t.hold([post.pk], until=now + timedelta(hours=1), reason="Held: a budget."),
        t.CLAIM: lambda: t.claim([post.pk], token="a-new-claim", lease_until=now + timedelta(minutes=2),
                                 price=Decimal("0.015")),
        t.RELEASE: lambda: t.release(post.pk, token=token, next_attempt_at=now),
        t.RENEW_LEASE: lambda: t.renew_lease(post.pk, token=token, until=now + timedelta(minutes=5)),
        t.SEND: lambda: t.send(post.pk, token=token, now=now),
        t.PUBLISHED: lambda: t.published(post.pk, token=token, x_id="1", url="https://x.com/a/status/1", now=now),
        t.OUTCOME_UNKNOWN: lambda: t.outcome_unknown(post.pk, token=token, check_at=now, reason="No answer."),
        t.RETRY_LATER: lambda: t.retry_later(post.pk, token=token, at=now, reason="X had a server error (503).",
                                             attempts=1, maybe_sent=False),
        t.FAIL: lambda: t.fail(post.pk, token=token, reason="X refused the request (400)."),
        t.FAIL_BEHIND: lambda: t.fail_behind(root_id=post.parent_id, position=0, reason="Part 1 failed."),
        t.LEASE_EXPIRED: lambda: t.lease_expired(now=now),
        t.SENDING_STALE: lambda: t.sending_stale(now=now, since_before=now, reason="The worker stopped."),
        t.RECHECK_LATER: lambda: t.recheck_later(post.pk, at=now + timedelta(seconds=10)),
        t.FOUND: lambda: t.found(post.pk, x_id="1", url="https://x.com/a/status/1", now=now),
        t.RESEND: lambda: t.resend(post.pk, now=now, reason="Not on X: sending it again."),
        t.GIVE_UP: lambda: t.give_up(post.pk, reason="Gave up."),
    }
    assert set(callers) == set(t.TRANSITIONS), "every transition has a caller here"
    return bool(callers[transition]())


@pytest.fixture
def account(db):
    owner = get_user_model().objects.create_user("alice", "alice@example.com", is_staff=True)
    return XAccount.objects.create(owner=owner, workspace=owner.workspace,
                                   x_user_id="101", username="alice_bot", auth_method="oauth2")


def _post_in(account: XAccount, status: str, *, part: bool) -> Post:
    """A post in ``status`` as the machine leaves it there: under a claim
    whose lease ran out, sent long ago, due now."""
    long_ago = timezone.now() - timedelta(hours=1)
    fields = dict(
        account=account, text=f"In {status}", status=status, claim_token=TOKEN, lease_expires_at=long_ago,
        sending_since=long_ago, next_attempt_at=long_ago, scheduled_at=long_ago,
    )
    if not part:
        return Post.objects.create(**fields)
    root = Post.objects.create(account=account, text="The thread's first part", status=S.FAILED)
    return Post.objects.create(parent=root, position=1, **fields)


CASES = [(transition, status) for transition in t.TRANSITIONS for status in S.values]


@pytest.mark.parametrize(("transition", "status"), CASES, ids=[f"{tr.name}-from-{st}" for tr, st in CASES])
def test_each_transition_applies_from_its_sources_only(account, transition, status):
    post = _post_in(account, status, part=transition is t.FAIL_BEHIND)
    before = model_to_dict(post)

    with CaptureQueriesContext(connection) as queries:
        applied = _call(transition, post, TOKEN)

    post.refresh_from_db()
    if transition.applies_to(status):
        assert applied, f"{transition.name} must apply to a {status} post"
        assert post.status == transition.target
    else:
        assert not applied, f"{transition.name} must not apply to a {status} post"
        assert model_to_dict(post) == before, "a refused transition changes nothing"
    updates = [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("UPDATE")]
    assert len(updates) == 1, updates
    assert " JOIN " not in updates[0].upper() and "SELECT" not in updates[0].upper(), (
        "a transition decides on the post's own row only: " + updates[0]
    )


UNDER_CLAIM = [tr for tr in t.TRANSITIONS if tr in (t.RELEASE, t.RENEW_LEASE, t.SEND, t.OUTCOME_UNKNOWN,
                                                      t.RETRY_LATER, t.FAIL)]
CLAIM_CASES = [(tr, st) for tr in UNDER_CLAIM for st in tr.sources]


@pytest.mark.parametrize(("transition", "status"), CLAIM_CASES, ids=[f"{tr.name}-{st}" for tr, st in CLAIM_CASES])
def test_a_worker_under_another_claim_moves_nothing(account, transition, status):
    post = _post_in(account, status, part=False)
    before = model_to_dict(post)

    assert not _call(transition, post, "an-older-claim")

    post.refresh_from_db()
    assert model_to_dict(post) == before


def test_a_late_answer_publishes_a_post_the_sweeper_marked_unknown_but_not_another_claims_send(account):
    stale = _post_in(account, S.UNKNOWN, part=False)
    resent = _post_in(account, S.SENDING, part=False)
    now = timezone.now()

    assert t.published(stale.pk, token="the-first-claim", x_id="7", url="https://x.com/a/status/7", now=now)
    assert not t.published(resent.pk, token="the-first-claim", x_id="8", url="https://x.com/a/status/8", now=now)
    assert Post.objects.get(pk=resent.pk).status == S.SENDING


def test_the_readme_draws_the_same_state_machine():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = re.search(r"```mermaid\n(stateDiagram-v2\n.*?)```", readme, re.S)
    assert block, "README.md has the post's state diagram as a mermaid stateDiagram-v2 block"
    drawn = set(re.findall(r"^\s*(\w+) --> (\w+) : (.+?)\s*$", block.group(1), re.M))
    made = {(source, tr.target, tr.name) for tr in t.TRANSITIONS for source in tr.sources}
    assert drawn == made, {"drawn, not made": drawn - made, "made, not drawn": made - drawn}
