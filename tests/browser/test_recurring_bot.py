"""A person creates a recurring bot in a real browser, gets a clear error for
a bad cron expression, runs the bot and sees its first post published in the
sandbox, through the real worker and beat.

With SCREENSHOTS=1 in the environment the test also refreshes
docs/screenshots/recurring-bot.png, the bot's admin page after its first run;
otherwise the screenshot goes to a temporary directory, so a test run leaves
the work tree as it was.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django_celery_beat.models import PeriodicTask
from playwright.sync_api import expect

from bots.models import Bot, BotRun, Post
from tests.bots.conftest import link_with_minted_tokens, published, sandbox_posts
from tests.browser.conftest import log_in

pytestmark = pytest.mark.django_db(transaction=True)

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "recurring-bot.png"



def test_create_a_recurring_bot_and_see_its_first_post_published(paris_page, live_server, beat, sandbox, tmp_path):
    page = paris_page
    pia = get_user_model().objects.create_user("pia", "pia@example.com", "correct horse", is_staff=True,
                                               timezone="Europe/Paris")
    account = link_with_minted_tokens(sandbox, pia, "alice_bot")

    log_in(page, live_server, "pia")
    page.goto(f"{live_server.url}/admin/bots/bot/add/")

    page.fill("#id_name", "Morning greeter")
    page.select_option("#id_account", str(account.pk))
    expect(page.locator("#id_timezone")).to_have_value("Europe/Paris")
    page.fill("#id_cron", "0 9 * * mon-fry")
    page.check("input[name=source][value=template]")
    page.fill("#id_template", "{greeting}! Post {n} of the morning greeter, on a {weekday}.")
    page.fill("#id_template_lists", "greeting: Good morning | Bonjour")
    page.click("input[name=_save]")

    expect(page.locator(".field-cron .errorlist")).to_contain_text("The day of week “mon-fry” is not valid")
    assert not Bot.objects.exists() and not PeriodicTask.objects.filter(name__startswith="bot:").exists()
    page.fill("#id_cron", "0 9 * * mon-fri")
    page.click("input[name=_save]")

    row = page.locator("#result_list tbody tr", has_text="Morning greeter")
    expect(row).to_contain_text("At 09:00, Monday through Friday (Europe/Paris)")
    expect(row.locator(".field-next_run_at")).to_contain_text("09:00 CE")
    bot = Bot.objects.get()
    assert PeriodicTask.objects.get(name=f"bot:{bot.pk}").enabled

    row.locator("input.action-select").check()
    page.select_option("select[name=action]", "run_now")
    page.click("button[name=index]")
    expect(page.locator(".messagelist")).to_contain_text("“Morning greeter” posted")

    run = BotRun.objects.get(bot=bot)
    post = published(run.post)
    (on_x,) = sandbox_posts(sandbox, username="alice_bot")
    assert on_x["text"] == post.text
    greeting, rest = post.text.split("!", 1)
    assert greeting in ("Good morning", "Bonjour")
    assert rest == f" Post 1 of the morning greeter, on a {run.slot.astimezone(bot.timezone):%A}."

    page.goto(f"{live_server.url}/admin/bots/bot/{bot.pk}/change/")
    runs = page.locator("table.bot-runs")
    expect(runs.locator(".bot-run-posted")).to_have_text("Posted")
    # The post's page on the X in use, the sandbox (the stored URL stays X's).
    expect(runs.locator("a.x-post-link")).to_have_attribute("href", f"{sandbox}/alice_bot/status/{on_x['id']}")
    assert post.x_post_url == f"https://x.com/alice_bot/status/{on_x['id']}"
    expect(page.locator(".field-run_count .readonly")).to_have_text("1")
    assert Post.objects.count() == 1

    target = SCREENSHOT if os.environ.get("SCREENSHOTS") else tmp_path / SCREENSHOT.name
    target.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target), full_page=True)


def test_the_bot_form_shows_the_chosen_fields_and_previews_the_schedule(paris_page, live_server, sandbox):
    page = paris_page
    pia = get_user_model().objects.create_user("pia", "pia@example.com", "correct horse", is_staff=True,
                                               timezone="Europe/Paris")
    link_with_minted_tokens(sandbox, pia, "alice_bot")
    log_in(page, live_server, "pia")
    page.goto(f"{live_server.url}/admin/bots/bot/add/")
    words = page.locator(".schedule-words")
    runs = page.locator(".field-next_runs .bot-next-runs li")

    # A cron schedule and a queue of items, to begin with: only their fields show.
    expect(page.locator(".form-row.field-cron")).to_be_visible()
    expect(page.locator(".form-row.field-interval_every")).to_be_hidden()
    expect(page.locator("#items-group")).to_be_visible()
    expect(page.locator(".form-row.field-template")).to_be_hidden()

    page.fill("#id_cron", "0 9 * * 1-5")
    expect(words).to_have_text("At 09:00, Monday through Friday (Europe/Paris)")
    expect(runs).to_have_count(5)
    for text in runs.all_text_contents():
        assert text.endswith(", 09:00 CET") or text.endswith(", 09:00 CEST"), text
        assert text[:3] in ("Mon", "Tue", "Wed", "Thu", "Fri"), text

    page.fill("#id_cron", "0 9 * * mon-fry")
    expect(words).to_contain_text("The day of week “mon-fry” is not valid")
    expect(runs).to_have_count(0)

    page.check("input[name=schedule_kind][value=interval]")
    expect(page.locator(".form-row.field-cron")).to_be_hidden()
    expect(page.locator(".form-row.field-interval_every")).to_be_visible()
    page.fill("#id_interval_every", "90")
    expect(words).to_have_text("Every 90 minutes")
    expect(runs).to_have_count(5)
    page.select_option("#id_timezone", "Asia/Tokyo")
    expect(runs.first).to_contain_text("JST")

    page.check("input[name=source][value=template]")
    expect(page.locator(".form-row.field-template")).to_be_visible()
    expect(page.locator(".form-row.field-template_lists")).to_be_visible()
    expect(page.locator("#items-group")).to_be_hidden()
    expect(page.locator(".form-row.field-queue_mode")).to_be_hidden()
