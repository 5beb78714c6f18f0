"""Approval, through the admin as people use it: in a workspace that asks for
it, what an editor schedules waits as pending approval (the whole thread), and
the dispatcher never takes it; an admin or owner approves it (scheduled as
written, then published to X by the real worker) or rejects it with a reason
its author reads; a post whose time passed while it waited is not sent late
until it has a new time; viewers and editors cannot approve; without approval
an editor schedules directly; the post list, the calendar and the dashboard
show what waits; and each step is in the audit trail with who took it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django.utils.html import escape

from accounts.models import AuditEvent, Membership, Workspace, XAccount
from bots.models import ImportJob, Post, PostingSlot
from bots.planning import csv_io
from bots.posting import scheduler, services
from bots.posting.services import PostActionError
from tests.bots.csv_support import csv_bytes
from tests.foundation.helpers import wait_until
from tests.people import client_for, staff

from .admin_pages import ADD, CHANGELIST, change_url, messages_of, post_form
from .conftest import link_with_minted_tokens, published, sandbox_posts

pytestmark = pytest.mark.django_db

S = Post.Status
AT = datetime(2030, 1, 15, 9, 0, tzinfo=UTC)


@pytest.fixture
def newsroom(db) -> Workspace:
    return Workspace.objects.create(name="Newsroom", approval_required=True)


def member(workspace: Workspace, username: str, role: str):
    """A person of the workspace with ``role``, working in it now."""
    person = staff(username)
    Membership.objects.create(workspace=workspace, user=person, role=role)
    person.workspace = workspace
    person.save(update_fields=["workspace"])
    return person


@pytest.fixture
def olga(newsroom):
    return member(newsroom, "olga", Membership.Role.OWNER)


@pytest.fixture
def adam(newsroom):
    return member(newsroom, "adam", Membership.Role.ADMIN)


@pytest.fixture
def eddie(newsroom):
    return member(newsroom, "eddie", Membership.Role.EDITOR)


@pytest.fixture
def vera(newsroom):
    return member(newsroom, "vera", Membership.Role.VIEWER)


@pytest.fixture
def news_bot(olga, newsroom) -> XAccount:
    return XAccount.objects.create(owner=olga, workspace=newsroom, x_user_id="5001", username="news_bot",
                                   auth_method="oauth2")


def write(person, account: XAccount, text: str, **fields):
    """The person fills in the add page and saves it."""
    return client_for(person).post(ADD, post_form(account, text, **fields), follow=True)


def act(person, action: str, *posts: Post, **extra):
    """The person ticks ``posts`` in the post list and runs ``action``."""
    return client_for(person).post(
        CHANGELIST, {"action": action, "_selected_action": [post.pk for post in posts], **extra}, follow=True)


def statuses(root: Post) -> list[str]:
    return [post.status for post in [Post.objects.get(pk=root.pk), *root.parts.order_by("position")]]


def trail(workspace: Workspace) -> list[tuple[str, str, str]]:
    """The workspace's audit trail of posts, oldest first: (who, what, which post)."""
    events = AuditEvent.objects.filter(workspace=workspace, object_type="post").order_by("at", "pk")
    return [(event.actor_name, event.action, event.object_id) for event in events]


# Waiting, and the dispatcher.


def test_an_editors_thread_waits_for_approval_and_the_dispatcher_leaves_it(eddie, adam, news_bot):
    page = client_for(eddie).get(ADD).content.decode()
    assert "Send for approval" in page

    response = write(eddie, news_bot, "Breaking 1/2", parts=["Breaking 2/2"], day="2030-01-15", time="09:00")

    assert ("Sent for approval for Tue 15 Jan 2030, 09:00 UTC (a thread of 2 posts): an admin or owner of the "
            "workspace approves it before it is scheduled.") in messages_of(response)
    root = Post.objects.get(parent=None)
    assert statuses(root) == [S.PENDING_APPROVAL, S.PENDING_APPROVAL]
    assert [(p.scheduled_at, p.next_attempt_at) for p in [root, *root.parts.all()]] == [(AT, None), (AT, None)]
    by_admin = services.post_create(account=news_bot, text="Scheduled by an admin", by=adam, schedule=True,
                                    scheduled_at=AT)

    claimed = scheduler.claim_due_posts(enqueue=lambda *args: None, now=AT + timedelta(days=1))

    assert claimed == [by_admin.pk]
    assert statuses(root) == [S.PENDING_APPROVAL, S.PENDING_APPROVAL]


