"""CSV import: a file is checked whole before anything is created; one bad
row means nothing is imported and a report names its row (the header is row
1), column and reason. A good file becomes scheduled posts and threads, with
times from offsets, from the chosen zone, or from the accounts' posting slots,
and media from the media folder or from URLs. 5,000 rows go through the upload
page, a real worker and the progress endpoint."""

from __future__ import annotations

import time as clock
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from bots.models import ImportJob, Post, PostingSlot, PostMedia
from bots.planning import csv_io
from tests.bots.csv_support import UPLOAD, account_of, client_for, csv_bytes, serve, staff
from tests.foundation.helpers import wait_until
from tests.sandbox.xapi import mp4, png

PARIS = ZoneInfo("Europe/Paris")
NEXT_YEAR = timezone.now().year + 1


@pytest.fixture
def pia(db):
    return staff("pia", "Europe/Paris")


@pytest.fixture
def blog(pia):
    return account_of(pia, "pia_blog", "4001")


@pytest.fixture
def tips(pia):
    return account_of(pia, "pia_tips", "4002")


@pytest.fixture
def omar_account(db):
    return account_of(staff("omar", "UTC"), "omar_bot", "4003")


@pytest.fixture
def media_root(settings, tmp_path):
    root = tmp_path / "media"
    (root / "library").mkdir(parents=True)
    (root / "library" / "cat.png").write_bytes(png())
    (root / "library" / "notes.txt").write_text("not an image")
    (tmp_path / "secret.png").write_bytes(png())
    settings.MEDIA_ROOT = root
    return root


@pytest.fixture
def web(tmp_path, settings):
    # The test's web server is on loopback, which imports refuse by default.
    settings.CSV_MEDIA_ALLOW_PRIVATE_HOSTS = True
    served = tmp_path / "web"
    served.mkdir()
    (served / "dog.png").write_bytes(png(4, 4))
    (served / "clip.mp4").write_bytes(mp4(8192))
    (served / "huge.png").write_bytes(png() + b"\0" * (5 * 1024 * 1024 + 1))
    (served / "page.html").write_text("<html></html>")
    yield from serve(served)


def upload(client, data: bytes, zone: str = "Europe/Paris", name: str = "posts.csv"):
    return client.post(UPLOAD, {"file": SimpleUploadedFile(name, data, content_type="text/csv"), "time_zone": zone})


def run(client, data: bytes, zone: str = "Europe/Paris") -> ImportJob:
    """Upload through the admin page, then do the worker's part in this process."""
    response = upload(client, data, zone)
    assert response.status_code == 302, response.content.decode()[:2000]
    job = ImportJob.objects.get()
    assert response["Location"] == f"/admin/bots/importjob/{job.pk}/change/"
    return csv_io.import_job_run(job_id=job.pk)


def report(job: ImportJob) -> list[tuple[int, str, str]]:
    return [(p["row"], p["column"], p["reason"]) for p in job.report]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty"),
        (csv_bytes([["@pia_blog", "Hi"]], header=("account", "text", "when")),
         "Row 1 (the header) has unknown column(s): 'when'"),
        (csv_bytes([["Hi"]], header=("text",)), "Row 1 (the header) lacks the column(s) account"),
        (csv_bytes([["@pia_blog", "Café"]]).decode().encode("latin-1"),
         "The file is not UTF-8 (byte 0xe9 on line 2 is not valid UTF-8"),
        (csv_bytes([["@pia_blog", "Hi"]]).decode().encode("utf-16"), "The file is UTF-16"),
        (csv_bytes([["@pia_blog", "Hi", "Hi"]], header=("account", "text", "text")), "names text more than once"),
        (csv_bytes([["@pia_blog", "Hi", ""]], header=("account", "text", "x" * 140_000)),
         "Line 1: a field is longer than 131,072 characters, and nothing was imported. A post's text is at most "
         "280: look for a double quote that opens a field and is never closed"),
    ],
    ids=["empty", "unknown column", "missing column", "latin-1", "utf-16", "column twice", "header field too long"],
)
def test_a_bad_file_is_refused_on_the_upload_page_and_nothing_changes(pia, blog, data, message):
    response = upload(client_for(pia), data)
    assert response.status_code == 200
    assert message in response.content.decode().replace("&#x27;", "'")
    assert not ImportJob.objects.exists() and not Post.objects.exists()


