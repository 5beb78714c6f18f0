"""The post admin over HTTP: writing a thread with media, what it refuses and
where it says so, the list, the actions, the live counter's endpoint, and that
a staff user who is not a superuser sees and acts on their own posts only."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from accounts import x_hosts
from accounts.models import XAccount
from bots.models import Post, PostMedia
from bots.posting import services
from bots.posting.validation import text_count
from tests.sandbox.xapi import mp4, png

from .admin_pages import (
    ADD,
    CHANGELIST,
    COUNT,
    change_url,
    errors_of,
    inline_errors,
    management,
    messages_of,
    post_form,
)
from .conftest import link_with_minted_tokens

Status = Post.Status


@pytest.fixture
def alice_bot(sandbox, alice) -> XAccount:
    return link_with_minted_tokens(sandbox, alice, "alice_bot")


@pytest.fixture
def bob_news(sandbox, bob) -> XAccount:
    return link_with_minted_tokens(sandbox, bob, "bob_news")


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def image(name: str = "sunrise.png", content_type: str = "image/png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, png(), content_type=content_type)


def draft(account: XAccount, text: str, *, parts: tuple[str, ...] = (), **fields) -> Post:
    root = Post.objects.create(account=account, text=text, **fields)
    for position, part in enumerate(parts, start=1):
        Post.objects.create(account=account, parent=root, position=position, text=part)
    return root


# Writing posts.


def test_adding_a_thread_with_an_image_schedules_every_part(alice_client, alice, alice_bot, media_root):
    form = post_form(
        alice_bot, "Good morning 1/3", parts=["and 2/3", "and 3/3"],
        media=[(image(), "The sun rising over the sea")], day="2030-01-15", time="09:00",
    )

    response = alice_client.post(ADD, form, follow=True)

    assert response.redirect_chain[-1][0] == CHANGELIST
    root = Post.objects.get(parent=None)
    assert (root.account, root.text, root.status, root.created_by) == (alice_bot, "Good morning 1/3", Status.SCHEDULED,
                                                                      alice)
    assert root.scheduled_at == root.next_attempt_at == datetime(2030, 1, 15, 9, 0, tzinfo=UTC)
    parts = [(p.position, p.text, p.status, p.account_id, p.next_attempt_at, p.created_by_id)
             for p in root.parts.order_by("position")]
    assert parts == [
        (1, "and 2/3", Status.SCHEDULED, alice_bot.pk, None, alice.pk),
        (2, "and 3/3", Status.SCHEDULED, alice_bot.pk, None, alice.pk),
    ]
    (media,) = root.media.all()
    assert (media.content_type, media.size, media.alt_text) == ("image/png", len(png()), "The sun rising over the sea")
    assert media.file.read() == png()
    assert "Scheduled for Tue 15 Jan 2030, 09:00 UTC (a thread of 3 posts)." in messages_of(response)


def test_save_as_draft_leaves_the_thread_unscheduled(alice_client, alice_bot):
    response = alice_client.post(
        ADD, post_form(alice_bot, "Not yet", parts=["later"], day="2030-01-15", time="09:00", publish="draft"),
        follow=True,
    )

    assert "Saved as a draft: it is not published until you schedule it." in messages_of(response)
    assert sorted(Post.objects.values_list("status", "next_attempt_at")) == [(Status.DRAFT, None)] * 2


def test_a_poll_is_stored_with_its_choices_and_length(alice_client, alice_bot):
    alice_client.post(ADD, post_form(alice_bot, "Tea or coffee?", poll=["Tea ", "Coffee", "", ""], poll_minutes=1440))

    post = Post.objects.get()
    assert (post.poll_options, post.poll_duration_minutes, post.status) == (["Tea", "Coffee"], 1440, Status.SCHEDULED)


def test_a_time_in_the_past_is_scheduled_with_a_warning(alice_client, alice_bot):
    yesterday = timezone.now() - timedelta(days=1)

    response = alice_client.post(
        ADD, post_form(alice_bot, "Late", day=f"{yesterday:%Y-%m-%d}", time="09:00"), follow=True
    )

    assert any("is in the past: the post will be published as soon as possible" in m for m in messages_of(response))
    assert Post.objects.get().status == Status.SCHEDULED


def test_too_long_text_is_refused_on_the_text_field(alice_client, alice_bot):
    response = alice_client.post(ADD, post_form(alice_bot, "a" * 281))

    assert response.status_code == 200
    (message,) = errors_of(response)["text"]
    assert message.startswith("The text is 281 characters long by X's count; the limit is 280. Remove 1.")
    assert not Post.objects.exists()


def test_a_poll_beside_media_is_refused_on_the_poll(alice_client, alice_bot, media_root):
    response = alice_client.post(
        ADD, post_form(alice_bot, "Which?", poll=["This", "That"], poll_minutes=60, media=[(image(), "")])
    )

    assert errors_of(response)["poll_options"] == [
        "A post can have a poll or media, not both: remove the poll or the media."
    ]
    assert not Post.objects.exists() and not PostMedia.objects.exists()


def test_a_thread_part_too_long_is_refused_on_that_part(alice_client, alice_bot):
    response = alice_client.post(ADD, post_form(alice_bot, "Fine", parts=["fine too", "b" * 300]))

    rows, _ = inline_errors(response, "parts")
    assert rows[0] == {}
    assert rows[1]["text"][0].startswith("The text is 300 characters long by X's count")
    assert not Post.objects.exists()


def test_an_empty_post_asks_for_text_or_media(alice_client, alice_bot):
    response = alice_client.post(ADD, post_form(alice_bot, "   "))

    assert errors_of(response)["text"] == ["The post has no text: write some, or attach an image, GIF or video."]


def test_media_problems_are_shown_above_the_media_rows(alice_client, alice_bot, media_root):
    notes = SimpleUploadedFile("notes.txt", b"just words", content_type="text/plain")
    form = post_form(alice_bot, "Five images", media=[(image(f"{n}.png"), "") for n in range(5)] + [(notes, "")])

    response = alice_client.post(ADD, form)

    _, problems = inline_errors(response, "media")
    assert problems == [
        "notes.txt is of type text/plain, which X does not take. "
        "Attach JPEG, PNG or WebP images, a GIF, or an MP4 or MOV video.",
        "A post can have at most 4 images; this one has 5. Remove 1, or put them in the next part of a thread.",
    ]
    assert not Post.objects.exists()


def test_the_media_type_is_read_from_the_file_not_its_name(alice_client, alice_bot, media_root):
    video = SimpleUploadedFile("clip.mov", mp4(), content_type="application/octet-stream")
    alice_client.post(ADD, post_form(alice_bot, "A clip", media=[(video, "A short clip")]))
    renamed = image("photo.jpg", content_type="image/jpeg")
    alice_client.post(ADD, post_form(alice_bot, "A photo", media=[(renamed, "")]))

    assert dict(PostMedia.objects.values_list("post__text", "content_type")) == {
        "A clip": "video/mp4", "A photo": "image/png",
    }


def test_editing_a_thread_reorders_drops_and_adds_parts(alice_client, alice_bot):
    root = services.post_schedule(post=draft(alice_bot, "One", parts=("two", "three", "four")))
    two, three, four = root.parts.order_by("position")
    form = post_form(alice_bot, "One, edited", day="2030-01-15", time="10:30", publish="draft")
    form.update(management("parts", 4, initial=3))
    form.update({
        "parts-0-id": two.pk, "parts-0-parent": root.pk, "parts-0-order": 2, "parts-0-text": "two",
        "parts-1-id": three.pk, "parts-1-parent": root.pk, "parts-1-order": 1, "parts-1-text": "three, first now",
        "parts-2-id": four.pk, "parts-2-parent": root.pk, "parts-2-order": 3, "parts-2-text": "four",
        "parts-2-DELETE": "on",
        "parts-3-parent": root.pk, "parts-3-order": "", "parts-3-text": "five, new",
    })

    response = alice_client.post(change_url(root.pk), form, follow=True)

    assert response.redirect_chain, errors_of(response)
    root.refresh_from_db()
    assert (root.text, root.status, root.scheduled_at) == (
        "One, edited", Status.DRAFT, datetime(2030, 1, 15, 10, 30, tzinfo=UTC)
    )
    assert list(root.parts.order_by("position").values_list("position", "text", "status")) == [
        (1, "three, first now", Status.DRAFT), (2, "two", Status.DRAFT), (3, "five, new", Status.DRAFT),
    ]


def test_editing_keeps_the_media_checks_it_and_uploads_it_again_for_new_alt_text(alice_client, alice_bot,
                                                                                   media_file):
    post = draft(alice_bot, "With a picture")
    media = media_file(post, "a.png", "image/png", alt_text="A picture")
    PostMedia.objects.filter(pk=media.pk).update(x_media_id="99", x_media_expires_at=timezone.now())

    def edit(**fields):
        form = post_form(alice_bot, "With a picture", publish="draft", **fields)
        form.update(management("media", 1, initial=1))
        form.update({"media-0-id": media.pk, "media-0-post": post.pk, "media-0-alt_text": "A better picture",
                     "media-0-position": 0})
        return alice_client.post(change_url(post.pk), form)

    refused = edit(poll=["This", "That"], poll_minutes=60)
    saved = edit()

    assert errors_of(refused)["poll_options"] == [
        "A post can have a poll or media, not both: remove the poll or the media."
    ]
    assert saved.status_code == 302
    media.refresh_from_db()
    assert (media.alt_text, media.content_type, media.size, media.x_media_id) == (
        "A better picture", "image/png", len(png()), ""
    )


def test_a_published_post_is_shown_read_only_and_not_changed(settings, alice_client, alice_bot):
    settings.X_API_BASE = x_hosts.API  # X itself, whose page for the post the link opens
    post = draft(alice_bot, "Out there", status=Status.PUBLISHED, x_post_id="42",
                 x_post_url="https://x.com/alice_bot/status/42")

    page = alice_client.get(change_url(post.pk))
    response = alice_client.post(change_url(post.pk), post_form(alice_bot, "Rewritten"), follow=True)

    assert page.status_code == 200
    assert b'name="text"' not in page.content
    assert b'href="https://x.com/alice_bot/status/42"' in page.content
    assert any("is published now, so it can no longer be changed; your changes were not saved." in m
               for m in messages_of(response))
    post.refresh_from_db()
    assert post.text == "Out there"


# The list.


def test_the_list_shows_one_row_per_thread_with_status_link_and_error(settings, alice_client, alice_bot):
    settings.X_API_BASE = x_hosts.API
    draft(alice_bot, "Thread start", parts=("thread middle",), scheduled_at=timezone.now())
    draft(alice_bot, "On X already", status=Status.PUBLISHED, x_post_url="https://x.com/alice_bot/status/7")
    reason = "X refused the post: " + "the text is a duplicate of one posted recently. " * 3
    draft(alice_bot, "Refused", status=Status.FAILED, last_error=reason)

    page = alice_client.get(CHANGELIST).content.decode()

    assert "thread middle" not in page
    assert page.count('class="post-status post-status-') == 3
    assert "Thread start" in page and "thread of 2" in page
    assert '<a href="https://x.com/alice_bot/status/7" target="_blank" rel="noopener noreferrer"' in page
    assert f'<span class="post-error" title="{reason}">' in page
    assert 'class="post-status post-status-failed"' in page


def test_a_scheduled_post_of_an_account_to_reconnect_shows_as_held(alice_client, alice_bot):
    services.post_schedule(post=draft(alice_bot, "Waiting"))
    alice_bot.mark_needs_reauth("X no longer accepts the tokens")

    page = alice_client.get(CHANGELIST).content.decode()
    held = alice_client.get(CHANGELIST, {"status": "held"}).content.decode()

    assert ">Held: reconnect @alice_bot</span>" in page
    assert "Waiting" in held


def test_a_thread_shows_the_part_it_is_at(alice_client, alice_bot):
    root = draft(alice_bot, "Started", parts=("stuck",), status=Status.PUBLISHED)
    root.parts.update(status=Status.FAILED, last_error="X refused part 2")

    page = alice_client.get(CHANGELIST).content.decode()
    failed = alice_client.get(CHANGELIST, {"status": "failed"}).content.decode()
    published = alice_client.get(CHANGELIST, {"status": "published"}).content.decode()

    assert ">Failed · part 2 of 2</span>" in page
    assert "Started" in failed and "Started" not in published


def test_filters_and_search(alice_client, alice, alice_bot, sandbox):
    other = link_with_minted_tokens(sandbox, alice, "alice_news")
    draft(alice_bot, "About tea", status=Status.SCHEDULED, scheduled_at=timezone.now() + timedelta(days=2))
    draft(other, "About coffee", scheduled_at=timezone.now() - timedelta(days=30))

    def rows(**params) -> str:
        return alice_client.get(CHANGELIST, params).content.decode()

    assert "About tea" in rows(status="scheduled") and "About coffee" not in rows(status="scheduled")
    assert "About coffee" in rows(account__id__exact=other.pk) and "About tea" not in rows(account__id__exact=other.pk)
    assert "About tea" in rows(when="next7") and "About coffee" not in rows(when="next7")
    assert "About coffee" in rows(q="coffee") and "About tea" not in rows(q="coffee")
    assert "About tea" in rows(q="@alice_bot") and "About coffee" not in rows(q="@alice_bot")


# A word in few threads is looked up by their ids, a common one checked on each
# thread as the list is read: with none counted as few, every word is common.
@pytest.mark.parametrize("few", [None, 0], ids=["rare words", "common words"])
def test_a_search_finds_a_thread_by_any_of_its_parts_once_and_needs_every_word(alice_client, alice_bot, few,
                                                                                monkeypatch):
    from bots.posting import search

    if few is not None:
        monkeypatch.setattr(search, "FEW", few)
    draft(alice_bot, "Plans for the weekend", parts=("harbor lights at dusk", "and the harbor again"))
    draft(alice_bot, "The harbor only")
    draft(alice_bot, "Lights out")

    def found(q: str) -> list[str]:
        page = alice_client.get(CHANGELIST, {"q": q}).content.decode()
        return sorted(text for text in ("Plans for the weekend", "The harbor only", "Lights out") if text in page)

    assert found('"harbor lights"') == ["Plans for the weekend"]
    assert found("harbor") == ["Plans for the weekend", "The harbor only"]
    # Each word anywhere in the thread: one in its first post, one in a part.
    assert found("weekend dusk") == ["Plans for the weekend"]
    assert found("weekend out") == []
    # Listed once, though three of its posts match.
    paginator = alice_client.get(CHANGELIST, {"q": "HARBOR"}).content.decode().split('class="paginator"')[1]
    assert re.search(r"\b2 posts\b", paginator), paginator
    # A word in the account's handle finds its threads.
    assert found("alice_bot dusk") == ["Plans for the weekend"]


def test_a_thread_is_listed_under_the_status_of_the_part_it_is_at(alice_client, alice_bot):
    going = draft(alice_bot, "Half out", parts=("out too", "still to go"), status=Status.PUBLISHED)
    going.parts.filter(position=1).update(status=Status.PUBLISHED)
    going.parts.filter(position=2).update(status=Status.SCHEDULED)
    done = draft(alice_bot, "All out", parts=("out as well",), status=Status.PUBLISHED)
    done.parts.update(status=Status.PUBLISHED)
    draft(alice_bot, "Not yet", status=Status.SCHEDULED)

    def listed(status: str) -> list[str]:
        page = alice_client.get(CHANGELIST, {"status": status}).content.decode()
        return sorted(text for text in ("Half out", "All out", "Not yet") if text in page)

    assert listed("scheduled") == ["Half out", "Not yet"]
    assert listed("published") == ["All out"]
    assert listed("failed") == []


def test_a_long_list_counts_about_how_many_on_postgresql_and_exactly_elsewhere(alice_client, alice_bot, monkeypatch):
    from django.db import connection

    from accounts.admin_base import EstimatingPaginator

    monkeypatch.setattr(EstimatingPaginator, "EXACT_UP_TO", 2)
    for n in range(4):
        draft(alice_bot, f"Counted {n}")

    page = alice_client.get(CHANGELIST).content.decode()

    assert all(f"Counted {n}" in page for n in range(4))
    if connection.vendor == "postgresql":
        assert re.search(r"about \d+ posts", page), page[-2000:]
    else:
        assert re.search(r"\b4 posts", page) and "about" not in page.split('class="paginator"')[1]


def test_a_deep_page_lists_the_same_threads_in_the_same_order_when_its_ids_are_read_first(
        alice_client, alice_bot, monkeypatch):
    from accounts.admin_base import EstimatingPaginator

    monkeypatch.setattr(EstimatingPaginator, "IDS_FIRST_FROM", 100)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    # Times that repeat (every third thread shares one), so that the id breaks ties.
    Post.objects.bulk_create(Post(account=alice_bot, text=f"Thread {n:03}", scheduled_at=start + timedelta(hours=n // 3))
                             for n in range(260))
    with_parts = draft(alice_bot, "Thread with parts", parts=("its part",), scheduled_at=start - timedelta(days=1))
    expected = list(Post.objects.filter(parent__isnull=True).order_by("-scheduled_at", "-pk")
                    .values_list("text", flat=True))

    def listed(page: int) -> list[str]:
        html = alice_client.get(CHANGELIST, {"p": page}).content.decode()
        return [text.strip() for text in re.findall(r'<a href="/admin/bots/post/\d+/change/[^"]*">(Thread[^<]*)', html)]

    # Page 1 the usual way, page 2 (rows 100 on) and 3 by ids first.
    assert listed(1) == expected[:100]
    assert listed(2) == expected[100:200]
    assert listed(3) == expected[200:] and expected[-1] == with_parts.text
    # The page's rows come with what the list shows of them (the thread's parts).
    assert "Thread with parts <span class=\"post-notes\">· thread of 2</span>" in alice_client.get(
        CHANGELIST, {"p": 3}).content.decode()


def test_the_date_drill_down_goes_from_years_to_months_to_days(alice_client, alice_bot):
    for moment in (datetime(2025, 3, 9, 12, tzinfo=UTC), datetime(2026, 1, 30, 12, tzinfo=UTC),
                   datetime(2026, 2, 2, 12, tzinfo=UTC)):
        draft(alice_bot, f"Due {moment:%Y-%m-%d}", scheduled_at=moment)

    def choices(level: str, **params) -> set[str]:
        """The drill-down's choices at ``level`` (year, month, day): not its way back."""
        page = alice_client.get(CHANGELIST, params).content.decode()
        nav = page.split('<nav class="toplinks">')[1].split("</nav>")[0]
        return {dict(parse_qsl(href.split("?", 1)[1].replace("&amp;", "&")))[f"scheduled_at__{level}"]
                for href in re.findall(r'<a href="([^"]+)">', nav)}

    assert choices("year") == {"2025", "2026"}
    assert choices("month", scheduled_at__year=2026) == {"1", "2"}
    assert choices("day", scheduled_at__year=2026, scheduled_at__month=2) == {"2"}
    page = alice_client.get(CHANGELIST, {"scheduled_at__year": 2026, "scheduled_at__month": 2}).content.decode()
    assert "Due 2026-02-02" in page and "Due 2026-01-30" not in page