@pytest.mark.django_db(transaction=True)
def test_an_admin_approves_and_the_worker_publishes_it_to_x(pipeline, sandbox, newsroom, olga, adam, eddie):
    account = link_with_minted_tokens(sandbox, olga, "alice_bot")
    write(eddie, account, "Approved 1/2", parts=["Approved 2/2"])
    root = Post.objects.get(parent=None)
    assert statuses(root) == [S.PENDING_APPROVAL, S.PENDING_APPROVAL] and root.scheduled_at is None

    response = act(adam, "approve", root)

    root.refresh_from_db()
    assert root.status in (S.SCHEDULED, S.CLAIMED, S.SENDING, S.PUBLISHED)
    assert (f"“Approved 1/2” on @alice_bot is approved, and scheduled for {local(root.scheduled_at)}."
            in messages_of(response))
    first, second = published(root), published(root.parts.get())
    on_x = sorted(sandbox_posts(sandbox, username="alice_bot"), key=lambda post: post["id"])
    assert [(post["id"], post["text"]) for post in on_x] == [(first.x_post_id, "Approved 1/2"),
                                                            (second.x_post_id, "Approved 2/2")]
    assert on_x[1]["reply_to"] == first.x_post_id
    assert trail(newsroom) == [("eddie", "created", str(root.pk)), ("eddie", "submitted", str(root.pk)),
                               ("adam", "approved", str(root.pk))]


def local(at: datetime) -> str:
    return f"{at:%a %d %b %Y, %H:%M} UTC"


def test_approving_schedules_the_thread_as_written(eddie, adam, news_bot):
    write(eddie, news_bot, "At nine 1/2", parts=["At nine 2/2"], day="2030-01-15", time="09:00")
    root = Post.objects.get(parent=None)

    response = act(adam, "approve", root)

    assert "“At nine 1/2” on @news_bot is approved, and scheduled for Tue 15 Jan 2030, 09:00 UTC." in (
        messages_of(response))
    root.refresh_from_db()
    part = root.parts.get()
    assert (root.status, root.scheduled_at, root.next_attempt_at, root.text) == (S.SCHEDULED, AT, AT, "At nine 1/2")
    assert (part.status, part.scheduled_at, part.next_attempt_at) == (S.SCHEDULED, AT, None)
    assert (root.reviewed_by, root.review_note) == (adam, "")
    page = client_for(eddie).get(change_url(root.pk)).content.decode()
    assert "Approved by adam on" in page


def test_an_owner_approves_too_and_a_post_not_waiting_is_refused_in_words(eddie, olga, news_bot):
    write(eddie, news_bot, "Waiting", day="2030-01-15", time="09:00")
    waiting = Post.objects.get()
    draft = services.post_create(account=news_bot, text="Only a draft", by=eddie, schedule=False)

    response = act(olga, "approve", waiting, draft)

    assert Post.objects.get(pk=waiting.pk).status == S.SCHEDULED
    assert Post.objects.get(pk=draft.pk).status == S.DRAFT
    assert (f"“Only a draft” on @news_bot: Post {draft.pk} is draft: only posts pending approval can be approved."
            in messages_of(response))


# Rejecting.


def test_a_rejected_post_goes_back_to_its_author_with_the_reason(newsroom, eddie, adam, news_bot):
    write(eddie, news_bot, "Embargoed news", parts=["more"], day="2030-01-15", time="09:00")
    root = Post.objects.get(parent=None)

    asked = act(adam, "reject", root)
    assert asked.status_code == 200
    page = asked.content.decode()
    assert "Reason, for the author:" in page and "“Embargoed news” on @news_bot" in page and "by eddie" in page

    empty = act(adam, "reject", root, reason="   ", post="yes")
    assert "Give a reason: the author reads it to know what to change." in empty.content.decode()
    assert statuses(root) == [S.PENDING_APPROVAL, S.PENDING_APPROVAL]

    reason = "Not before the press release at <10:00>: move it to 10:30."
    done = act(adam, "reject", root, reason=reason, post="yes")

    assert done.redirect_chain[-1][0].startswith(CHANGELIST)
    assert "Rejected “Embargoed news” on @news_bot: it is a draft again, and its author sees your reason." in (
        messages_of(done))
    assert statuses(root) == [S.DRAFT, S.DRAFT]
    root.refresh_from_db()
    assert (root.review_note, root.reviewed_by, root.next_attempt_at) == (reason, adam, None)
    listing = client_for(eddie).get(CHANGELIST).content.decode()
    assert "Rejected: back to draft" in listing and escape(reason) in listing
    own_page = client_for(eddie).get(change_url(root.pk)).content.decode()
    assert "Rejected by adam on" in own_page and escape(reason) in own_page
    assert trail(newsroom)[-1] == ("adam", "rejected", str(root.pk))
    assert AuditEvent.objects.get(action="rejected").detail == reason


