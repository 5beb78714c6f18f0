"""The upload page takes a CSV file of at most CSV_IMPORT_MAX_BYTES. A larger
one is refused in words, and it is dropped while it arrives: the server never
holds it whole, in memory or on disk."""

from __future__ import annotations

import io
import secrets
import tracemalloc
from collections.abc import Iterator

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.test import Client

from bots.models import ImportJob
from bots.posting.validation import MB
from tests.bots.csv_support import UPLOAD, account_of, client_for, csv_bytes, staff
from tests.bots.test_csv_import import NEXT_YEAR, upload

LATER = f"{NEXT_YEAR}-06-01T09:00:00+02:00"


@pytest.fixture
def pia(db):
    return staff("pia", "Europe/Paris")


@pytest.fixture
def blog(pia):
    return account_of(pia, "pia_blog", "4001")


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def of_size(size: int) -> bytes:
    """A sound CSV file of exactly ``size`` bytes."""
    data = csv_bytes([["@pia_blog", "", LATER, "", ""]])
    return data.replace(b",,", b"," + b"x" * (size - len(data)) + b",", 1)


def test_a_file_over_the_cap_is_refused_in_words_and_nothing_is_kept(pia, blog, settings, media_root):
    settings.CSV_IMPORT_MAX_BYTES = 2000
    response = upload(client_for(pia), of_size(2001))
    assert response.status_code == 200
    page = response.content.decode()
    assert ("The file is larger than 2,000 bytes, the most an import takes: split it into smaller files and upload "
            "them one at a time.") in page
    assert "This field is required" not in page
    # The rest of the form was read: the chosen zone is still there.
    assert 'name="time_zone" value="Europe/Paris"' in page
    assert not ImportJob.objects.exists()
    assert not media_root.exists() or not any(media_root.rglob("*.csv"))


def test_a_file_at_the_cap_is_taken(pia, blog, settings):
    settings.CSV_IMPORT_MAX_BYTES = 2000
    response = upload(client_for(pia), of_size(2000))
    assert response.status_code == 302
    assert ImportJob.objects.get().file.size == 2000


def test_the_upload_page_names_the_cap(pia, settings):
    settings.CSV_IMPORT_MAX_BYTES = 5 * MB
    assert "UTF-8, with a header row, at most 5 MB." in client_for(pia).get(UPLOAD).content.decode()


def test_the_upload_still_needs_its_csrf_token(pia, blog):
    client = Client(enforce_csrf_checks=True)
    client.force_login(pia)
    response = upload(client, of_size(500))
    assert response.status_code == 403
    assert not ImportJob.objects.exists()


class Body(io.RawIOBase):
    """A request body made as it is read, as a client's upload arrives: the
    test holds no more of it than one piece."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        super().__init__()
        self.pieces = pieces
        self.left = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:
        if not self.left:
            self.left = next(self.pieces, b"")
        size = min(len(buffer), len(self.left))
        buffer[:size] = self.left[:size]
        self.left = self.left[size:]
        return size


def multipart(boundary: str, token: str, file_size: int) -> tuple[Iterator[bytes], int]:
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"csrfmiddlewaretoken\"\r\n\r\n{token}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.csv\"\r\n"
            "Content-Type: text/csv\r\n\r\n").encode()
    tail = (f"\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"time_zone\"\r\n\r\nUTC\r\n"
            f"--{boundary}--\r\n").encode()
    row = f"@pia_blog,{'x' * 200},{LATER},,\n".encode()

    def pieces() -> Iterator[bytes]:
        yield head
        yield b"account,text,scheduled_at,thread,media\n"
        for _ in range(file_size // len(row)):
            yield row
        yield tail

    length = len(head) + len(b"account,text,scheduled_at,thread,media\n") + file_size // len(row) * len(row) + len(tail)
    return pieces(), length


@pytest.mark.django_db(transaction=True)
def test_a_large_upload_is_dropped_as_it_arrives(pia, blog, settings):
    """Through the WSGI handler a server calls (which closes the database
    connection after the request, as in production), with the body arriving
    piece by piece. Uploads up to 200 MB are kept in memory here (as a site may
    set FILE_UPLOAD_MAX_MEMORY_SIZE): without the cap, 24 MB would be."""
    settings.CSV_IMPORT_MAX_BYTES = 1 * MB
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 200 * MB
    session = client_for(pia)
    session.get(UPLOAD)  # templates compiled before measuring
    token = secrets.token_hex(16)
    boundary = secrets.token_hex(12)
    pieces, length = multipart(boundary, token, 24 * MB)
    environ = {
        "REQUEST_METHOD": "POST", "PATH_INFO": UPLOAD, "SCRIPT_NAME": "", "QUERY_STRING": "",
        "SERVER_NAME": "testserver", "SERVER_PORT": "80", "HTTP_HOST": "testserver", "wsgi.url_scheme": "http",
        "CONTENT_TYPE": f"multipart/form-data; boundary={boundary}", "CONTENT_LENGTH": str(length),
        "HTTP_COOKIE": f"sessionid={session.cookies['sessionid'].value}; csrftoken={token}",
        "wsgi.input": io.BufferedReader(Body(pieces)), "wsgi.errors": io.StringIO(),
    }
    answer = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        answer["status"] = status

    tracemalloc.start()
    try:
        body = b"".join(WSGIHandler()(environ, start_response))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert answer["status"] == "200 OK"
    assert "The file is larger than 1 MB, the most an import takes" in body.decode()
    assert not ImportJob.objects.exists()
    assert peak < 8 * MB, f"the server held {peak / MB:.1f} MB"