# Actions.


def act(client: Client, action: str, *posts: Post):
    return client.post(CHANGELIST, {"action": action, "_selected_action": [p.pk for p in posts]}, follow=True)


def test_publish_now_queues_a_draft_for_now(alice_client, alice_bot):
    post = draft(alice_bot, "Right away", scheduled_at=timezone.now() + timedelta(days=3))

    response = act(alice_client, "publish_now", post)

    post.refresh_from_db()
    assert post.status == Status.SCHEDULED
    assert abs(post.next_attempt_at - timezone.now()) < timedelta(seconds=30)
    assert "“Right away” on @alice_bot will be published within seconds." in messages_of(response)


def test_cancel_cancels_the_thread_and_refuses_a_published_post_in_words(alice_client, alice_bot):
    thread = services.post_schedule(post=draft(alice_bot, "Planned", parts=("and more",)))
    published = draft(alice_bot, "Gone out", status=Status.PUBLISHED)

    response = act(alice_client, "cancel", thread, published)

    assert set(Post.objects.filter(pk__in=[thread.pk, *thread.parts.values_list("pk", flat=True)])
               .values_list("status", flat=True)) == {Status.CANCELLED}
    # The list's order of rows (newest time first) puts NULL times first or last by database.
    assert sorted(messages_of(response)) == [
        "Cancelled “Planned” on @alice_bot (2 posts).",
        f"“Gone out” on @alice_bot: Post {published.pk} is published: only posts not yet being sent can be "
        "cancelled.",
    ]
    assert b"Traceback" not in response.content


