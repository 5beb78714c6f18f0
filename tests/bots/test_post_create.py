"""One way to create a post: ``services.post_create`` makes a post or a thread
with its media, poll and reply settings, checked first, and the admin's form,
CSV imports, recurring bots and ``post_now`` all make their posts through it.
Each caller's posts have the shape the service gives, and a bad input is
refused in words with nothing written."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import AuditEvent, Membership, XAccount
from bots.models import Bot, BotItem, BotRun, ImportJob, Post, PostMedia
from bots.planning import csv_io
from bots.posting import services
from bots.posting.services import NewMedia, NewPart, Poll, PostInvalid
from bots.recurring import services as recurring
from tests.bots.csv_support import csv_bytes
from tests.people import client_for, staff
from tests.sandbox.xapi import mp4, png

from .admin_pages import ADD, messages_of, post_form
from .conftest import link_with_minted_tokens, sandbox_posts

pytestmark = pytest.mark.django_db

AT = datetime(2030, 1, 15, 9, 0, tzinfo=UTC)


@pytest.fixture
def media_root(settings, tmp_path):
    root = tmp_path / "media"
    (root / "library").mkdir(parents=True)
    (root / "library" / "cat.png").write_bytes(png())
    settings.MEDIA_ROOT = root
    return root


@pytest.fixture
def alice_bot(alice) -> XAccount:
    return XAccount.objects.create(owner=alice, workspace=alice.workspace, x_user_id="1001", username="alice_bot",
                                   auth_method="oauth2")


def shape(root: Post) -> list[tuple]:
    """What a thread is, without its ids and file names: each post's place,
    words, state, author, times, poll, reply settings and media (content
    included)."""
    return [
        (post.position, post.text, post.status, post.account_id, post.created_by_id, post.scheduled_at,
         post.next_attempt_at, post.poll_options, post.poll_duration_minutes, post.reply_settings,
         [(m.position, m.content_type, m.size, m.alt_text, m.file.open("rb").read())
          for m in post.media.order_by("position")])
        for post in [root, *root.parts.order_by("position")]
    ]


def trail(root: Post) -> list[tuple[str, str]]:
    """The audit trail of a thread, oldest first: (action, person)."""
    events = AuditEvent.objects.filter(object_type="post", object_id=str(root.pk)).order_by("at", "pk")
    return [(event.action, event.actor_name) for event in events]


def stored_files(root) -> list:
    return [path for path in root.rglob("*") if path.is_file() and "library" not in path.parts]


# The service itself.


def test_a_thread_with_media_a_poll_and_reply_settings_is_made_and_scheduled(alice, alice_bot, media_root):
    root = services.post_create(
        account=alice_bot, text="Which one? 1/3", by=alice, schedule=True,
        poll=Poll(["This", "That"], 60), reply_settings="following", scheduled_at=AT,
        parts=[NewPart("Photos 2/3", media=[NewMedia(name="a.png", content_type="image/png", size=len(png()),
                                                     alt_text="A cat", file=ContentFile(png())),
                                            NewMedia(name="library/cat.png", content_type="image/png",
                                                     size=len(png()), stored="library/cat.png")]),
               NewPart("A clip 3/3", media=[NewMedia(name="clip.mp4", content_type="video/mp4", size=len(mp4()),
                                                     file=ContentFile(mp4()))])],
    )

    assert shape(root) == [
        (0, "Which one? 1/3", "scheduled", alice_bot.pk, alice.pk, AT, AT, ["This", "That"], 60, "following", []),
        (1, "Photos 2/3", "scheduled", alice_bot.pk, alice.pk, AT, None, [], None, "",
         [(0, "image/png", len(png()), "A cat", png()), (1, "image/png", len(png()), "", png())]),
        (2, "A clip 3/3", "scheduled", alice_bot.pk, alice.pk, AT, None, [], None, "",
         [(0, "video/mp4", len(mp4()), "", mp4())]),
    ]
    stored = PostMedia.objects.get(alt_text="", content_type="image/png")
    assert stored.file.name == "library/cat.png"
    assert trail(root) == [("created", "alice"), ("scheduled", "alice")]


def test_without_schedule_it_is_a_draft(alice, alice_bot):
    root = services.post_create(account=alice_bot, text="Not yet", by=alice, schedule=False,
                                parts=[NewPart("later")], scheduled_at=AT)

    assert [(p.status, p.scheduled_at, p.next_attempt_at) for p in [root, *root.parts.all()]] == [
        ("draft", AT, None), ("draft", AT, None)]
    assert trail(root) == [("created", "alice")]


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"text": "a" * 281}, "text", "The text is 281 characters long by X's count; the limit is 280. Remove 1."),
        ({"parts": [NewPart("fine"), NewPart("b" * 300)]}, "parts.1.text",
         "Part 3 of the thread: The text is 300 characters long by X's count"),
        ({"parts": [NewPart("  ")]}, "parts.0.text",
         "Part 2 of the thread: This part of the thread has no text: write some, or attach an image"),
        ({"poll": Poll(["Only one"], 60)}, "poll_options", "A poll needs 2 to 4 options; this one has 1. Add 1 more."),
        ({"poll": Poll(["This", "That"], 60),
          "media": [NewMedia(name="a.png", content_type="image/png", size=len(png()), file=ContentFile(png()))]},
         "poll_options", "A post can have a poll or media, not both"),
        ({"media": [NewMedia(name="notes.txt", content_type="text/plain", size=10, file=ContentFile(b"just words"))]},
         "media", "notes.txt is of type text/plain, which X does not take."),
        ({"reply_settings": "Following"}, "reply_settings", "Did you mean 'following'?"),
        ({"scheduled_at": datetime(2030, 1, 15, 9, 0)}, "scheduled_at", "has no time zone"),
    ],
    ids=["text too long", "part too long", "empty part", "poll of one", "poll and media", "media type",
         "reply setting", "time without zone"],
)
def test_a_bad_input_is_refused_by_field_in_words_and_nothing_is_written(alice, alice_bot, media_root, fields,
                                                                          field, words):
    arguments = {"account": alice_bot, "text": "Hello", "by": alice, "schedule": True, **fields}

    with pytest.raises(PostInvalid) as refused:
        services.post_create(**arguments)

    assert words in " ".join(refused.value.problems[field])
    assert words in str(refused.value)
    assert not Post.objects.exists() and not PostMedia.objects.exists() and not AuditEvent.objects.exists()
    assert stored_files(media_root) == []


def test_a_viewer_may_not_create_a_post(alice, alice_bot):
    viewer = staff("vic")
    Membership.objects.create(workspace=alice_bot.workspace, user=viewer, role=Membership.Role.VIEWER)

    with pytest.raises(PermissionDenied, match="Your role in this workspace is viewer"):
        services.post_create(account=alice_bot, text="Hello", by=viewer, schedule=True)

    assert not Post.objects.exists() and not AuditEvent.objects.exists()


# The admin's post form.


def test_the_admin_form_makes_the_thread_post_create_makes(alice, alice_bot, media_root):
    upload = SimpleUploadedFile("sunrise.png", png(), content_type="image/png")
    response = client_for(alice).post(
        ADD, post_form(alice_bot, "Good morning 1/2", parts=["and 2/2"], reply_settings="following",
                       media=[(upload, "The sun rising")], day="2030-01-15", time="09:00"), follow=True)
    from_admin = Post.objects.get(parent=None)

    from_service = services.post_create(
        account=alice_bot, text="Good morning 1/2", by=alice, schedule=True, parts=[NewPart("and 2/2")],
        media=[NewMedia(name="sunrise.png", content_type="image/png", size=len(png()), alt_text="The sun rising",
                        file=ContentFile(png()))],
        reply_settings="following", scheduled_at=AT,
    )

    assert "Scheduled for Tue 15 Jan 2030, 09:00 UTC (a thread of 2 posts)." in messages_of(response)
    assert shape(from_admin) == shape(from_service)
    assert trail(from_admin) == trail(from_service) == [("created", "alice"), ("scheduled", "alice")]
    # Django's own record of the addition names what the inlines added.
    logged = LogEntry.objects.get(object_id=str(from_admin.pk)).get_change_message()
    assert logged.startswith("Added. Added post media “") and logged.endswith("Added post “@alice_bot: and 2/2”.")


def test_a_draft_and_a_poll_from_the_admin_form(alice, alice_bot):
    client = client_for(alice)
    client.post(ADD, post_form(alice_bot, "Tea or coffee?", poll=["Tea ", "Coffee", "", ""], poll_minutes=1440,
                               publish="draft"))
    from_admin = Post.objects.get()

    from_service = services.post_create(account=alice_bot, text="Tea or coffee?", by=alice, schedule=False,
                                        poll=Poll(["Tea", "Coffee"], 1440))

    assert shape(from_admin) == shape(from_service)
    assert from_admin.status == "draft" and from_admin.poll_options == ["Tea", "Coffee"]


def test_the_admin_form_refuses_a_bad_part_in_words_and_writes_nothing(alice, alice_bot):
    response = client_for(alice).post(ADD, post_form(alice_bot, "Fine", parts=["b" * 300]))

    assert response.status_code == 200
    assert "The text is 300 characters long by X&#x27;s count" in response.content.decode()
    assert not Post.objects.exists() and not AuditEvent.objects.exists()


# CSV import.


def test_a_csv_import_makes_the_thread_post_create_makes(alice, alice_bot, media_root):
    rows = [["@alice_bot", "Launch 1/2", "2030-01-15T10:00:00+01:00", "launch", "library/cat.png"],
            ["@alice_bot", "Launch 2/2", "", "launch", "library/cat.png"]]
    client_for(alice).post("/admin/bots/importjob/add/", {
        "file": SimpleUploadedFile("posts.csv", csv_bytes(rows), content_type="text/csv"), "time_zone": "UTC"})
    job = csv_io.import_job_run(job_id=ImportJob.objects.get().pk)
    assert job.status == ImportJob.Status.DONE, job.report
    from_csv = Post.objects.get(parent=None)

    cat = NewMedia(name="library/cat.png", content_type="image/png", size=len(png()), stored="library/cat.png")
    from_service = services.post_create(account=alice_bot, text="Launch 1/2", by=alice, schedule=True,
                                        media=[cat], parts=[NewPart("Launch 2/2", media=[cat])], scheduled_at=AT)

    assert shape(from_csv) == shape(from_service)
    assert trail(from_csv) == [("created", "alice"), ("scheduled", "alice")]


def test_an_import_whose_author_may_no_longer_write_creates_nothing_and_says_why(alice, alice_bot):
    editor = staff("eddie")
    Membership.objects.create(workspace=alice_bot.workspace, user=editor, role=Membership.Role.EDITOR)
    text = "account,text,scheduled_at\n@alice_bot,Hello,2030-01-15T09:00:00Z\n@alice_bot,Again,2030-01-16T09:00:00Z\n"
    plan = csv_io.import_check(text=text, user=editor, workspace=alice_bot.workspace, zone=UTC)
    assert plan.problems == []
    # Made a viewer while the worker checked the rows.
    Membership.objects.filter(user=editor).update(role=Membership.Role.VIEWER)

    with pytest.raises(PermissionDenied) as refused:
        csv_io.import_create(plan=plan, user=editor)
    plan.discard()

    assert not Post.objects.exists() and not AuditEvent.objects.exists()
    assert csv_io.failure_reason(refused.value) == (
        "Your role in this workspace is viewer: an editor, admin or owner can write and schedule posts. "
        "Nothing was imported.")


# Recurring bots.


def test_a_bots_post_is_the_one_post_create_makes_for_the_platform(alice_bot):
    bot = recurring.bot_create(account=alice_bot, name="Tips", source=Bot.Source.QUEUE,
                               schedule_kind=Bot.ScheduleKind.CRON, cron="0 9 * * *", timezone="UTC")
    BotItem.objects.create(bot=bot, text="Drink water", position=0)
    now = timezone.now()

    result = recurring.run_bot(bot_id=bot.pk, manual=True, now=now)

    assert result.outcome == BotRun.Outcome.POSTED
    from_bot = result.run.post
    from_service = services.post_create(account=alice_bot, text="Drink water", by=None, schedule=True,
                                        scheduled_at=now)
    assert shape(from_bot) == shape(from_service)
    assert shape(from_bot)[0][2:7] == ("scheduled", alice_bot.pk, None, now, now)
    # The platform's own posts are nobody's act in the audit trail.
    assert trail(from_bot) == []


def test_a_bot_whose_text_x_would_refuse_pauses_in_words_and_posts_nothing(alice_bot):
    bot = recurring.bot_create(account=alice_bot, name="Long", source=Bot.Source.QUEUE,
                               schedule_kind=Bot.ScheduleKind.CRON, cron="0 9 * * *", timezone="UTC")
    BotItem.objects.create(bot=bot, text="x" * 300, position=3)

    result = recurring.run_bot(bot_id=bot.pk, manual=True)

    assert result.outcome == BotRun.Outcome.PAUSED
    assert "The queue item at position 3 cannot be posted: The text is 300 characters long" in result.message
    assert not Post.objects.exists()


# post_now.


def post_now(*args: str) -> str:
    out = io.StringIO()
    call_command("post_now", *args, stdout=out)
    return out.getvalue()


def test_post_now_publishes_the_post_post_create_makes(sandbox, owner, fast_publishing):
    account = link_with_minted_tokens(sandbox, owner, "alice_bot")
    before = timezone.now()

    output = post_now("--account", "@alice_bot", "By hand")

    post = Post.objects.get()
    (on_x,) = sandbox_posts(sandbox, username="alice_bot")
    assert output.strip() == f"Published: {sandbox}/alice_bot/status/{on_x['id']}" and on_x["text"] == "By hand"
    assert (post.account, post.parent, post.created_by, post.status) == (account, None, None, "published")
    assert before <= post.scheduled_at <= timezone.now() + timedelta(seconds=1)


def test_post_now_refuses_a_bad_text_in_words_and_writes_nothing(alice_bot):
    with pytest.raises(CommandError, match="^The text contains characters X refuses \\(U\\+FFFE\\)"):
        post_now("--account", "@alice_bot", "Hidden \ufffe character")

    assert not Post.objects.exists()
