"""The platform's periodic tasks are defined in code and installed into beat's
database schedule, as often as one likes."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django_celery_beat.models import IntervalSchedule, PeriodicTask, PeriodicTasks

from botplatform.celery import app as celery_app
from botplatform.schedules import PLATFORM_SCHEDULE, PeriodicEntry, install_schedules

pytestmark = pytest.mark.django_db

HEARTBEAT = "platform: beat heartbeat"
ALL = [entry.full_name for entry in PLATFORM_SCHEDULE]
ALL = [entry.full_name for entry in PLATFORM_SCHEDULE]


def outcomes(outcome: str) -> dict[str, str]:
    return {name: outcome for name in ALL}


def test_installing_twice_leaves_one_entry_each() -> None:
    assert install_schedules() == outcomes("created")
    assert install_schedules() == outcomes("unchanged")

    assert sorted(PeriodicTask.objects.values_list("name", flat=True)) == sorted(ALL)
    heartbeat = PeriodicTask.objects.get(name=HEARTBEAT)
    assert heartbeat.task == "botplatform.tasks.beat_heartbeat"
    assert (heartbeat.interval.every, heartbeat.interval.period) == (10, IntervalSchedule.SECONDS)
    assert heartbeat.enabled
    assert heartbeat.expire_seconds == 10
    assert IntervalSchedule.objects.count() == len({entry.every_seconds for entry in PLATFORM_SCHEDULE})


def test_an_unchanged_install_does_not_make_beat_reload() -> None:
    install_schedules()
    marker = PeriodicTasks.last_change()

    install_schedules()

    assert PeriodicTasks.last_change() == marker


def test_edits_in_the_admin_to_a_platform_entry_are_put_back() -> None:
    install_schedules()
    PeriodicTask.objects.filter(name=HEARTBEAT).update(
        enabled=False, interval=IntervalSchedule.objects.create(every=99, period=IntervalSchedule.SECONDS)
    )

    assert install_schedules() == outcomes("unchanged") | {HEARTBEAT: "updated"}

    heartbeat = PeriodicTask.objects.get(name=HEARTBEAT)
    assert heartbeat.enabled
    assert heartbeat.interval.every == 10


def test_entries_dropped_from_the_code_go_and_peoples_own_entries_stay() -> None:
    every_minute = IntervalSchedule.objects.create(every=60, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(name="platform: retired job", task="bots.tasks.retired", interval=every_minute)
    PeriodicTask.objects.create(name="weekly digest", task="bots.tasks.digest", interval=every_minute)

    assert install_schedules() == outcomes("created") | {"platform: retired job": "deleted"}
    assert set(PeriodicTask.objects.values_list("name", flat=True)) == {*ALL, "weekly digest"}


def test_a_new_entry_is_one_more_line_in_the_schedule() -> None:
    sweeper = PeriodicEntry("sweeper", "botplatform.tasks.beat_heartbeat", every_seconds=30)

    assert install_schedules((*PLATFORM_SCHEDULE, sweeper)) == outcomes("created") | {"platform: sweeper": "created"}
    assert PeriodicTask.objects.get(name="platform: sweeper").interval.every == 30


def test_every_scheduled_task_exists() -> None:
    celery_app.loader.import_default_modules()

    assert [entry.task for entry in PLATFORM_SCHEDULE if entry.task not in celery_app.tasks] == []


def test_the_command_reports_what_it_did() -> None:
    out = StringIO()
    call_command("install_schedules", stdout=out)
    call_command("install_schedules", stdout=out)

    assert out.getvalue().splitlines() == [f"{name}: created" for name in ALL] + [f"{name}: unchanged" for name in ALL]