def test_an_unknown_time_zone_is_refused_and_nothing_changes(pia, blog):
    response = upload(client_for(pia), csv_bytes([["@pia_blog", "Hi", f"{NEXT_YEAR}-06-01 09:00", "", ""]]),
                      zone="Mars/Olympus")
    assert response.status_code == 200
    assert "Unknown time zone “Mars/Olympus”: choose an IANA name such as Europe/Paris" in response.content.decode()
    assert not ImportJob.objects.exists() and not Post.objects.exists()


def test_the_upload_page_offers_the_persons_zone(pia):
    page = client_for(pia).get(UPLOAD).content.decode()
    assert 'name="time_zone" value="Europe/Paris"' in page
    assert "account (@username)" in page


def test_every_bad_row_is_reported_and_nothing_is_created(pia, blog, tips, omar_account, media_root):
    later = f"{NEXT_YEAR}-06-01T09:00:00+02:00"
    rows = [
        ["@pia_blog", "Fine", later, "", ""],                                       # 2
        ["@nobody", "Who?", later, "", ""],                                         # 3
        ["@omar_bot", "Not mine", later, "", ""],                                   # 4
        ["@pia_blog", "Bad time", "next tuesday", "", ""],                          # 5
        ["@pia_blog", "Date only", f"{NEXT_YEAR}-06-01", "", ""],                   # 6
        ["@pia_blog", "Past", "2020-01-01T09:00:00Z", "", ""],                      # 7
        ["@pia_blog", "x" * 281, later, "", ""],                                    # 8
        ["@pia_blog", "Thread start", later, "t1", ""],                             # 9
        ["@pia_tips", "Thread elsewhere", "", "t1", ""],                            # 10
        ["@pia_blog", "Outside media", later, "", "../secret.png"],                 # 11
        ["@pia_blog", "Missing media", later, "", "library/gone.png"],              # 12
        ["@pia_blog", "Text file", later, "", "library/notes.txt"],                 # 13
        ["@pia_blog", "No slots", "", "", ""],                                      # 14
        ["", "No account", later, "", ""],                                          # 15
        ["@pia_blog", "Too many fields", later, "", "", "x", "y", "z", "w"],        # 16
        ["@pia_blog", "", later, "", ""],                                           # 17
    ]
    job = run(client_for(pia), csv_bytes(rows))
    assert job.status == ImportJob.Status.REFUSED
    problems = report(job)
    by_row = {row: (column, reason) for row, column, reason in problems}
    assert 2 not in by_row
    assert by_row[3] == ("account", "@nobody is not one of your X accounts (yours: @pia_blog, @pia_tips).")
    assert by_row[4][0] == "account" and "@omar_bot is not one of your X accounts" in by_row[4][1]
    assert by_row[5] == ("scheduled_at", "“next tuesday” is not a date and time in ISO 8601: write it like "
                                         "2026-12-01T09:00+01:00, or 2026-12-01 09:00 in the import's time zone.")
    assert by_row[6][0] == "scheduled_at" and "has no time of day" in by_row[6][1]
    assert by_row[7][0] == "scheduled_at" and "is in the past" in by_row[7][1]
    assert by_row[8][0] == "text" and "The text is 281 characters long by X's count; the limit is 280" in by_row[8][1]
    assert 9 not in by_row
    assert by_row[10] == ("account", "Thread “t1” started on @pia_blog in row 9; all its rows must be on that "
                                     "account.")
    assert by_row[11][0] == "media" and "../secret.png is outside the media folder" in by_row[11][1]
    assert by_row[12] == ("media", "There is no file library/gone.png in the media folder.")
    assert by_row[13][0] == "media" and "not an image or video X takes" in by_row[13][1]
    assert by_row[14] == ("scheduled_at", "No time given and @pia_blog has no posting slots: give a time, or add "
                                          "weekly slots under Posting queues.")
    assert by_row[15] == ("account", "No account: give the X account as @username.")
    assert by_row[16][1].startswith("This row has more fields than the header")
    assert by_row[17][0] == "text" and "has no text" in by_row[17][1]
    assert not Post.objects.exists() and not PostMedia.objects.exists()
    assert job.processed_rows == job.total_rows == 16

    page = client_for(pia).get(f"/admin/bots/importjob/{job.pk}/change/").content.decode()
    assert "Nothing was imported: fix the rows below" in page
    assert "<td>12</td><td>media</td><td>There is no file library/gone.png in the media folder.</td>" in page


