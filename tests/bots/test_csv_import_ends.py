"""A CSV import always ends: ``done``, or ``refused`` with the reason on its
page. A failure of any kind refuses it (its file gone from storage, a soft
time limit, a queue that will not take it); an import whose worker died is
refused by the sweeper, or by the next delivery of its task; and a worker
that comes back to an import ended meanwhile stops and creates nothing."""

from __future__ import annotations

import logging
import signal
import threading
import time as clock
from datetime import timedelta
from http.server import BaseHTTPRequestHandler

import pytest
import redis
from celery.exceptions import SoftTimeLimitExceeded
from django.db import connection, transaction
from django.utils import timezone

from bots.models import ImportJob, Post
from bots.planning import csv_io, tasks
from tests.bots.csv_support import account_of, client_for, csv_bytes, serve_with, staff
from tests.bots.test_csv_import import NEXT_YEAR, progress_until_finished, upload
from tests.foundation.helpers import wait_until
from tests.sandbox.xapi import png

LATER = f"{NEXT_YEAR}-06-01T09:00:00+02:00"
ONE_POST = csv_bytes([["@pia_blog", "Hello", LATER, "", ""]])


@pytest.fixture
def pia(db):
    return staff("pia", "Europe/Paris")


@pytest.fixture
def blog(pia):
    return account_of(pia, "pia_blog", "4001")


class HeldServer:
    """A web server whose answers (a PNG) wait until the test lets them go."""

    def __init__(self) -> None:
        self.url = ""
        self.arrived = threading.Event()
        self.release = threading.Event()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        held = self

        class Held(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                held.arrived.set()
                held.release.wait(timeout=60)
                body = png()
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args) -> None:
                pass

        return Held


@pytest.fixture
def held(settings):
    # The test's web server is on loopback, which imports refuse by default.
    settings.CSV_MEDIA_ALLOW_PRIVATE_HOSTS = True
    server = HeldServer()
    web = serve_with(server.handler())
    server.url = next(web)
    yield server
    server.release.set()
    web.close()


def the_page_of(client, job: ImportJob) -> str:
    return client.get(f"/admin/bots/importjob/{job.pk}/change/").content.decode().replace("&#x27;", "'")


def left_by_a_dead_worker(job: ImportJob, status: str, *, seconds_ago: float) -> None:
    """The job as a worker leaves it when it dies: still checking or creating, last moved long ago."""
    ImportJob.objects.filter(pk=job.pk).update(status=status, progressed_at=timezone.now() - timedelta(
        seconds=seconds_ago))


def stuck_job(owner, status: str, *, seconds_ago: float) -> ImportJob:
    job = ImportJob.objects.create(created_by=owner, workspace=owner.workspace, time_zone="UTC", file_name="posts.csv")
    left_by_a_dead_worker(job, status, seconds_ago=seconds_ago)
    return job


def test_the_sweeper_refuses_an_import_whose_worker_died(pia, blog, settings):
    client = client_for(pia)
    limit = settings.CELERY_TASK_TIME_LIMIT
    dead_creating = stuck_job(pia, ImportJob.Status.CREATING, seconds_ago=limit + 1)
    dead_checking = stuck_job(pia, ImportJob.Status.CHECKING, seconds_ago=limit + 1)
    alive = stuck_job(pia, ImportJob.Status.CHECKING, seconds_ago=limit - 5)
    waiting = stuck_job(pia, ImportJob.Status.PENDING, seconds_ago=limit + 1)
    # Stuck before the progress time was recorded: only its creation time tells.
    before_the_field = stuck_job(pia, ImportJob.Status.CREATING, seconds_ago=0)
    ImportJob.objects.filter(pk=before_the_field.pk).update(
        progressed_at=None, created_at=timezone.now() - timedelta(seconds=limit + 1))

    assert csv_io.import_jobs_sweep() == 3

    for job in (dead_creating, dead_checking, before_the_field):
        job.refresh_from_db()
        assert job.status == ImportJob.Status.REFUSED and job.finished_at is not None
        assert [p["reason"] for p in job.report] == [
            "The import stopped (its worker ended) before it finished, and nothing was imported: upload it again."]
    assert ImportJob.objects.get(pk=alive.pk).status == ImportJob.Status.CHECKING
    # Waiting in the queue is not stuck: a busy worker takes it later.
    assert ImportJob.objects.get(pk=waiting.pk).status == ImportJob.Status.PENDING
    page = the_page_of(client, dead_creating)
    assert "Nothing was imported" in page and "The import stopped (its worker ended)" in page
    progress = client.get(f"/admin/bots/importjob/{dead_creating.pk}/progress/").json()
    assert progress["finished"] and progress["status"] == "refused"
    assert csv_io.import_jobs_sweep() == 0
    assert not Post.objects.exists()


