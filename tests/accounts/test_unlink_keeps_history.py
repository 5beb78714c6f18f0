"""Unlinking keeps the history: an unlinked X account becomes disconnected (its
tokens revoked on X, the sandbox here, and gone from the platform), its posts,
bots and figures stay, read-only, and nothing of it goes out; linking the same
X account again brings the same account back; deleting it for good is an
owner's separate, confirmed action, after a page that says what goes.

Everything goes through the admin with Django's test client, the real OAuth
flows against the sandbox, and the real publisher (the real worker where the
dispatcher's behaviour is the point)."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
import requests
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from requests_oauthlib import OAuth1

from accounts import access
from accounts.models import AuditEvent, Membership, XAccount
from bots.models import Bot, ImportJob, Post, PostingSlot
from bots.planning import costs, csv_io
from bots.posting import publisher, scheduler
from bots.posting.tasks import dispatch_due_posts
from bots.recurring import services as recurring
from tests.bots.admin_pages import ADD, change_url, management, post_form
from tests.foundation.helpers import wait_until
from tests.people import client_for, staff
from tests.sandbox.xapi import ALICE, BOB

from .linking import OAUTH1_START, OAUTH2_START, link, messages_of

ACCOUNTS = "/admin/accounts/xaccount/"
POSTS = "/admin/bots/post/"
CREATE = "POST /2/tweets"
LATER = timezone.now() + timedelta(days=30)


def act(client, action: str, account: XAccount, **extra) -> requests.Response:
    """An action of the accounts list on one account, as the list's form sends it."""
    return client.post(ACCOUNTS, {"action": action, "_selected_action": [account.pk], **extra}, follow=True)


def write(client, account: XAccount, text: str, *, when=None, parts: tuple[str, ...] = (),
          publish: str = "schedule") -> Post:
    """A post written on the admin's add page; ``when`` None: as soon as possible."""
    day, at = (f"{when:%Y-%m-%d}", f"{when:%H:%M}") if when else ("", "")
    response = client.post(ADD, post_form(account, text, parts=parts, day=day, time=at, publish=publish))
    assert response.status_code == 302, response.content.decode()[:2000]
    return Post.objects.get(account=account, text=text, parent=None)


def publish_here(post: Post) -> Post:
    """The dispatcher's claim and the worker's publishing, run in this process."""
    assert scheduler.claim_post(post_id=post.pk)
    assert publisher.publish_post(post_id=post.pk) == "published"
    return Post.objects.get(pk=post.pk)