def test_retry_sends_a_failed_thread_again_from_the_failed_part(alice_client, alice_bot):
    root = draft(alice_bot, "Started", parts=("stuck",), status=Status.PUBLISHED)
    root.parts.update(status=Status.FAILED, last_error="X was down")

    response = act(alice_client, "retry", root)

    part = root.parts.get()
    assert (part.status, part.last_error) == (Status.SCHEDULED, "")
    assert part.next_attempt_at is not None
    assert "“Started” on @alice_bot will be tried again from part 2 now." in messages_of(response)


def test_duplicate_makes_a_draft_copy_with_parts_and_media(alice_client, alice, alice_bot, media_file):
    root = draft(alice_bot, "Again", parts=("and again",), status=Status.PUBLISHED)
    media_file(root, "a.png", "image/png", alt_text="A picture")

    response = act(alice_client, "duplicate", root)

    copy = Post.objects.filter(parent=None).exclude(pk=root.pk).get()
    assert (copy.text, copy.status, copy.created_by) == ("Again", Status.DRAFT, alice)
    assert list(copy.parts.values_list("text", flat=True)) == ["and again"]
    assert list(copy.media.values_list("alt_text", flat=True)) == ["A picture"]
    (message,) = messages_of(response)
    assert message.startswith("Duplicated “Again” on @alice_bot as a draft:")
    assert f'href="{change_url(copy.pk)}"' in message


