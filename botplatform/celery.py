"""The Celery app. Its configuration is the CELERY_* part of the settings."""

from __future__ import annotations

import os
import sys

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "botplatform.settings")

app = Celery("botplatform")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Celery's Django fixup closes every database connection before and after
# each task, whatever DATABASE_CONN_MAX_AGE says, so each task opened a new
# PostgreSQL connection (a new server process): at a burst of posts that was
# most of the machine's time. Its reuse limit turns that off, and tasks close
# connections the way Django ends a request instead: when older than
# DATABASE_CONN_MAX_AGE, or broken.
app.conf.CELERY_DB_REUSE_MAX = sys.maxsize
app.autodiscover_tasks()
# bots keeps its tasks with the concern they serve.
app.autodiscover_tasks(["bots.posting", "bots.recurring", "bots.planning"])


@task_prerun.connect
@task_postrun.connect
def _close_old_connections(**kwargs: object) -> None:
    from django.db import close_old_connections

    close_old_connections()
