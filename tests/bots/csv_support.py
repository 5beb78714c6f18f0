"""Helpers of the CSV tests: files as people write them, a local HTTP server
for media URLs (the machine has no internet), and people with accounts."""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Iterator, Sequence
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from django.contrib.auth import get_user_model
from django.test import Client

from accounts.models import XAccount

HEADER = ("account", "text", "scheduled_at", "thread", "media")
UPLOAD = "/admin/bots/importjob/add/"


def csv_bytes(rows: Sequence[Sequence[str]], header: Sequence[str] = HEADER, *, bom: bool = False) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode()


def staff(username: str, zone: str):
    return get_user_model().objects.create_user(username, f"{username}@example.com", "pw", is_staff=True,
                                                timezone=zone)


def account_of(owner, username: str, x_user_id: str) -> XAccount:
    return XAccount.objects.create(owner=owner, x_user_id=x_user_id, username=username, auth_method="oauth2")


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def serve(directory: Path) -> Iterator[str]:
    """A plain HTTP server for ``directory`` on a free local port."""

    class Quiet(SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(directory), **kwargs)

        def log_message(self, format: str, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
