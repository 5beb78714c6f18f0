"""The admin for recurring bots and posting queues, over HTTP: bad input gets a
clear error and changes nothing, the bot's beat task follows every change,
queues re-order with CSRF-protected POSTs, and a staff user who is not a
superuser sees and acts on their own accounts only."""

from __future__ import annotations

from datetime import time

import pytest
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.test import Client
from django.utils import timezone
from django.utils.html import escape
from django_celery_beat.models import PeriodicTask

from accounts.models import XAccount
from bots.models import Bot, BotItem, BotRun, Post, PostingSlot
from bots.planning import slots
from bots.recurring import services as recurring
from tests.people import client_for, staff

pytestmark = pytest.mark.django_db

BOTS = "/admin/bots/bot/"
QUEUES = "/admin/bots/postingqueue/"



@pytest.fixture
def alice(db):
    return staff("alice", "Europe/Paris")


@pytest.fixture
def bob(db):
    return staff("bob", "America/New_York")


@pytest.fixture
def alice_account(alice) -> XAccount:
    return XAccount.objects.create(owner=alice, workspace=alice.workspace,
                                   x_user_id="1001", username="alice_bot", auth_method="oauth2")


@pytest.fixture
def bob_account(bob) -> XAccount:
    return XAccount.objects.create(owner=bob, workspace=bob.workspace,
                                   x_user_id="1002", username="bob_news", auth_method="oauth2")



@pytest.fixture
def alice_client(alice) -> Client:
    return client_for(alice)


@pytest.fixture
def bob_client(bob) -> Client:
    return client_for(bob)


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def bot_form(account: XAccount, *items: str, **overrides: str) -> dict[str, str]:
    data = {
        "name": "Morning tips", "account": str(account.pk), "enabled": "on",
        "schedule_kind": "cron", "cron": "0 9 * * 1-5", "interval_every": "", "interval_unit": "minutes",
        "timezone": "Europe/Paris", "source": "queue", "queue_mode": "once", "template": "", "template_lists": "",
        "items-TOTAL_FORMS": str(len(items)), "items-INITIAL_FORMS": "0", "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "1000",
    }
    for i, text in enumerate(items):
        data[f"items-{i}-position"] = str(i)
        data[f"items-{i}-text"] = text
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def form_errors(response) -> dict[str, list[str]]:
    return response.context["adminform"].form.errors


# Bots: create, refuse, change, delete.


def test_creating_a_bot_puts_its_schedule_in_beat_and_lists_it_in_words(alice_client, alice_account):
    response = alice_client.post(f"{BOTS}add/", bot_form(alice_account, "First tip", "Second tip"))

    assert response.status_code == 302, form_errors(response)
    bot = Bot.objects.get()
    assert list(bot.items.values_list("text", flat=True)) == ["First tip", "Second tip"]
    task = PeriodicTask.objects.get(name=f"bot:{bot.pk}")
    assert task.enabled and task.crontab.hour == "9" and str(task.crontab.timezone) == "Europe/Paris"

    listing = alice_client.get(BOTS).content.decode()
    assert "At 09:00, Monday through Friday (Europe/Paris)" in listing
    assert "@alice_bot" in listing
    next_run = recurring.next_run(bot)
    assert timezone.localtime(next_run, bot.timezone).strftime("%H:%M") == "09:00"
    assert f"{timezone.localtime(next_run, alice_account.owner.timezone):%a %d %b %Y, %H:%M}" in listing


def test_the_add_form_starts_in_the_users_time_zone(alice_client, alice_account):
    page = alice_client.get(f"{BOTS}add/").content.decode()

    assert '<option value="Europe/Paris" selected>' in page


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"cron": "0 25 * * *"}, "cron", "The hour “25” is not valid"),
        ({"cron": "every morning"}, "cron", "has 2 fields; a cron expression has five"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone", "Unknown time zone “Mars/Olympus_Mons”"),
        ({"source": "template", "template": "Hello {nmae}"}, "template", "Unknown variable {nmae}"),
        ({"schedule_kind": "interval", "interval_every": ""}, "interval_every", "how often"),
    ],
)
def test_a_bad_bot_gets_a_clear_error_on_its_field_and_nothing_is_saved(alice_client, alice_account, overrides,
                                                                         field, words):
    response = alice_client.post(f"{BOTS}add/", bot_form(alice_account, "A tip", **overrides))

    assert response.status_code == 200
    (message,) = form_errors(response)[field]
    assert words in message
    assert escape(message) in response.content.decode()
    assert not Bot.objects.exists()
    assert not BotItem.objects.exists()
    assert not PeriodicTask.objects.exists()