def test_a_good_file_becomes_scheduled_posts_threads_and_media(pia, blog, tips, media_root, web):
    PostingSlot.objects.create(account=tips, weekday=0, time=time(9, 0))
    PostingSlot.objects.create(account=tips, weekday=3, time=time(18, 0))
    rows = [
        ["@pia_blog", "With an offset", f"{NEXT_YEAR}-06-01T09:00:00-04:00", "", ""],
        # 02:30 does not exist in Paris on the last Sunday of March: moved forward by the jump, to 03:30.
        ["pia_blog", "Local in Paris, spring gap", f"{NEXT_YEAR}-03-{_last_sunday(NEXT_YEAR, 3):02d} 02:30", "", ""],
        ["@PIA_TIPS", "First free slot", "", "", "library/cat.png"],
        ["@pia_tips", "A thread in the next slot, part 1", "", "launch", f"{web}/dog.png|library/cat.png"],
        ["@pia_blog", "Something else in between", f"{NEXT_YEAR}-07-01T10:00:00Z", "", ""],
        ["@pia_tips", "Part 2", "", "launch", f"{web}/clip.mp4"],
        ["@pia_tips", "Part 3, no time: the thread's", "", "launch", ""],
    ]
    job = run(client_for(pia), csv_bytes(rows, bom=True))
    assert job.status == ImportJob.Status.DONE, job.report
    assert job.created_posts == 7 and job.report == []

    offset = Post.objects.get(text="With an offset")
    assert offset.scheduled_at == datetime(NEXT_YEAR, 6, 1, 13, 0, tzinfo=ZoneInfo("UTC"))
    assert offset.status == Post.Status.SCHEDULED and offset.next_attempt_at == offset.scheduled_at
    assert offset.created_by == pia
    gap = Post.objects.get(text="Local in Paris, spring gap")
    assert gap.scheduled_at.astimezone(PARIS).time() == time(3, 30)

    first_slot = Post.objects.get(text="First free slot")
    thread = Post.objects.get(text__startswith="A thread")
    assert first_slot.scheduled_at < thread.scheduled_at
    for post in (first_slot, thread):
        local = post.scheduled_at.astimezone(PARIS)
        assert (local.weekday(), local.time()) in ((0, time(9, 0)), (3, time(18, 0)))
    assert [m.file.name for m in first_slot.media.all()] == ["library/cat.png"]
    parts = list(thread.parts.order_by("position"))
    assert [p.text for p in parts] == ["Part 2", "Part 3, no time: the thread's"]
    assert all(p.status == Post.Status.SCHEDULED and p.next_attempt_at is None for p in parts)
    assert all(p.scheduled_at == thread.scheduled_at for p in parts)
    media = list(thread.media.order_by("position"))
    assert [(m.content_type, m.size) for m in media] == [("image/png", len(png(4, 4))), ("image/png", len(png()))]
    assert media[0].file.read() == png(4, 4)
    (clip,) = parts[0].media.all()
    assert clip.content_type == "video/mp4" and clip.size == 8192


def _last_sunday(year: int, month: int) -> int:
    day = datetime(year, month + 1, 1) - timedelta(days=1)
    return (day - timedelta(days=(day.weekday() - 6) % 7)).day


