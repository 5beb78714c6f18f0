"""Planning's Celery tasks: CSV imports, run by a worker, and the sweep that
ends imports whose worker was lost."""

from __future__ import annotations

from celery import shared_task

from bots.planning import csv_io


@shared_task(name="bots.tasks.import_posts_csv", ignore_result=True)
def import_posts_csv(job_id: int) -> str:
    return csv_io.import_job_run(job_id=job_id).status


@shared_task(name="bots.tasks.sweep_stalled_imports", ignore_result=True)
def sweep_stalled_imports() -> int:
    return csv_io.import_jobs_sweep()