def test_a_queue_item_x_would_refuse_is_refused_on_the_item(alice_client, alice_account):
    response = alice_client.post(f"{BOTS}add/", bot_form(alice_account, "x" * 300))

    assert response.status_code == 200
    errors = response.context["inline_admin_formsets"][0].formset.errors
    assert "300 characters long" in errors[0]["text"][0]
    assert not Bot.objects.exists() and not PeriodicTask.objects.exists()


def test_editing_disabling_and_deleting_keep_the_beat_task_in_step(alice_client, alice_account):
    alice_client.post(f"{BOTS}add/", bot_form(alice_account, "A tip"))
    bot = Bot.objects.get()
    change = f"{BOTS}{bot.pk}/change/"

    alice_client.post(change, bot_form(alice_account, cron="30 18 * * *", timezone="Asia/Tokyo"))
    task = PeriodicTask.objects.get(name=f"bot:{bot.pk}")
    assert (task.crontab.minute, task.crontab.hour, str(task.crontab.timezone)) == ("30", "18", "Asia/Tokyo")

    alice_client.post(change, bot_form(alice_account, cron="30 18 * * *", enabled=None))
    assert not PeriodicTask.objects.get(name=f"bot:{bot.pk}").enabled
    assert "—" in alice_client.get(BOTS).content.decode()  # no next run

    alice_client.post(f"{BOTS}{bot.pk}/delete/", {"post": "yes"})
    assert not Bot.objects.exists()
    assert not PeriodicTask.objects.exists()


def test_the_delete_action_deletes_the_beat_tasks_too(alice_client, alice_account):
    for name in ("One", "Two"):
        alice_client.post(f"{BOTS}add/", bot_form(alice_account, name=name))
    ids = list(Bot.objects.values_list("pk", flat=True))

    alice_client.post(BOTS, {"action": "delete_selected", "_selected_action": ids, "post": "yes"})

    assert not Bot.objects.exists()
    assert not PeriodicTask.objects.filter(name__startswith="bot:").exists()


def test_run_now_makes_the_next_post_and_a_paused_bot_shows_why(alice_client, alice_account):
    alice_client.post(f"{BOTS}add/", bot_form(alice_account, "The only tip"))
    bot = Bot.objects.get()

    first = alice_client.post(BOTS, {"action": "run_now", "_selected_action": [bot.pk]}, follow=True)
    second = alice_client.post(BOTS, {"action": "run_now", "_selected_action": [bot.pk]}, follow=True)

    assert messages_of(first)[-1] == "“Morning tips” posted “The only tip” on @alice_bot."
    assert Post.objects.get().status == Post.Status.SCHEDULED
    assert messages_of(second)[0].startswith("“Morning tips” paused: The queue is empty")
    listing = second.content.decode()
    assert "The queue is empty: all 1 items have been posted." in listing
    assert 'class="bot-run bot-run-paused"' in listing
    change = alice_client.get(f"{BOTS}{bot.pk}/change/").content.decode()
    assert "The only tip" in change and 'class="bot-run bot-run-posted"' in change

    alice_client.post(BOTS, {"action": "enable_bots", "_selected_action": [bot.pk]})
    bot.refresh_from_db()
    assert bot.enabled and bot.paused_reason == ""
    assert PeriodicTask.objects.get(name=f"bot:{bot.pk}").enabled


# Owner scoping.


@pytest.fixture
def alices_bot(alice_account) -> Bot:
    bot = recurring.bot_create(account=alice_account, name="Alice's secret bot", cron="0 9 * * *",
                               timezone="Europe/Paris")
    BotItem.objects.create(bot=bot, text="Alice's tip")
    return bot


def test_another_staff_user_cannot_see_change_run_or_delete_the_bot(bob_client, bob_account, alices_bot):
    change = f"{BOTS}{alices_bot.pk}/change/"

    listing = bob_client.get(BOTS).content.decode()
    opened = bob_client.get(change, follow=True)
    bob_client.post(change, bot_form(bob_account, name="Taken over", cron="* * * * *"))
    bob_client.post(f"{BOTS}{alices_bot.pk}/delete/", {"post": "yes"})
    for action in ("run_now", "disable_bots", "delete_selected"):
        bob_client.post(BOTS, {"action": action, "_selected_action": [alices_bot.pk], "post": "yes"})

    assert "Alice's secret bot" not in listing
    assert "Alice's secret bot" not in opened.content.decode()
    alices_bot.refresh_from_db()
    assert alices_bot.name == "Alice's secret bot" and alices_bot.enabled and alices_bot.cron == "0 9 * * *"
    assert not BotRun.objects.exists() and not Post.objects.exists()
    assert PeriodicTask.objects.get(name=f"bot:{alices_bot.pk}").enabled


