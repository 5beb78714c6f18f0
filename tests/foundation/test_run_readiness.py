"""`make run` prints its box once the processes answer: the waiter asks each
part's URL until it answers 200, and names what a part said when it does not
come up in time."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from botplatform.devrun import Probe, wait_until_ready
from tests.support import free_port

HEALTHZ_DOWN = {"status": "fail", "checks": {"database": {"status": "ok"}, "redis": {"status": "ok"},
                                             "beat": {"status": "fail"}, "workers": {"status": "fail"}}}


class Part:
    """A real HTTP server that answers 503 (as /healthz does while beat and the
    workers are starting) its first ``down_for`` times, then 200."""

    def __init__(self, down_for: int) -> None:
        self.down_for = down_for
        self.asked = 0
        part = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                part.asked += 1
                up = part.asked > part.down_for
                body = json.dumps({"status": "ok"} if up else HEALTHZ_DOWN).encode()
                self.send_response(200 if up else 503)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/healthz"


@pytest.fixture
def serve() -> Iterator[Callable[[int], Part]]:
    servers = []

    def start(down_for: int) -> Part:
        part = Part(down_for)
        threading.Thread(target=part.server.serve_forever, daemon=True).start()
        servers.append(part.server)
        return part

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_it_waits_until_every_part_answers_200(serve) -> None:
    web, sandbox = serve(down_for=3), serve(down_for=0)

    not_ready = wait_until_ready([Probe("web", web.url), Probe("sandbox", sandbox.url)], timeout=30, interval=0.05)

    assert not_ready == {}
    assert web.asked == 4
    assert sandbox.asked == 1


def test_a_part_still_down_at_the_deadline_is_named_with_what_it_said(serve) -> None:
    web = serve(down_for=10**6)
    nothing_there = f"http://127.0.0.1:{free_port()}/_sandbox/health"
    started = time.monotonic()

    not_ready = wait_until_ready([Probe("web", web.url), Probe("sandbox", nothing_there)], timeout=1, interval=0.05)

    assert 1 <= time.monotonic() - started < 5
    assert not_ready["web"] == "HTTP 503 (beat, workers down)"
    assert not_ready["sandbox"].startswith("no answer (")
    assert "refused" in not_ready["sandbox"]


def test_it_stops_waiting_when_the_processes_stop(serve) -> None:
    web = serve(down_for=10**6)
    started = time.monotonic()

    not_ready = wait_until_ready([Probe("web", web.url)], timeout=60, interval=0.05, keep_waiting=lambda: web.asked < 3)

    assert time.monotonic() - started < 5
    assert web.asked == 3
    assert not_ready == {"web": "HTTP 503 (beat, workers down)"}
