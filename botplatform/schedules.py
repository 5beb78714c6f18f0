"""The platform's own periodic tasks, defined here and installed into beat's
database schedule by ``manage.py install_schedules`` (run on every release).

To add one, add a line to PLATFORM_SCHEDULE. The installer owns the entries
whose names start with ``platform:``: it creates them, puts back any edit made
in the admin, and deletes those no longer listed. Entries people add in the
admin under other names are left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from django.db import transaction
from django_celery_beat.models import IntervalSchedule, PeriodicTask

NAME_PREFIX = "platform: "

Outcome = Literal["created", "updated", "unchanged", "deleted"]


@dataclass(frozen=True)
class PeriodicEntry:
    name: str
    task: str
    every_seconds: int
    # A run not started within this many seconds is dropped: the next one is
    # due soon, and a backlog after an outage then drains instead of replaying.
    expire_seconds: int | None = None

    @property
    def full_name(self) -> str:
        return NAME_PREFIX + self.name


PLATFORM_SCHEDULE: tuple[PeriodicEntry, ...] = (
    PeriodicEntry("beat heartbeat", "botplatform.tasks.beat_heartbeat", every_seconds=10, expire_seconds=10),
    PeriodicEntry(
        "refresh expiring X tokens", "accounts.tasks.refresh_expiring_tokens", every_seconds=60, expire_seconds=60
    ),
    PeriodicEntry("dispatch due posts", "bots.tasks.dispatch_due_posts", every_seconds=1, expire_seconds=5),
    PeriodicEntry("sweep stale posts", "bots.tasks.sweep_stale_posts", every_seconds=15, expire_seconds=15),
    PeriodicEntry("reconcile unknown posts", "bots.tasks.reconcile_unknown_posts", every_seconds=5, expire_seconds=5),
    PeriodicEntry("sweep stalled CSV imports", "bots.tasks.sweep_stalled_imports", every_seconds=60, expire_seconds=60),
    PeriodicEntry("sweep staged uploads", "bots.tasks.sweep_staged_uploads", every_seconds=3600,
                  expire_seconds=3600),
)


def _interval(every_seconds: int) -> IntervalSchedule:
    # IntervalSchedule has no uniqueness constraint, so the admin may have made
    # duplicates; any one of them will do.
    existing = IntervalSchedule.objects.filter(every=every_seconds, period=IntervalSchedule.SECONDS).order_by("pk")
    return existing.first() or IntervalSchedule.objects.create(every=every_seconds, period=IntervalSchedule.SECONDS)


def _install(entry: PeriodicEntry) -> Outcome:
    wanted = {
        "task": entry.task,
        "interval": _interval(entry.every_seconds),
        "crontab": None,
        "solar": None,
        "clocked": None,
        "args": "[]",
        "kwargs": "{}",
        "expire_seconds": entry.expire_seconds,
        "expires": None,
        "one_off": False,
        "enabled": True,
    }
    current = PeriodicTask.objects.filter(name=entry.full_name).first()
    if current is None:
        PeriodicTask.objects.create(name=entry.full_name, **wanted)
        return "created"
    if all(getattr(current, field) == value for field, value in wanted.items()):
        # Saving would bump beat's change marker and make it reload for nothing.
        return "unchanged"
    for field, value in wanted.items():
        setattr(current, field, value)
    current.save()
    return "updated"


@transaction.atomic
def install_schedules(schedule: tuple[PeriodicEntry, ...] = PLATFORM_SCHEDULE) -> dict[str, Outcome]:
    outcomes: dict[str, Outcome] = {entry.full_name: _install(entry) for entry in schedule}
    for stale in PeriodicTask.objects.filter(name__startswith=NAME_PREFIX).exclude(name__in=list(outcomes)):
        stale.delete()
        outcomes[stale.name] = "deleted"
    return outcomes