def test_a_bot_cannot_be_made_for_someone_elses_account(bob_client, bob_account, alice_account):
    page = bob_client.get(f"{BOTS}add/").content.decode()
    response = bob_client.post(f"{BOTS}add/", bot_form(alice_account, "Sneaky"))

    assert "@bob_news" in page and "@alice_bot" not in page
    assert "Select a valid choice" in form_errors(response)["account"][0]
    assert not Bot.objects.exists() and not PeriodicTask.objects.exists()


# Posting queues.


def queue_of(account: XAccount) -> str:
    return f"{QUEUES}{account.pk}/queue/"


@pytest.fixture
def queued(alice_account) -> list[Post]:
    for weekday in range(7):
        PostingSlot.objects.create(account=alice_account, weekday=weekday, time=time(9, 0))
    posts = [Post.objects.create(account=alice_account, text=f"Queued {name}") for name in "ABC"]
    for post in posts:
        slots.queue_add(post=post)
    return [Post.objects.get(pk=post.pk) for post in posts]


def test_slots_are_added_on_the_accounts_queue_page_in_the_owners_zone(alice_client, alice_account):
    change = f"{QUEUES}{alice_account.pk}/change/"
    page = alice_client.get(change).content.decode()
    data = {"posting_slots-TOTAL_FORMS": "2", "posting_slots-INITIAL_FORMS": "0",
            "posting_slots-MIN_NUM_FORMS": "0", "posting_slots-MAX_NUM_FORMS": "1000",
            "posting_slots-0-weekday": "0", "posting_slots-0-time": "09:00",
            "posting_slots-1-weekday": "2", "posting_slots-1-time": "13:30"}

    response = alice_client.post(change, data)
    duplicate = alice_client.post(change, {**data, "posting_slots-TOTAL_FORMS": "1"})

    assert "Posting slots: weekly times in Europe/Paris" in page
    assert "moved forward by the jump, to 03:30" in page
    assert response.status_code == 302
    assert [str(s) for s in PostingSlot.objects.filter(account=alice_account)] == ["Monday 09:00",
                                                                                  "Wednesday 13:30"]
    assert duplicate.status_code == 200 and PostingSlot.objects.count() == 2
    assert "There is already a slot on Monday at 09:00." in duplicate.content.decode()
    listing = alice_client.get(QUEUES).content.decode()
    assert "Monday 09:00, Wednesday 13:30" in listing


def test_the_queue_page_lists_posts_in_order_with_their_times(alice_client, alice_account, queued):
    page = alice_client.get(queue_of(alice_account)).content.decode()

    positions = [page.index(f"Queued {name}") for name in "ABC"]
    assert positions == sorted(positions)
    first = timezone.localtime(queued[0].scheduled_at, alice_account.owner.timezone)
    assert f"{first:%a %d %b %Y, %H:%M} {first.tzname()}" in page
    assert page.count('class="queue-up"') == 3 and page.count("csrfmiddlewaretoken") >= 3


def test_moving_a_post_up_swaps_the_two_times(alice_client, alice_account, queued):
    a, b, c = queued

    response = alice_client.post(f"{queue_of(alice_account)}move/", {"post": c.pk, "direction": "up"}, follow=True)

    assert messages_of(response)[0].startswith(f"Moved post {c.pk} up: it now goes out ")
    assert [p.pk for p in slots.queued(account=alice_account)] == [a.pk, c.pk, b.pk]
    assert Post.objects.get(pk=c.pk).scheduled_at == b.scheduled_at
    assert Post.objects.get(pk=b.pk).scheduled_at == c.scheduled_at


def test_moving_the_first_post_up_says_why_not(alice_client, alice_account, queued):
    response = alice_client.post(f"{queue_of(alice_account)}move/", {"post": queued[0].pk, "direction": "up"},
                                 follow=True)

    assert messages_of(response) == [f"Post {queued[0].pk} is already first in the queue."]