# Who sees what.


def test_another_staff_user_cannot_see_or_touch_the_post(alice_client, bob_client, alice_bot, bob_news):
    post = services.post_schedule(post=draft(alice_bot, "Alice's secret plan"))

    listing = bob_client.get(CHANGELIST).content.decode()
    view = bob_client.get(change_url(post.pk), follow=True)
    history = bob_client.get(f"{CHANGELIST}{post.pk}/history/", follow=True)
    change = bob_client.post(change_url(post.pk), post_form(bob_news, "Hijacked"), follow=True)
    delete = bob_client.post(f"{CHANGELIST}{post.pk}/delete/", {"post": "yes"}, follow=True)
    for action in ("publish_now", "cancel", "retry", "duplicate"):
        act(bob_client, action, post)
    add = bob_client.post(ADD, post_form(alice_bot, "Posted as Alice"))

    assert "Alice's secret plan" not in listing
    assert "@alice_bot" not in listing  # not even in the account filter
    for response in (view, history, change, delete):
        assert "Alice's secret plan" not in response.content.decode()
        assert any("doesn’t exist" in m for m in messages_of(response))
    assert errors_of(add)["account"] == ["Select a valid choice. That choice is not one of the available choices."]
    post.refresh_from_db()
    assert (post.text, post.status, post.account) == ("Alice's secret plan", Status.SCHEDULED, alice_bot)
    assert Post.objects.count() == 1


