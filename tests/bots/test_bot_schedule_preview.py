"""The bot form's live preview of a schedule: in words, with its next five
runs in the bot's zone; what is wrong with it, in words, for any input; the
same five runs on a saved bot's page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from bots.recurring import services as recurring
from tests.bots.csv_support import account_of, client_for, staff

pytestmark = pytest.mark.django_db

URL = "/admin/bots/bot/schedule-preview/"


def preview(user, **fields) -> dict:
    answer = client_for(user).post(URL, fields)
    assert answer.status_code == 200, answer.content
    return answer.json()


def test_a_cron_schedule_in_words_with_its_next_five_runs_in_the_bots_zone():
    pia = staff("pia", "Europe/Paris")
    shown = preview(pia, schedule_kind="cron", cron="30 7 * * sat", timezone="America/New_York")
    assert shown["words"] == "At 07:30, only on Saturday (America/New_York)"
    assert shown["problems"] == []
    assert len(shown["runs"]) == 5
    days = [datetime.strptime(run.rsplit(" ", 1)[0], "%a %d %b %Y, %H:%M") for run in shown["runs"]]
    assert all(day.strftime("%a %H:%M") == "Sat 07:30" for day in days)
    assert [later - earlier for earlier, later in zip(days, days[1:])] == [timedelta(days=7)] * 4
    assert all(run.endswith((" EST", " EDT")) for run in shown["runs"])


def test_an_interval_counts_from_now():
    pia = staff("pia", "UTC")
    before = timezone.now()
    shown = preview(pia, schedule_kind="interval", interval_every="2", interval_unit="hours", timezone="UTC")
    assert shown["words"] == "Every 2 hours"
    first = datetime.strptime(shown["runs"][0], "%a %d %b %Y, %H:%M UTC").replace(tzinfo=UTC)
    assert before + timedelta(hours=2) - timedelta(minutes=1) <= first <= timezone.now() + timedelta(hours=2)


@pytest.mark.parametrize(("fields", "said"), [
    ({"schedule_kind": "cron", "cron": "0 9 * * mon-fry", "timezone": "UTC"},
     "The day of week “mon-fry” is not valid"),
    ({"schedule_kind": "cron", "cron": "", "timezone": "UTC"}, "Give a cron expression."),
    ({"schedule_kind": "cron", "cron": "0 0 31 2 *", "timezone": "UTC"}, "never runs"),
    ({"schedule_kind": "cron", "cron": "0 9 * * *", "timezone": "Mars/Olympus"},
     "Unknown time zone “Mars/Olympus”"),
    ({"schedule_kind": "interval", "interval_every": "often", "timezone": "UTC"}, "Say how often the bot posts"),
    ({"schedule_kind": "interval", "interval_every": "-3", "timezone": "UTC"}, "Say how often the bot posts"),
    ({"schedule_kind": "interval", "interval_every": "9" * 30, "interval_unit": "minutes", "timezone": "UTC"},
     "is longer than a year"),
    ({"schedule_kind": "sometimes", "timezone": "UTC"}, "Unknown schedule “sometimes”"),
    ({"schedule_kind": "cron", "cron": "x" * 10_000, "timezone": "UTC\x00"}, "Unknown time zone"),
])
def test_whatever_is_typed_the_answer_says_what_is_wrong(fields, said):
    shown = preview(staff("pia", "UTC"), **fields)
    assert shown["words"] == "" and shown["runs"] == []
    assert said in " ".join(shown["problems"])


def test_only_a_signed_in_staff_member_may_ask_and_only_by_post():
    pia = staff("pia", "UTC")
    assert client_for(pia).get(URL).status_code == 405
    assert Client().post(URL, {"schedule_kind": "cron", "cron": "0 9 * * *"}).status_code == 302


def test_a_saved_bots_page_lists_its_next_five_runs(settings):
    pia = staff("pia", "Europe/Paris")
    account = account_of(pia, "alice_bot", "1001")
    bot = recurring.bot_create(account=account, name="Weekly", by=pia, schedule_kind="cron", cron="0 9 * * mon",
                               timezone="Europe/Paris", source="template", template="Hello {n}")
    html = client_for(pia).get(f"/admin/bots/bot/{bot.pk}/change/").content.decode()
    runs = re.findall(r"<li>(Mon \d\d \w+ \d{4}, 09:00 CES?T)</li>", html)
    assert len(runs) == 5
    assert '<span class="schedule-words" data-preview-url="/admin/bots/bot/schedule-preview/"' in html
    assert "At 09:00, only on Monday (Europe/Paris)" in html