def me_with_bearer(sandbox: str, token: str) -> int:
    return requests.get(f"{sandbox}/2/users/me", headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code


def me_with_oauth1(sandbox: str, token: str, secret: str) -> int:
    auth = OAuth1(settings.X_CONSUMER_KEY, client_secret=settings.X_CONSUMER_SECRET, resource_owner_key=token,
                  resource_owner_secret=secret)
    return requests.get(f"{sandbox}/2/users/me", auth=auth, timeout=10).status_code


def refresh_with(sandbox: str, refresh_token: str) -> int:
    return requests.post(
        f"{sandbox}/2/oauth2/token", data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        auth=(settings.X_CLIENT_ID, settings.X_CLIENT_SECRET), timeout=10,
    ).status_code


def sent_by(sandbox: str, user_id: str) -> list[dict]:
    """Every post request X (the sandbox) received from the user."""
    answer = requests.get(f"{sandbox}/_sandbox/requests", params={"endpoint": CREATE, "user_id": user_id}, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()["requests"]


def template_bot(account: XAccount) -> Bot:
    return recurring.bot_create(account=account, name="Morning news", source=Bot.Source.TEMPLATE,
                                template="News bulletin {n}", schedule_kind=Bot.ScheduleKind.INTERVAL,
                                interval_every=1, interval_unit=Bot.IntervalUnit.HOURS)


def test_unlinking_keeps_every_post_holds_what_was_to_go_out_and_pauses_the_bots(alice_client, alice, http, sandbox):
    link(alice_client, http, sandbox, OAUTH2_START, "bob_news")
    account = XAccount.objects.get()
    access_token, refresh_token = account.oauth2_access_token, account.oauth2_refresh_token
    published = publish_here(write(alice_client, account, "Already on X"))
    scheduled = write(alice_client, account, "Next month", when=LATER)
    thread = write(alice_client, account, "A thread 1/2", when=LATER, parts=("and 2/2",))
    claimed = write(alice_client, account, "Claimed, not sent yet", when=LATER)
    assert scheduler.claim_post(post_id=claimed.pk)
    draft = write(alice_client, account, "Just an idea", publish="draft")
    bot = template_bot(account)
    every_post = set(Post.objects.values_list("pk", flat=True))
    # Before unlinking, the dispatcher would take them all at their time.
    assert scheduled.next_attempt_at is not None

    response = act(alice_client, "unlink", account)

    said = " ".join(messages_of(response))
    assert "@bob_news is disconnected: its tokens were revoked on X and deleted here." in said
    assert "4 posts that were to go out are held and 1 bot is paused" in said
    assert "“Link X account”" in said
    # The same account, disconnected, with the tokens gone here and dead on X.
    account = XAccount.objects.get(pk=account.pk)
    assert account.status == XAccount.Status.DISCONNECTED
    assert account.status_reason.startswith("Unlinked by alice on ")
    assert (account.oauth2_access_token, account.oauth2_refresh_token, account.token_expires_at) == ("", "", None)
    assert me_with_bearer(sandbox, access_token) == 401
    assert refresh_with(sandbox, refresh_token) == 400
    # Every post is still there; the published one as it was.
    assert set(Post.objects.values_list("pk", flat=True)) == every_post
    kept = Post.objects.get(pk=published.pk)
    assert (kept.status, kept.x_post_id, kept.x_post_url) == (Post.Status.PUBLISHED, published.x_post_id,
                                                              published.x_post_url)
    # What was to go out is held, with who unlinked it and when.
    waiting = [scheduled, thread, *thread.parts.all(), claimed]
    for post in Post.objects.filter(pk__in=[p.pk for p in waiting]):
        assert post.status == Post.Status.SCHEDULED, post
        assert post.next_attempt_at is None and post.claim_token == ""
        assert post.last_error.startswith("Held: @bob_news was unlinked by alice on "), post.last_error
        assert "schedule this post again" in post.last_error
    assert Post.objects.get(pk=draft.pk).status == Post.Status.DRAFT
    # The bot is paused, and beat no longer wakes it.
    bot.refresh_from_db()
    assert not bot.enabled
    assert bot.paused_reason.startswith("Paused: @bob_news was unlinked by alice on ")
    assert not PeriodicTask.objects.get(name=bot.task_name).enabled
    # The dispatcher takes nothing of it, however late it gets, and the
    # worker's delivery of the claim taken before unlinking sends nothing.
    assert scheduler.claim_due_posts(enqueue=lambda *args: None, now=LATER + timedelta(days=365)) == []
    assert publisher.publish_post(post_id=claimed.pk) == "skipped"
    assert len(sent_by(sandbox, BOB)) == 1
    # The list shows it with its badge, and the account's page how to bring it back.
    listing = alice_client.get(ACCOUNTS).content.decode()
    assert 'class="x-status x-status-disconnected"' in listing and ">Disconnected<" in listing
    page = alice_client.get(f"{ACCOUNTS}{account.pk}/change/").content.decode()
    assert "to bring it back" in page.lower() and "Link X account" in page
    (event,) = AuditEvent.objects.filter(action=AuditEvent.Action.UNLINKED)
    assert (event.actor, event.object_repr, event.detail) == (
        alice, "@bob_news", "its tokens were revoked on X and deleted here")


def test_the_admin_refuses_to_edit_the_posts_of_a_disconnected_account(alice_client, http, sandbox):
    link(alice_client, http, sandbox, OAUTH2_START, "bob_news")
    account = XAccount.objects.get()
    post = write(alice_client, account, "Next month", when=LATER)
    act(alice_client, "unlink", account)

    page = alice_client.get(change_url(post.pk)).content.decode()
    form = {"account": account.pk, "text": "Changed after unlinking", "reply_settings": "",
            "poll_duration_minutes": "", "scheduled_at_0": f"{LATER:%Y-%m-%d}", "scheduled_at_1": "09:00",
            "publish": "schedule", **management("media", 1), "media-0-alt_text": "", "media-0-position": 0,
            **management("parts", 0)}
    response = alice_client.post(change_url(post.pk), form, follow=True)

    # Read-only: no text box to type in, and a change sent anyway is refused in words.
    assert 'name="text"' not in page
    assert any("can no longer be changed; your changes were not saved" in m for m in messages_of(response))
    assert Post.objects.get(pk=post.pk).text == "Next month"


@pytest.mark.django_db(transaction=True)
def test_the_dispatcher_and_the_worker_send_nothing_for_a_disconnected_account(worker, sandbox, http):
    alice = staff("alice")
    client = client_for(alice)
    link(client, http, sandbox, OAUTH2_START, "alice_bot")
    link(client, http, sandbox, OAUTH2_START, "bob_news")
    still_linked, unlinked = XAccount.objects.get(username="alice_bot"), XAccount.objects.get(username="bob_news")
    # Both due now; the dispatcher has not run yet (no beat: it is sent below).
    control = write(client, still_linked, "Goes out")
    held = write(client, unlinked, "Stays here")
    act(client, "unlink", unlinked)

    dispatch_due_posts.delay()

    wait_until(lambda: Post.objects.get(pk=control.pk).status == Post.Status.PUBLISHED,
               what="the linked account's post being published")
    # The same tick saw both posts due: only the linked account's went out.
    assert len(sent_by(sandbox, ALICE)) == 1
    assert sent_by(sandbox, BOB) == []
    after = Post.objects.get(pk=held.pk)
    assert (after.status, after.next_attempt_at, after.attempts) == (Post.Status.SCHEDULED, None, 0)


def test_linking_again_brings_back_the_same_account_with_its_posts(alice_client, alice, http, sandbox):
    link(alice_client, http, sandbox, OAUTH1_START, "bob_news")
    account = XAccount.objects.get()
    token, secret = account.oauth1_token, account.oauth1_token_secret
    published = publish_here(write(alice_client, account, "Signed with OAuth 1.0a"))
    held = write(alice_client, account, "Next month", when=LATER)
    bot = template_bot(account)
    assert me_with_oauth1(sandbox, token, secret) == 200
    act(alice_client, "unlink", account)
    # X documents invalidating OAuth 1.0a tokens too: the old one is dead.
    assert me_with_oauth1(sandbox, token, secret) == 401

    response = link(alice_client, http, sandbox, OAUTH2_START, "bob_news")

    assert response.status_code == 302
    assert "@bob_news is linked (OAuth 2.0)." in messages_of(response)
    back = XAccount.objects.get()
    assert back.pk == account.pk
    assert (back.status, back.status_reason, back.auth_method) == (XAccount.Status.ACTIVE, "", "oauth2")
    assert me_with_bearer(sandbox, back.oauth2_access_token) == 200
    assert Post.objects.get(pk=published.pk).x_post_id == published.x_post_id
    # Held posts wait for a person, and the bot for someone to enable it.
    still = Post.objects.get(pk=held.pk)
    assert (still.status, still.next_attempt_at) == (Post.Status.SCHEDULED, None)
    assert still.last_error.startswith("Held: @bob_news was unlinked")
    assert not Bot.objects.get(pk=bot.pk).enabled
    assert AuditEvent.objects.filter(action=AuditEvent.Action.LINKED, detail__endswith="after it was unlinked").exists()

    # A person lets it go: it is sent, with the new tokens.
    alice_client.post(POSTS, {"action": "publish_now", "_selected_action": [held.pk]}, follow=True)
    assert publish_here(still).status == Post.Status.PUBLISHED
    on_x = requests.get(f"{sandbox}/_sandbox/posts", params={"username": "bob_news"}, timeout=10).json()["posts"]
    assert sorted(p["text"] for p in on_x) == ["Next month", "Signed with OAuth 1.0a"]


def test_unlinking_that_x_refuses_changes_nothing(alice_client, http, sandbox):
    link(alice_client, http, sandbox, OAUTH2_START, "bob_news")
    account = XAccount.objects.get()
    post = write(alice_client, account, "Next month", when=LATER)
    fault = {"endpoint": "POST /2/oauth2/revoke", "mode": "status", "status": 503, "count": 1}
    assert requests.put(f"{sandbox}/_sandbox/faults", json={"faults": [fault], "seed": 1}, timeout=10).ok

    response = act(alice_client, "unlink", account)

    assert ("@bob_news was not unlinked: X could not revoke its tokens just now (it answered 503). Nothing changed: "
            "unlink it again in a few minutes.") in messages_of(response)
    after = XAccount.objects.get(pk=account.pk)
    assert (after.status, after.oauth2_access_token) == (XAccount.Status.ACTIVE, account.oauth2_access_token)
    assert Post.objects.get(pk=post.pk).next_attempt_at == post.next_attempt_at
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.UNLINKED).exists()


@pytest.fixture
def carol(alice):
    """An admin of Alice's workspace (Alice owns it), working in it."""
    person = staff("carol")
    Membership.objects.create(workspace=alice.workspace, user=person, role=Membership.Role.ADMIN)
    access.switch(person, alice.workspace.pk)
    return person


def test_deleting_for_good_is_for_owners_of_disconnected_accounts_after_saying_what_goes(
        alice_client, alice, carol, http, sandbox):
    link(alice_client, http, sandbox, OAUTH2_START, "bob_news")
    account = XAccount.objects.get()
    publish_here(write(alice_client, account, "Already on X"))
    write(alice_client, account, "A thread 1/2", when=LATER, parts=("and 2/2",))
    template_bot(account)
    PostingSlot.objects.create(account=account, weekday=PostingSlot.Weekday.MONDAY, time=time(9, 0))
    PostingSlot.objects.create(account=account, weekday=PostingSlot.Weekday.FRIDAY, time=time(17, 0))
    costs.budget_set(account=account, amount="5.00")
    carol_client = client_for(carol)

    # Still linked: not even its owner deletes it, and the words say what to do.
    linked = act(alice_client, "delete_for_good", account)
    assert any(m.startswith("@bob_news is still linked (active): only a disconnected account can be deleted for "
                            "good. Unlink it first") for m in messages_of(linked))
    # An admin may unlink it, but not delete it for good.
    act(carol_client, "unlink", account)
    assert XAccount.objects.get(pk=account.pk).status == XAccount.Status.DISCONNECTED
    refused = act(carol_client, "delete_for_good", account)
    assert "Only an owner of the workspace can change its members, budgets and settings, or delete an account for " \
           "good. Nothing was done." in messages_of(refused)
    # The owner first reads what goes, and nothing has gone yet.
    confirm = act(alice_client, "delete_for_good", account)
    page = confirm.content.decode()
    assert confirm.status_code == 200 and "Delete for good?" in page
    for line in ("<li>3 posts</li>", "<li>1 published post (it stays on X; only its record here goes)</li>",
                 "<li>1 bot</li>", "<li>2 posting slots</li>", "<li>1 monthly budget</li>"):
        assert line in page, line
    assert 'name="confirmed" value="yes"' in page
    assert XAccount.objects.filter(pk=account.pk).exists() and Post.objects.count() == 3

    done = act(alice_client, "delete_for_good", account, confirmed="yes")

    assert ("@bob_news was deleted for good, with 3 posts, 1 published post (it stays on X; only its record here "
            "goes), 1 bot, 2 posting slots, 1 monthly budget.") in messages_of(done)
    assert not XAccount.objects.exists()
    assert not Post.objects.exists() and not Bot.objects.exists() and not PostingSlot.objects.exists()
    trail = {(e.action, e.actor_name, e.object_repr) for e in AuditEvent.objects.filter(workspace=alice.workspace)}
    assert {(AuditEvent.Action.UNLINKED, "carol", "@bob_news"),
            (AuditEvent.Action.DELETED, "alice", "@bob_news")} <= trail
    # The X account can be linked again, as a new account.
    link(alice_client, http, sandbox, OAUTH2_START, "bob_news")
    assert XAccount.objects.get().status == XAccount.Status.ACTIVE


def test_an_account_unlinked_in_another_workspace_must_be_deleted_there_first(
        alice_client, bob_client, bob, http, sandbox):
    link(bob_client, http, sandbox, OAUTH2_START, "bob_news")
    act(bob_client, "unlink", XAccount.objects.get())

    response = link(alice_client, http, sandbox, OAUTH2_START, "bob_news")

    assert response.status_code == 403
    assert b"was unlinked from another workspace of this platform" in response.content
    assert b"must delete it for good before you can link it here" in response.content
    assert XAccount.objects.get().workspace == bob.workspace


def posts_action(client, action: str, *posts: Post, **extra) -> list[str]:
    response = client.post(POSTS, {"action": action, "_selected_action": [p.pk for p in posts], **extra}, follow=True)
    assert response.status_code == 200
    return messages_of(response)


def test_nothing_of_a_disconnected_account_is_sent_again_and_each_refusal_says_why(alice_client, alice, http,
                                                                                    sandbox):
    link(alice_client, http, sandbox, OAUTH2_START, "bob_news")
    account = XAccount.objects.get()
    held = write(alice_client, account, "Next month", when=LATER)
    cancelled = write(alice_client, account, "Called off", when=LATER)
    posts_action(alice_client, "cancel", cancelled)
    workspace = account.workspace
    workspace.approval_required = True
    workspace.save(update_fields=["approval_required"])
    editor = staff("ed")
    Membership.objects.create(workspace=workspace, user=editor, role=Membership.Role.EDITOR)
    access.switch(editor, workspace.pk)
    pending = write(client_for(editor), account, "Waiting for alice", when=LATER)
    assert Post.objects.get(pk=pending.pk).status == Post.Status.PENDING_APPROVAL
    act(alice_client, "unlink", account)
    before = {p.pk: (p.status, p.next_attempt_at, p.last_error) for p in Post.objects.all()}

    said = {
        "publish_now": posts_action(alice_client, "publish_now", held),
        "retry": posts_action(alice_client, "retry", cancelled),
        "approve": posts_action(alice_client, "approve", pending),
    }

    assert any(f"@bob_news is unlinked, so post {held.pk} cannot be published: link the account again first." in m
               for m in said["publish_now"]), said
    assert any(f"post {cancelled.pk} cannot be retried: link the account again first." in m
               for m in said["retry"]), said
    assert any(f"post {pending.pk} cannot be approved: link the account again first." in m
               for m in said["approve"]), said
    assert {p.pk: (p.status, p.next_attempt_at, p.last_error) for p in Post.objects.all()} == before
    # Held, in the list, with why; the "held" filter finds it.
    listing = alice_client.get(POSTS).content.decode()
    assert "Held: @bob_news is unlinked" in listing
    held_only = alice_client.get(POSTS, {"status": "held"}).content.decode()
    assert "Next month" in held_only and "Called off" not in held_only
    # Even a post somehow due (a time given in a race, say) is not claimed.
    Post.objects.filter(pk=held.pk).update(next_attempt_at=timezone.now() - timedelta(minutes=1))
    assert scheduler.claim_due_posts(enqueue=lambda *args: None) == []
    assert sent_by(sandbox, BOB) == []


def test_bots_queues_and_imports_refuse_a_disconnected_account_in_words(alice_client, alice, http, sandbox):
    link(alice_client, http, sandbox, OAUTH2_START, "bob_news")
    link(alice_client, http, sandbox, OAUTH2_START, "alice_bot")
    account = XAccount.objects.get(username="bob_news")
    bot = template_bot(account)
    PostingSlot.objects.create(account=account, weekday=0, time=time(9))
    draft = write(alice_client, account, "For the queue", publish="draft")
    act(alice_client, "unlink", account)
    bots_list = "/admin/bots/bot/"

    run_now = alice_client.post(bots_list, {"action": "run_now", "_selected_action": [bot.pk]}, follow=True)
    enable = alice_client.post(bots_list, {"action": "enable_bots", "_selected_action": [bot.pk]}, follow=True)
    bot_page = alice_client.get(f"{bots_list}{bot.pk}/change/").content.decode()
    add_page = alice_client.get(f"{bots_list}add/").content.decode()
    queues = alice_client.get("/admin/bots/postingqueue/").content.decode()
    queue_add = alice_client.post(f"/admin/bots/postingqueue/{account.pk}/queue/add/", {"post": draft.pk})
    csv = alice_client.post("/admin/bots/importjob/add/", {
        "file": SimpleUploadedFile("posts.csv", b"account,text\n@bob_news,From a file\n", content_type="text/csv"),
        "time_zone": "UTC"})

    assert any("Held: @bob_news is unlinked, so nothing was posted. Link it again first." in m
               for m in messages_of(run_now)), messages_of(run_now)
    assert any("cannot be enabled" in m and "The bot's account is unlinked: link it again before enabling the bot."
               in m for m in messages_of(enable)), messages_of(enable)
    bot.refresh_from_db()
    assert not bot.enabled
    # Its page is the record, read-only; a new bot cannot be made for it.
    assert 'name="name"' not in bot_page and "Morning news" in bot_page
    assert ">@alice_bot<" in add_page and "@bob_news" not in add_page
    # It has no queue: none listed, and adding to it finds nothing.
    assert "@alice_bot" in queues and "@bob_news" not in queues
    assert queue_add.status_code == 404
    said = posts_action(alice_client, "add_to_queue", draft)
    assert any("@bob_news is unlinked: link it again before changing its queue." in m for m in said), said
    assert Post.objects.get(pk=draft.pk).status == Post.Status.DRAFT
    # An import naming it is refused, with the row and the reason.
    job = ImportJob.objects.get()
    csv_io.import_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.REFUSED
    assert [(p["row"], p["column"], p["reason"]) for p in job.report] == [
        (2, "account", "@bob_news is unlinked: link it again before importing posts for it.")]
    assert not Post.objects.filter(text="From a file").exists()
    assert sent_by(sandbox, BOB) == []
