"""Media URLs of a CSV import are fetched a few at a time, each URL once, all
within one deadline for the whole import (half the soft time limit at most),
so a file of slow URLs ends in seconds, not in their number times a timeout."""

from __future__ import annotations

import threading
import time as clock
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler

import pytest

from bots.models import ImportJob, Post
from bots.planning import csv_io
from tests.bots.csv_support import account_of, client_for, csv_bytes, serve_with, staff
from tests.bots.test_csv_import import NEXT_YEAR, report, run
from tests.sandbox.xapi import png

LATER = f"{NEXT_YEAR}-06-01T09:00:00+02:00"


@pytest.fixture
def pia(db):
    return staff("pia", "Europe/Paris")


@pytest.fixture
def blog(pia):
    return account_of(pia, "pia_blog", "4001")


class Media(BaseHTTPRequestHandler):
    """Answers each path with a PNG as wide as the number in it, once the
    test's ``gate`` lets the request through; counts the requests."""

    gate: threading.Barrier | threading.Event
    requests: list[str]

    def do_GET(self) -> None:
        self.requests.append(self.path)
        try:
            if isinstance(self.gate, threading.Barrier):
                self.gate.wait(timeout=10)
            else:
                self.gate.wait(timeout=60)
        except threading.BrokenBarrierError:
            self.send_error(503, "Not fetched at the same time")
            return
        body = png(int(self.path.strip("/").split(".")[0]), 1)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:
        pass


@contextmanager
def media_server(gate: threading.Barrier | threading.Event) -> Iterator[tuple[str, list[str]]]:
    handler = type("GatedMedia", (Media,), {"gate": gate, "requests": []})
    server = serve_with(handler)
    try:
        yield next(server), handler.requests
    finally:
        if isinstance(gate, threading.Event):
            gate.set()
        server.close()


@pytest.fixture
def web(settings):
    # The test's web server is on loopback, which imports refuse by default.
    settings.CSV_MEDIA_ALLOW_PRIVATE_HOSTS = True


def test_media_urls_are_fetched_at_the_same_time(pia, blog, web):
    """The server answers only once as many requests as the import fetches at
    once are all waiting: fetched one by one, each would be refused."""
    threads = csv_io.MEDIA_FETCH_THREADS
    barrier = threading.Barrier(threads)
    with media_server(barrier) as (url, requests):
        rows = [["@pia_blog", f"Picture {n}", LATER, "", f"{url}/{n}.png"] for n in range(1, threads + 1)]
        # The first URL again: fetched once, attached twice.
        rows.append(["@pia_blog", "Picture 1 again", LATER, "", f"{url}/1.png"])
        job = run(client_for(pia), csv_bytes(rows))
        assert job.status == ImportJob.Status.DONE, job.report
        assert sorted(requests) == [f"/{n}.png" for n in range(1, threads + 1)]
    for n in range(1, threads + 1):
        (media,) = Post.objects.get(text=f"Picture {n}").media.all()
        assert media.file.read() == png(n, 1)
    (again,) = Post.objects.get(text="Picture 1 again").media.all()
    assert again.file.read() == png(1, 1)


def test_one_deadline_covers_every_media_url_of_the_import(pia, blog, web, settings):
    """Three rounds of fetches that never answer end together at the one
    deadline; a deadline per fetch would take three times as long."""
    settings.CELERY_TASK_SOFT_TIME_LIMIT = 6
    deadline = 3
    never = threading.Event()
    count = 3 * csv_io.MEDIA_FETCH_THREADS
    with media_server(never) as (url, _):
        rows = [["@pia_blog", f"Slow {n}", LATER, "", f"{url}/{n}.png"] for n in range(1, count + 1)]
        started = clock.monotonic()
        job = run(client_for(pia), csv_bytes(rows))
        elapsed = clock.monotonic() - started
    assert job.status == ImportJob.Status.REFUSED
    assert report(job) == [
        (n + 1, "media", f"{url}/{n}.png took longer than the time allowed for fetching media: give a smaller "
                         "file, or one on a faster server.") for n in range(1, count + 1)
    ]
    assert deadline <= elapsed < 2 * deadline, elapsed
    assert not Post.objects.exists()
