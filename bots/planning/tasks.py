"""Planning's Celery tasks: CSV imports, run by a worker, the sweep that
ends imports whose worker was lost, and the one that removes the files kept
for forms sent back (bots.staged_uploads) once they are too old to be used."""

from __future__ import annotations

from celery import shared_task

from bots import staged_uploads
from bots.planning import csv_io


@shared_task(name="bots.tasks.import_posts_csv", ignore_result=True)
def import_posts_csv(job_id: int) -> str:
    return csv_io.import_job_run(job_id=job_id).status


@shared_task(name="bots.tasks.sweep_stalled_imports", ignore_result=True)
def sweep_stalled_imports() -> int:
    return csv_io.import_jobs_sweep()


@shared_task(name="bots.tasks.sweep_staged_uploads", ignore_result=True)
def sweep_staged_uploads() -> int:
    return staged_uploads.sweep()