def test_media_urls_that_fail_are_reported(pia, blog, web, media_root):
    later = f"{NEXT_YEAR}-06-01T09:00:00+02:00"
    rows = [
        ["@pia_blog", "Missing", later, "", f"{web}/nothing.png"],
        ["@pia_blog", "Too big", later, "", f"{web}/huge.png"],
        ["@pia_blog", "Not media", later, "", f"{web}/page.html"],
        ["@pia_blog", "Nobody there", later, "", "http://127.0.0.1:9/a.png"],
        ["@pia_blog", "Too many", later, "", "|".join(["library/cat.png"] * 5)],
    ]
    job = run(client_for(pia), csv_bytes(rows))
    assert report(job)[:3] == [
        (2, "media", f"{web}/nothing.png answered 404 File not found: check the address."),
        (3, "media", f"{web}/huge.png is larger than X's 5 MB limit for images of this type."),
        (4, "media", f"{web}/page.html is not an image or video X takes: attach JPEG, PNG or WebP images, a GIF, "
                     "or an MP4 or MOV video."),
    ]
    assert report(job)[3] == (5, "media", "http://127.0.0.1:9/a.png could not be reached (Connection refused): "
                                          "check the address.")
    assert report(job)[4][:2] == (6, "media") and "at most 4 images; this one has 5" in report(job)[4][2]
    assert not Post.objects.exists()


def test_someone_elses_import_is_not_theirs_to_see(pia, blog):
    job = run(client_for(pia), csv_bytes([["@pia_blog", "Hi", f"{NEXT_YEAR}-06-01T09:00:00Z", "", ""]]))
    other = client_for(staff("omar", "UTC"))
    assert other.get(f"/admin/bots/importjob/{job.pk}/change/").status_code == 404
    assert other.get(f"/admin/bots/importjob/{job.pk}/progress/").status_code == 404
    mine = client_for(pia).get(f"/admin/bots/importjob/{job.pk}/progress/").json()
    assert mine["status"] == "done" and mine["created"] == 1 and mine["processed"] == mine["total"] == 1