def test_a_draft_is_added_to_the_queue_from_the_queue_page(alice_client, alice_account, queued):
    draft = Post.objects.create(account=alice_account, text="A new draft")
    page = alice_client.get(queue_of(alice_account)).content.decode()
    expected = next(slots.free_slots(account=alice_account))

    response = alice_client.post(f"{queue_of(alice_account)}add/", {"post": draft.pk}, follow=True)

    assert 'class="button queue-add"' in page
    draft.refresh_from_db()
    assert draft.status == Post.Status.SCHEDULED and draft.scheduled_at == expected
    when = timezone.localtime(expected, alice_account.owner.timezone)
    assert messages_of(response) == [f"Post {draft.pk} is queued for {when:%a %d %b %Y, %H:%M} {when.tzname()}."]


def test_queue_changes_need_a_post_with_a_csrf_token(alice, alice_account, queued):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    before = [(p.pk, p.scheduled_at) for p in slots.queued(account=alice_account)]

    forged = strict.post(f"{queue_of(alice_account)}move/", {"post": queued[2].pk, "direction": "up"})
    by_get = strict.get(f"{queue_of(alice_account)}move/", {"post": queued[2].pk, "direction": "up"})

    assert forged.status_code == 403
    assert by_get.status_code == 405
    assert [(p.pk, p.scheduled_at) for p in slots.queued(account=alice_account)] == before


def test_another_staff_user_cannot_see_or_reorder_the_queue(bob_client, bob_account, alice_account, queued):
    draft = Post.objects.create(account=alice_account, text="Alice's draft")
    before = [(p.pk, p.scheduled_at) for p in slots.queued(account=alice_account)]

    listing = bob_client.get(QUEUES).content.decode()
    page = bob_client.get(queue_of(alice_account))
    move = bob_client.post(f"{queue_of(alice_account)}move/", {"post": queued[2].pk, "direction": "up"})
    via_own = bob_client.post(f"{queue_of(bob_account)}move/", {"post": queued[2].pk, "direction": "up"})
    add = bob_client.post(f"{queue_of(bob_account)}add/", {"post": draft.pk})
    slots_page = bob_client.post(f"{QUEUES}{alice_account.pk}/change/", {
        "posting_slots-TOTAL_FORMS": "1", "posting_slots-INITIAL_FORMS": "0", "posting_slots-MIN_NUM_FORMS": "0",
        "posting_slots-MAX_NUM_FORMS": "1000", "posting_slots-0-weekday": "1", "posting_slots-0-time": "03:00",
    })

    assert "@alice_bot" not in listing and "@bob_news" in listing
    assert (page.status_code, move.status_code, via_own.status_code, add.status_code) == (404, 404, 404, 404)
    assert slots_page.status_code == 302 and PostingSlot.objects.filter(account=alice_account).count() == 7
    assert [(p.pk, p.scheduled_at) for p in slots.queued(account=alice_account)] == before
    assert Post.objects.get(pk=draft.pk).status == Post.Status.DRAFT


def test_times_on_the_queue_page_are_the_owners_even_for_a_superuser_elsewhere(alice_account, queued):
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw", timezone="Asia/Tokyo")

    page = client_for(admin).get(queue_of(alice_account)).content.decode()

    first = timezone.localtime(queued[0].scheduled_at, alice_account.owner.timezone)
    assert f"{first:%a %d %b %Y, %H:%M} {first.tzname()}" in page and "Europe/Paris" in page
    assert "JST" not in page


def test_add_to_queue_is_an_action_on_the_post_list(alice_client, alice_account, queued):
    draft = Post.objects.create(account=alice_account, text="Queued from the list")
    expected = next(slots.free_slots(account=alice_account))

    alice_client.post("/admin/bots/post/", {"action": "add_to_queue", "_selected_action": [draft.pk]}, follow=True)

    draft.refresh_from_db()
    assert draft.status == Post.Status.SCHEDULED and draft.scheduled_at == expected


def test_without_slots_the_queue_pages_say_where_on_them_to_add_weekly_times(alice_client, alice_account):
    draft = Post.objects.create(account=alice_account, text="Waiting for a slot")
    change = f"{QUEUES}{alice_account.pk}/change/"
    add_slots = (f'<a href="{change}#posting_slots-group" class="add-slots">add weekly times under '
                 "“Posting slots” on @alice_bot’s queue</a>")

    pages = [alice_client.get(url).content.decode() for url in (QUEUES, change, queue_of(alice_account))]
    response = alice_client.post(f"{queue_of(alice_account)}add/", {"post": draft.pk}, follow=True)

    for page in pages:
        assert f"none yet: {add_slots}" in page
        assert "under Posting queues" not in page
    assert 'id="posting_slots-group"' in pages[1]
    assert response.content.decode().count(f"@alice_bot has no posting slots yet: {add_slots}.") == 1
    assert Post.objects.get(pk=draft.pk).status == Post.Status.DRAFT