def test_a_rejected_post_changed_and_sent_again_waits_again_without_the_old_reason(eddie, adam, news_bot):
    write(eddie, news_bot, "First go", day="2030-01-15", time="09:00")
    post = Post.objects.get()
    services.post_reject(post=post, by=adam, reason="Say when.")

    response = client_for(eddie).post(change_url(post.pk), post_form(news_bot, "Second go, at ten",
                                                                     day="2030-01-15", time="10:00"), follow=True)

    assert any(m.startswith("Sent for approval for Tue 15 Jan 2030, 10:00 UTC") for m in messages_of(response))
    post.refresh_from_db()
    assert (post.status, post.text, post.review_note, post.reviewed_by) == (S.PENDING_APPROVAL, "Second go, at ten",
                                                                           "", None)


def test_a_reason_too_long_or_with_a_nul_is_refused_and_nothing_changes(eddie, adam, news_bot):
    write(eddie, news_bot, "Waiting", day="2030-01-15", time="09:00")
    post = Post.objects.get()

    too_long = act(adam, "reject", post, reason="x" * 2001, post="yes")
    with_nul = act(adam, "reject", post, reason="No\x00", post="yes")

    assert "A reason is at most 2,000 characters; this one is 2,001. Shorten it." in too_long.content.decode()
    assert "The reason contains a NUL character (U+0000)" in with_nul.content.decode()
    assert Post.objects.get().status == S.PENDING_APPROVAL and not AuditEvent.objects.filter(action="rejected")


# Time passed while waiting.


def test_a_post_whose_time_passed_while_waiting_is_not_sent_until_it_has_a_new_time(eddie, adam, news_bot):
    at = (timezone.now() + timedelta(seconds=2)).replace(microsecond=0)
    write(eddie, news_bot, "Soon", day=f"{at:%Y-%m-%d}", time=f"{at:%H:%M:%S}")
    post = Post.objects.get()
    assert (post.status, post.scheduled_at) == (S.PENDING_APPROVAL, at)
    wait_until(lambda: timezone.now() > at, seconds=10, what="the post's time to pass")

    refused = act(adam, "approve", post)

    assert (f"“Soon” on @news_bot: Post {post.pk} waited for approval past its time, {local(at)}, and is not sent "
            "late: give it a new time, then approve it.") in messages_of(refused)
    assert Post.objects.get().status == S.PENDING_APPROVAL
    assert scheduler.claim_due_posts(enqueue=lambda *args: None, now=timezone.now() + timedelta(hours=1)) == []

    client_for(eddie).post(change_url(post.pk), post_form(news_bot, "Soon", day="2030-01-15", time="09:00"))
    approved = act(adam, "approve", post)

    assert "“Soon” on @news_bot is approved, and scheduled for Tue 15 Jan 2030, 09:00 UTC." in messages_of(approved)
    assert Post.objects.filter(status=S.SCHEDULED, scheduled_at=AT, next_attempt_at=AT).count() == 1


