"""Helpers of the CSV tests: files as people write them, a local HTTP server
for media URLs (the machine has no internet), and people with accounts."""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from accounts.models import XAccount
from tests.people import client_for, staff

__all__ = ["HEADER", "UPLOAD", "account_of", "client_for", "csv_bytes", "serve", "serve_with", "staff"]

HEADER = ("account", "text", "scheduled_at", "thread", "media")
UPLOAD = "/admin/bots/importjob/add/"


def csv_bytes(rows: Sequence[Sequence[str]], header: Sequence[str] = HEADER, *, bom: bool = False) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode()



def account_of(owner, username: str, x_user_id: str) -> XAccount:
    return XAccount.objects.create(owner=owner, workspace=owner.workspace,
                                   x_user_id=x_user_id, username=username, auth_method="oauth2")



def serve(directory: Path) -> Iterator[str]:
    """A plain HTTP server for ``directory`` on a free local port."""

    class Quiet(SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(directory), **kwargs)

        def log_message(self, format: str, *args) -> None:
            pass

    yield from serve_with(Quiet)


def serve_with(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """An HTTP server answering with ``handler``, on a free local port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
