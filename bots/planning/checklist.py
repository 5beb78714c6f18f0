"""The first-run checklist on the admin's home page: link an X account,
schedule a post, see it on X's timeline, set up a posting queue. Each step
ticks itself off from what the workspace has (nothing is stored about the
checklist itself), and the list goes once every step is done.

Four small queries, each answered by an index at any size."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet
from django.urls import reverse

from accounts import gateway
from accounts.models import XAccount
from bots.planning.models import PostingSlot
from bots.posting.models import Post

Status = Post.Status
# What a post that was scheduled may be now: anything but a draft or cancelled.
SCHEDULED_ONCE = (Status.PENDING_APPROVAL, Status.SCHEDULED, Status.CLAIMED, Status.SENDING, Status.UNKNOWN,
                  Status.PUBLISHED, Status.FAILED)


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    done: bool
    # Where the step is taken, and what the link says.
    url: str
    action: str


@dataclass(frozen=True)
class Checklist:
    steps: list[Step]

    @property
    def complete(self) -> bool:
        return all(step.done for step in self.steps)

    @property
    def done(self) -> int:
        return sum(step.done for step in self.steps)

    @property
    def next_step(self) -> Step | None:
        return next((step for step in self.steps if not step.done), None)


def checklist_for(accounts: QuerySet[XAccount]) -> Checklist:
    """The checklist of the workspace whose X accounts are ``accounts``."""
    ids = accounts.order_by().values("pk")
    posts = Post.objects.filter(account__in=ids)
    first = accounts.order_by("pk").values_list("username", flat=True).first()
    # Any published post's account, in no order: the first index entry found.
    published_by = next(iter(posts.filter(status=Status.PUBLISHED).order_by()
                             .values_list("account__username", flat=True)[:1]), None)
    timeline_of = published_by or first
    return Checklist(steps=[
        Step("link", "Link an X account", first is not None, reverse("accounts:link_oauth2"), "Link an account"),
        Step("schedule", "Schedule a post", posts.filter(status__in=SCHEDULED_ONCE).exists(),
             reverse("admin:bots_post_add"), "Write a post"),
        Step("timeline", "See it on the timeline", published_by is not None,
             gateway.timeline_url(timeline_of) if timeline_of else reverse(
                 "admin:bots_post_changelist"),
             f"Open @{timeline_of}'s timeline" if timeline_of else "See your posts"),
        Step("queue", "Set up a posting queue", PostingSlot.objects.filter(account__in=ids).exists(),
             reverse("admin:bots_postingqueue_changelist"), "Choose weekly times"),
    ])