def test_another_users_thread_part_cannot_be_taken_into_ones_own_thread(bob_client, alice_bot, bob_news):
    alices = draft(alice_bot, "Alice's thread", parts=("Alice's second part",))
    bobs = draft(bob_news, "Bob's thread")
    part = alices.parts.get()
    form = post_form(bob_news, "Bob's thread", publish="draft")
    form.update(management("parts", 1, initial=1))
    form.update({"parts-0-id": part.pk, "parts-0-parent": bobs.pk, "parts-0-order": 1, "parts-0-text": "Bob's now"})

    bob_client.post(change_url(bobs.pk), form)

    # The formset looks ids up among Bob's thread's parts only: the row is a new part of his.
    part.refresh_from_db()
    assert (part.parent_id, part.text, part.account) == (alices.pk, "Alice's second part", alice_bot)
    (bobs_part,) = bobs.parts.all()
    assert bobs_part.pk != part.pk and bobs_part.account == bob_news


def test_the_account_choices_are_the_users_own(alice_client, alice_bot, bob_news):
    page = alice_client.get(ADD).content.decode()

    assert f'<option value="{alice_bot.pk}" selected>@alice_bot</option>' in page
    assert "@bob_news" not in page


def test_a_superuser_sees_every_post_and_account(client, alice_bot, bob_news):
    draft(alice_bot, "From Alice")
    draft(bob_news, "From Bob")
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw"))

    listing = client.get(CHANGELIST).content.decode()
    add = client.get(ADD).content.decode()

    assert "From Alice" in listing and "From Bob" in listing
    assert "@alice_bot" in add and "@bob_news" in add