def five_thousand(bad_row: int | None = None) -> bytes:
    """5,000 posts over two accounts, threads of three every hundred rows;
    ``bad_row`` (numbered as in the file, header = 1) has a text X refuses."""
    start = datetime(NEXT_YEAR, 1, 1, tzinfo=ZoneInfo("UTC"))
    rows = []
    for n in range(5000):
        thread = f"t{n // 100}" if n % 100 < 3 else ""
        handle = "@pia_blog" if (n // 100) % 2 else "@pia_tips"
        at = (start + timedelta(minutes=10 * n)).isoformat() if not thread or n % 100 == 0 else ""
        text = f"Post number {n} of the big import, with a link https://example.com/{n}"
        rows.append([handle, "x" * 300 if n + 2 == bad_row else text, at, thread, ""])
    return csv_bytes(rows)


def progress_until_finished(client, job: ImportJob, seconds: float = 240) -> tuple[dict, list[int]]:
    seen = []
    url = f"/admin/bots/importjob/{job.pk}/progress/"

    def finished() -> bool:
        progress = client.get(url).json()
        seen.append(progress["processed"])
        return progress["finished"]

    wait_until(finished, seconds=seconds, what="the import to finish")
    return client.get(url).json(), seen


@pytest.mark.django_db(transaction=True)
def test_five_thousand_rows_import_with_progress_through_a_worker(worker, pia, blog, tips):
    client = client_for(pia)
    started = clock.monotonic()
    response = upload(client, five_thousand())
    assert response.status_code == 302
    job = ImportJob.objects.get()
    page = client.get(response["Location"]).content.decode()
    assert 'id="import-bar"' in page and "/progress/" in page
    progress, seen = progress_until_finished(client, job)
    elapsed = clock.monotonic() - started
    assert progress["status"] == "done", progress["report"][:5]
    assert progress["created"] == 5000 and progress["processed"] == progress["total"] == 5000
    assert seen == sorted(seen)
    assert Post.objects.count() == 5000
    assert Post.objects.filter(parent__isnull=True).count() == 5000 - 2 * 50
    assert not Post.objects.exclude(status=Post.Status.SCHEDULED).exists()
    print(f"\n5,000 rows imported through the worker in {elapsed:.1f} s")


@pytest.mark.django_db(transaction=True)
def test_five_thousand_rows_with_one_bad_row_create_nothing(worker, pia, blog, tips):
    client = client_for(pia)
    upload(client, five_thousand(bad_row=4999))
    job = ImportJob.objects.get()
    progress, _ = progress_until_finished(client, job)
    assert progress["status"] == "refused"
    assert progress["processed"] == progress["total"] == 5000
    ((row, column, reason),) = [(p["row"], p["column"], p["reason"]) for p in progress["report"]]
    assert (row, column) == (4999, "text")
    assert reason.startswith("The text is 300 characters long by X's count; the limit is 280.")
    assert not Post.objects.exists()


def test_media_urls_into_a_private_network_are_refused(pia, blog, media_root):
    later = f"{NEXT_YEAR}-06-01T09:00:00+02:00"
    rows = [
        ["@pia_blog", "From the loopback", later, "", "http://127.0.0.1:8000/admin/"],
        ["@pia_blog", "From the LAN", later, "", "http://192.168.1.10/cam.png"],
    ]

    job = run(client_for(pia), csv_bytes(rows))

    assert report(job) == [
        (2, "media", "http://127.0.0.1:8000/admin/ points at a private address (127.0.0.1): media can only be "
                     "fetched from public addresses."),
        (3, "media", "http://192.168.1.10/cam.png points at a private address (192.168.1.10): media can only be "
                     "fetched from public addresses."),
    ]
    assert not Post.objects.exists()


def test_a_quote_never_closed_is_refused_by_line_not_by_a_crash(pia, blog):
    later = f"{NEXT_YEAR}-06-01T09:00:00+02:00"
    head = csv_bytes([["@pia_blog", "Fine", later, "", ""]])
    # Row 3 opens a quote that no later line closes: the rest of the file becomes one field.
    tail = "".join(f'@pia_blog,Post {n},{later},,\n' for n in range(3000)).encode()
    job = run(client_for(pia), head + b'@pia_blog,"Opened here,' + later.encode() + b",,\n" + tail)
    assert job.status == ImportJob.Status.REFUSED
    ((row, column, reason),) = report(job)
    assert (row, column) == (3, "")
    line, said = reason.split(": ", 1)
    assert line.startswith("Line ") and int(line.removeprefix("Line ")) > 3
    assert said.startswith("a field is longer than 131,072 characters, and nothing was imported. A post's text is "
                           "at most 280: look for a double quote that opens a field and is never closed")
    assert not Post.objects.exists()


def test_a_nul_character_in_a_cell_is_reported(pia, blog):
    later = f"{NEXT_YEAR}-06-01T09:00:00+02:00"
    job = run(client_for(pia), csv_bytes([["@pia_blog", "Hi\0there", later, "", ""],
                                         ["@pia_blog", "Fine", later, "", "library/\0cat.png"]]))
    assert report(job) == [
        (2, "text", "This cell contains a NUL character (U+0000), which cannot be stored: remove it."),
        (3, "media", "This cell contains a NUL character (U+0000), which cannot be stored: remove it."),
    ]
    assert not Post.objects.exists()


def test_lines_ending_in_a_lone_carriage_return_import(pia, blog):
    later = f"{NEXT_YEAR}-06-01T09:00:00+02:00"
    data = f'account,text,scheduled_at,thread,media\r@pia_blog,First,{later},,\r@pia_blog,"Two\r\nlines",{later},,\r'
    job = run(client_for(pia), data.encode())
    assert job.status == ImportJob.Status.DONE, job.report
    assert sorted(Post.objects.values_list("text", flat=True)) == ["First", "Two\r\nlines"]


def test_a_media_path_the_system_cannot_open_is_reported(pia, blog, media_root):
    later = f"{NEXT_YEAR}-06-01T09:00:00+02:00"
    long_name = "library/" + "x" * 300 + ".png"
    job = run(client_for(pia), csv_bytes([["@pia_blog", "Long path", later, "", long_name]]))
    assert report(job) == [
        (2, "media", f"{long_name} cannot be read from the media folder (File name too long): check the path."),
    ]
    assert not Post.objects.exists()