def test_an_admin_giving_a_waiting_post_a_new_time_on_its_page_approves_it(newsroom, eddie, adam, news_bot):
    write(eddie, news_bot, "Too late", day=f"{timezone.now() - timedelta(days=1):%Y-%m-%d}", time="09:00")
    post = Post.objects.get()
    page = client_for(adam).get(change_url(post.pk)).content.decode()
    # It opens on "Schedule", not on "Save as draft", which would take it from the approvers' list.
    assert re.search(r'<input type="radio" name="publish" value="schedule"[^>]* checked>', page)

    kept = client_for(adam).post(change_url(post.pk), post_form(news_bot, "Too late",
                                                                day=f"{post.scheduled_at:%Y-%m-%d}", time="09:00"),
                                 follow=True)
    assert any("waited for approval past its time" in m and m.endswith("Your changes were not saved.")
               for m in messages_of(kept))
    assert Post.objects.get().status == S.PENDING_APPROVAL

    client_for(adam).post(change_url(post.pk), post_form(news_bot, "On time", day="2030-01-15", time="09:00"))

    post.refresh_from_db()
    assert (post.status, post.text, post.scheduled_at, post.next_attempt_at, post.reviewed_by) == (
        S.SCHEDULED, "On time", AT, AT, adam)
    assert trail(newsroom)[-1] == ("adam", "approved", str(post.pk))


# Who may approve.


def test_viewers_and_editors_cannot_approve_or_reject(eddie, vera, adam, news_bot):
    write(eddie, news_bot, "Mine to approve?", day="2030-01-15", time="09:00")
    post = Post.objects.get()
    for person in (eddie, vera):
        listing = client_for(person).get(CHANGELIST).content.decode()
        assert 'value="approve"' not in listing and 'value="reject"' not in listing
    assert 'value="approve"' in client_for(adam).get(CHANGELIST).content.decode()

    for person in (eddie, vera):
        act(person, "approve", post)
        act(person, "reject", post, reason="No.", post="yes")
        with pytest.raises(PermissionDenied, match="Only an admin or owner of the workspace can approve or reject "
                                                   "posts."):
            services.post_approve(post=post, by=person)
        with pytest.raises(PermissionDenied, match="Only an admin or owner"):
            services.post_reject(post=post, by=person, reason="No.")

    # The editor saving their own post's page sends it again; it does not approve it.
    client_for(eddie).post(change_url(post.pk), post_form(news_bot, "Mine to approve?", day="2030-01-15",
                                                          time="09:00"))
    post.refresh_from_db()
    assert (post.status, post.reviewed_by, post.review_note) == (S.PENDING_APPROVAL, None, "")
    assert not AuditEvent.objects.filter(action__in=["approved", "rejected"]).exists()


def test_an_admin_of_another_workspace_cannot_approve(eddie, news_bot):
    elsewhere = Workspace.objects.create(name="Elsewhere", approval_required=True)
    stranger = member(elsewhere, "stan", Membership.Role.ADMIN)
    write(eddie, news_bot, "Not theirs", day="2030-01-15", time="09:00")
    post = Post.objects.get()

    act(stranger, "approve", post)
    with pytest.raises(PermissionDenied, match="Only an admin or owner of the workspace can approve"):
        services.post_approve(post=post, by=stranger)

    assert Post.objects.get().status == S.PENDING_APPROVAL


# Without approval, and who never waits.


def test_without_approval_an_editor_schedules_directly(newsroom, eddie, news_bot):
    newsroom.approval_required = False
    newsroom.save()
    assert "Send for approval" not in client_for(eddie).get(ADD).content.decode()

    response = write(eddie, news_bot, "Straight out", day="2030-01-15", time="09:00")

    assert "Scheduled for Tue 15 Jan 2030, 09:00 UTC." in messages_of(response)
    post = Post.objects.get()
    assert (post.status, post.next_attempt_at) == (S.SCHEDULED, AT)
    assert trail(newsroom) == [("eddie", "created", str(post.pk)), ("eddie", "scheduled", str(post.pk))]


def test_admins_and_owners_schedule_directly(newsroom, adam, olga, news_bot):
    write(adam, news_bot, "By the admin", day="2030-01-15", time="09:00")
    write(olga, news_bot, "By the owner", day="2030-01-15", time="09:00")

    assert set(Post.objects.values_list("status", flat=True)) == {S.SCHEDULED}


def test_an_editors_csv_import_waits_for_approval(newsroom, eddie, news_bot):
    rows = [["@news_bot", "Imported 1/2", "2030-01-15T09:00:00Z", "t", ""], ["@news_bot", "Imported 2/2", "", "t", ""],
            ["@news_bot", "Imported alone", "2030-01-16T09:00:00Z", "", ""]]
    client_for(eddie).post("/admin/bots/importjob/add/", {
        "file": SimpleUploadedFile("posts.csv", csv_bytes(rows), content_type="text/csv"), "time_zone": "UTC"})

    job = csv_io.import_job_run(job_id=ImportJob.objects.get().pk)

    assert job.status == ImportJob.Status.DONE and job.created_posts == 3
    assert set(Post.objects.values_list("status", "next_attempt_at")) == {(S.PENDING_APPROVAL, None)}
    assert [action for _, action, _ in trail(newsroom)] == ["created", "submitted", "created", "submitted"]