@pytest.mark.skipif(connection.vendor != "postgresql",
                    reason="PostgreSQL's row lock, which SQLite has not (its writer locks the whole file): CI runs it "
                           "on PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_the_sweeper_skips_an_import_whose_worker_holds_it_while_creating(pia, blog, settings):
    """A worker creating the posts holds its job's row lock until it commits:
    however long that takes, it is alive, and the sweeper leaves it be."""
    job = stuck_job(pia, ImportJob.Status.CREATING, seconds_ago=settings.CELERY_TASK_TIME_LIMIT + 1)
    locked, done = threading.Event(), threading.Event()

    def creating() -> None:
        try:
            with transaction.atomic():
                list(ImportJob.objects.select_for_update().filter(pk=job.pk))
                locked.set()
                done.wait(timeout=30)
        finally:
            connection.close()

    holder = threading.Thread(target=creating)
    holder.start()
    try:
        assert locked.wait(timeout=10)
        assert csv_io.import_jobs_sweep() == 0
    finally:
        done.set()
        holder.join(timeout=10)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.CREATING
    assert csv_io.import_jobs_sweep() == 1


@pytest.mark.django_db(transaction=True)
def test_the_sweeper_runs_as_a_task_on_a_real_worker(worker, pia, blog, settings):
    stuck_job(pia, ImportJob.Status.CHECKING, seconds_ago=settings.CELERY_TASK_TIME_LIMIT + 1)
    tasks.sweep_stalled_imports.delay()
    wait_until(lambda: ImportJob.objects.get().finished, what="the sweeper to end the import")
    assert ImportJob.objects.get().report[0]["reason"].startswith("The import stopped (its worker ended)")


@pytest.mark.django_db(transaction=True)
def test_an_import_whose_file_is_gone_is_refused_by_the_worker(request, redis_url, pia, blog):
    client = client_for(pia)
    upload(client, ONE_POST)
    job = ImportJob.objects.get()
    job.file.storage.delete(job.file.name)
    # The task waits in Redis until a worker starts.
    request.getfixturevalue("worker")
    progress, _ = progress_until_finished(client, job, seconds=30)
    assert progress["status"] == "refused"
    assert [p["reason"] for p in progress["report"]] == [
        "The uploaded file is no longer in storage, and nothing was imported: upload it again."]
    assert "The uploaded file is no longer in storage" in the_page_of(client, job)
    assert not Post.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_next_delivery_of_an_import_whose_worker_died_refuses_it(request, redis_url, pia, blog):
    """Celery delivers a task again when its worker dies; the job is then
    already checking. Running it again could kill the next worker the same
    way, so the delivery ends it instead."""
    client = client_for(pia)
    upload(client, ONE_POST)
    job = ImportJob.objects.get()
    left_by_a_dead_worker(job, ImportJob.Status.CHECKING, seconds_ago=1)
    request.getfixturevalue("worker")
    progress, _ = progress_until_finished(client, job, seconds=30)
    assert progress["status"] == "refused"
    assert progress["report"][0]["reason"].startswith("The import stopped (its worker ended)")
    assert not Post.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_worker_that_comes_back_to_a_swept_import_creates_nothing(worker, pia, blog, held, caplog, settings):
    caplog.set_level(logging.WARNING, logger="bots.planning.csv_io")
    client = client_for(pia)
    upload(client, csv_bytes([["@pia_blog", "With a picture", LATER, "", f"{held.url}/a.png"],
                              ["@pia_blog", "Plain", LATER, "", ""]]))
    job = ImportJob.objects.get()
    # The worker is checking, its fetch held by the server.
    assert held.arrived.wait(timeout=30)
    assert ImportJob.objects.get().status == ImportJob.Status.CHECKING
    later = timezone.now() + timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 1)
    assert csv_io.import_jobs_sweep(now=later) == 1

    held.release.set()
    wait_until(lambda: "was ended while its worker was at it" in caplog.text, what="the worker to stop")
    job.refresh_from_db()
    assert job.status == ImportJob.Status.REFUSED
    assert job.report[0]["reason"].startswith("The import stopped (its worker ended)")
    assert not Post.objects.exists()


def test_a_soft_time_limit_while_fetching_media_refuses_the_import(pia, blog, held, settings):
    """Celery's soft time limit is a signal whose handler raises
    SoftTimeLimitExceeded in the task's thread; here an alarm does the same
    while the import waits for a media URL that does not answer."""
    client = client_for(pia)
    upload(client, csv_bytes([["@pia_blog", "With a picture", LATER, "", f"{held.url}/a.png"]]))
    job = ImportJob.objects.get()

    def soft_time_limit(signum: int, frame: object) -> None:
        raise SoftTimeLimitExceeded()

    # pytest-timeout's alarm, if any, is put back afterwards.
    previous = signal.signal(signal.SIGALRM, soft_time_limit)
    started = clock.monotonic()
    pending, _ = signal.setitimer(signal.ITIMER_REAL, 1.0)
    try:
        job = csv_io.import_job_run(job_id=job.pk)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if pending:
            signal.setitimer(signal.ITIMER_REAL, max(pending - (clock.monotonic() - started), 0.001))
    # Ended at once, without waiting for the fetch (the deadline is minutes away).
    assert clock.monotonic() - started < 10
    assert held.arrived.is_set()
    assert job.status == ImportJob.Status.REFUSED
    assert [p["reason"] for p in job.report] == [
        f"The import took longer than a worker may run ({settings.CELERY_TASK_SOFT_TIME_LIMIT} s) and was stopped, "
        "and nothing was imported: split the file into smaller ones, or give fewer media URLs in each, and upload "
        "them again."]
    assert "The import took longer than a worker may run" in the_page_of(client, job)
    assert not Post.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_an_import_the_queue_will_not_take_is_refused(redis_url, pia, blog):
    """Redis out of memory refuses every write: the task cannot be queued."""
    broker = redis.Redis.from_url(redis_url)
    before = broker.config_get("maxmemory*")
    broker.config_set("maxmemory-policy", "noeviction")
    broker.config_set("maxmemory", 1)
    try:
        response = upload(client_for(pia), ONE_POST)
    finally:
        broker.config_set("maxmemory", before["maxmemory"])
        broker.config_set("maxmemory-policy", before["maxmemory-policy"])
        broker.close()
    assert response.status_code == 302
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.REFUSED
    assert [p["reason"] for p in job.report] == [
        "The import could not be handed to a worker (the queue did not take it), and nothing was imported: "
        "upload it again in a moment; if this happens again, tell an administrator."]
    assert "could not be handed to a worker" in the_page_of(client_for(pia), job)