# The counter's endpoint.


@pytest.mark.parametrize(
    "text",
    [
        "Hello",
        "",
        "Read this: https://example.com/a/rather/long/path?with=query",
        "example.com is a link too",
        "Family 👨‍👩‍👧‍👦 and a thumbs up 👍🏽",
        "日本語のテキスト",
        "x" * 300,
    ],
)
def test_the_counter_answers_with_the_validation_count(alice_client, text):
    answer = alice_client.post(COUNT, {"text": text}).json()

    count = text_count(text)
    assert (answer["weighted_length"], answer["max_length"], answer["remaining"], answer["valid"]) == (
        count.weighted_length, count.max_length, count.remaining, count.valid,
    )


def test_the_counter_previews_links_as_x_shows_them(alice_client):
    answer = alice_client.post(COUNT, {"text": "Read <b>this</b>: https://example.com/a/rather/long/path now"}).json()

    assert answer["preview"] == [
        {"text": "Read <b>this</b>: ", "href": ""},
        {"text": "example.com/a/rather/lon…", "href": "https://example.com/a/rather/long/path"},
        {"text": " now", "href": ""},
    ]
    assert answer["weighted_length"] == len("Read <b>this</b>: ") + 23 + len(" now")


def test_the_counter_is_for_staff_only_and_takes_posts(alice_client):
    assert Client().post(COUNT, {"text": "hi"}).status_code == 302
    not_staff = Client()
    not_staff.force_login(get_user_model().objects.create_user("carol", "carol@example.com", "pw"))
    assert not_staff.post(COUNT, {"text": "hi"}).status_code == 302
    assert alice_client.get(COUNT, {"text": "hi"}).status_code == 405
    too_long = alice_client.post(COUNT, {"text": "a" * 10_001})
    assert too_long.status_code == 400 and "Over 10,000 characters" in too_long.json()["error"]