# Where waiting posts show.


def test_the_post_list_the_calendar_and_the_dashboard_show_waiting_posts(eddie, adam, news_bot):
    write(eddie, news_bot, "Waits for adam", day="2030-01-15", time="09:00")
    services.post_create(account=news_bot, text="Scheduled already", by=adam, schedule=True, scheduled_at=AT)
    client = client_for(adam)

    listing = client.get(CHANGELIST, {"status": "pending_approval"}).content.decode()
    assert "Waits for adam" in listing and "Scheduled already" not in listing
    assert "Pending approval" in listing
    assert escape("Waiting for an admin or owner of the workspace to approve it, to go out Tue 15 Jan 2030, "
                  "09:00 UTC.") in listing

    calendar = client.get("/admin/bots/postcalendar/", {"day": "2030-01-15"}).content.decode()
    assert 'class="calendar-entry calendar-entry-pending_approval"' in calendar
    assert "Pending approval" in calendar.split('class="calendar-legend"', 1)[1].split("</ul>", 1)[0]

    dashboard = client.get("/admin/").content.decode()
    assert 'href="/admin/bots/post/?status=pending_approval">1 post waiting for approval</a>' in dashboard


# The audit trail.


def test_each_step_is_in_the_audit_trail_with_who_took_it(newsroom, eddie, adam, news_bot):
    write(eddie, news_bot, "Walk", day="2030-01-15", time="09:00")
    post = Post.objects.get()
    pk = str(post.pk)

    act(eddie, "cancel", post)                      # cancelled while waiting
    act(eddie, "retry", post)                       # a cancelled thread waits for approval again
    assert Post.objects.get().status == S.PENDING_APPROVAL
    act(adam, "reject", post, reason="Shorter, please.", post="yes")
    act(eddie, "publish_now", post)                 # the draft waits again, to go out once approved
    assert Post.objects.get().status == S.PENDING_APPROVAL and Post.objects.get().scheduled_at is None
    act(adam, "approve", post)
    act(adam, "publish_now", post)
    Post.objects.filter(pk=post.pk).update(status=S.FAILED, last_error="X was down.")
    act(eddie, "retry", post)                       # a failed post went out as approved: tried again at once
    assert Post.objects.get().status == S.SCHEDULED

    assert trail(newsroom) == [
        ("eddie", "created", pk), ("eddie", "submitted", pk), ("eddie", "cancelled", pk), ("eddie", "submitted", pk),
        ("adam", "rejected", pk), ("eddie", "submitted", pk), ("adam", "approved", pk),
        ("adam", "published_now", pk), ("eddie", "retried", pk),
    ]


def test_a_refused_step_leaves_no_trace(newsroom, adam, news_bot):
    post = services.post_create(account=news_bot, text="Out already", by=adam, schedule=True, scheduled_at=AT)
    Post.objects.filter(pk=post.pk).update(status=S.PUBLISHED)
    before = trail(newsroom)

    with pytest.raises(PostActionError, match="is published: only posts pending approval can be approved"):
        services.post_approve(post=post, by=adam)
    with pytest.raises(PostActionError, match="is published: only posts pending approval can be rejected"):
        services.post_reject(post=post, by=adam, reason="Too late.")

    assert trail(newsroom) == before


def test_an_editors_draft_added_to_the_queue_waits_for_approval_with_the_slots_time(eddie, news_bot):
    PostingSlot.objects.create(account=news_bot, weekday=0, time=time(9, 0))
    draft = Post.objects.create(account=news_bot, text="For the next free slot", created_by=eddie)

    page = " ".join(act(eddie, "add_to_queue", draft).content.decode().split())

    draft.refresh_from_db()
    assert draft.status == Post.Status.PENDING_APPROVAL
    assert draft.scheduled_at is not None and draft.scheduled_at > timezone.now()
    assert f"Post {draft.pk} waits for approval, for the slot of" in page
