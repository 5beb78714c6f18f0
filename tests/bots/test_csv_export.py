"""CSV export of the post list as it is filtered, searched and scoped, streamed,
in the import's columns plus status, X URL and last error, so an export
imports again. Cells a spreadsheet would run as formulas are escaped, and an
import takes the escape off: every text makes the round trip unchanged."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from bots.models import ImportJob, Post
from bots.planning import csv_io
from bots.posting import services
from tests.bots.csv_support import account_of, client_for, staff

pytestmark = pytest.mark.django_db

EXPORT = "/admin/bots/importjob/export/"
UTC = ZoneInfo("UTC")
NEXT_YEAR = timezone.now().year + 1


@pytest.fixture
def nina(db):
    return staff("nina", "America/New_York")


@pytest.fixture
def posts(nina):
    blog = account_of(nina, "nina_blog", "5001")
    omar = account_of(staff("omar", "UTC"), "omar_bot", "5002")
    at = datetime(NEXT_YEAR, 6, 1, 13, 0, tzinfo=UTC)
    thread = Post.objects.create(account=blog, text="Thread, part one", scheduled_at=at, created_by=nina)
    Post.objects.create(account=blog, parent=thread, position=1, text="Part two, with \"quotes\", commas",
                        scheduled_at=at)
    services.post_schedule(post=thread)
    single = Post.objects.create(account=blog, text="A single post\nover two lines",
                                 scheduled_at=datetime(NEXT_YEAR, 6, 2, 13, 0, tzinfo=UTC))
    services.post_schedule(post=single)
    Post.objects.create(account=blog, text="Published one", scheduled_at=datetime(2024, 1, 5, 9, 0, tzinfo=UTC),
                        status=Post.Status.PUBLISHED, x_post_url="https://x.com/nina_blog/status/42")
    Post.objects.create(account=blog, text="Failed one", scheduled_at=datetime(2024, 1, 6, 9, 0, tzinfo=UTC),
                        status=Post.Status.FAILED, last_error="X refused the post: duplicate content")
    Post.objects.create(account=omar, text="Omar's post", scheduled_at=at, status=Post.Status.SCHEDULED)
    return blog


def rows_of(response) -> list[dict[str, str]]:
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="posts-')
    body = b"".join(response.streaming_content).decode()
    assert body.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(body[1:])))


def test_the_export_has_the_import_columns_and_the_outcome(nina, posts):
    rows = rows_of(client_for(nina).get(EXPORT))
    assert list(rows[0]) == ["account", "text", "scheduled_at", "thread", "media", "status", "x_url", "last_error"]
    assert "Omar's post" not in {row["text"] for row in rows}
    by_text = {row["text"]: row for row in rows}
    assert len(rows) == 5
    root = by_text["Thread, part one"]
    part = by_text['Part two, with "quotes", commas']
    # 13:00 UTC is 09:00 in New York in June.
    assert root["scheduled_at"] == f"{NEXT_YEAR}-06-01T09:00-04:00"
    assert root["thread"] == part["thread"] != "" and part["scheduled_at"] == ""
    # A cell starting with @ is a formula to a spreadsheet: it gets a quote before it.
    assert root["account"] == "'@nina_blog" and root["status"] == "scheduled"
    assert by_text["A single post\nover two lines"]["thread"] == ""
    assert by_text["Published one"]["x_url"] == "https://x.com/nina_blog/status/42"
    assert by_text["Failed one"]["last_error"] == "X refused the post: duplicate content"


def test_the_export_link_follows_the_lists_filters_and_search(nina, posts):
    client = client_for(nina)
    listing = client.get("/admin/bots/post/", {"status": "failed"}).content.decode()
    assert 'href="/admin/bots/importjob/export/?status=failed"' in listing
    assert [row["text"] for row in rows_of(client.get(EXPORT, {"status": "failed"}))] == ["Failed one"]
    assert [row["text"] for row in rows_of(client.get(EXPORT, {"q": "single"}))] == ["A single post\nover two lines"]
    root = staff("root", "UTC")
    root.is_superuser = True
    root.save()
    everything = rows_of(client_for(root).get(EXPORT))
    assert "Omar's post" in {row["text"] for row in everything}
    assert everything[0]["scheduled_at"].endswith("+00:00")


def test_a_bad_filter_in_the_link_is_refused_with_a_message(nina, posts):
    response = client_for(nina).get(EXPORT, {"scheduled_at__year": "not-a-year"}, follow=True)
    assert "The post list&#x27;s filters in that link are not valid" in response.content.decode()


def test_the_action_exports_the_selected_posts(nina, posts):
    chosen = Post.objects.filter(text__in=["Published one", "Failed one"])
    response = client_for(nina).post("/admin/bots/post/", {
        "action": "export_csv", "_selected_action": [p.pk for p in chosen], "index": 0,
    })
    assert sorted(row["text"] for row in rows_of(response)) == ["Failed one", "Published one"]


def test_an_export_imports_again(nina, posts):
    Post.objects.exclude(status=Post.Status.SCHEDULED).delete()
    Post.objects.filter(account__username="omar_bot").delete()
    body = b"".join(client_for(nina).get(EXPORT).streaming_content)
    before = sorted(Post.objects.values_list("text", "scheduled_at", "position"))
    job = ImportJob.objects.create(created_by=nina, workspace=nina.workspace, time_zone="America/New_York", file_name="export.csv")
    job.file.save("export.csv", io.BytesIO(body))
    job = csv_io.import_job_run(job_id=job.pk)
    assert job.status == ImportJob.Status.DONE, job.report
    assert job.created_posts == 3
    after = sorted(Post.objects.values_list("text", "scheduled_at", "position"))
    assert after == sorted(before * 2)
    copy = Post.objects.filter(text="Thread, part one").order_by("-pk").first()
    assert list(copy.parts.values_list("text", flat=True)) == ['Part two, with "quotes", commas']


# Texts a spreadsheet would run, and texts that only look like escaped ones.
TRICKY = [
    '=HYPERLINK("http://evil.example","Click")',
    "+1 for this",
    "-- a dash to start",
    "@nina_blog said so",
    "\tIndented",
    "\rReturned",
    "'=1+1 written with its own quote",
    "''+two quotes",
    "'plain quote, no formula",
    "Not a formula = fine",
    "' ",
]


def test_cells_a_spreadsheet_would_run_are_escaped_with_a_quote(nina, posts):
    at = datetime(NEXT_YEAR, 7, 1, 13, 0, tzinfo=UTC)
    for text in TRICKY:
        Post.objects.create(account=posts, text=text, scheduled_at=at, status=Post.Status.FAILED,
                            last_error="=cmd|' /C calc'!A0")
    by_text = {row["text"]: row for row in rows_of(client_for(nina).get(EXPORT, {"status": "failed"}))}
    assert set(by_text) == {
        """'=HYPERLINK("http://evil.example","Click")""", "'+1 for this", "'-- a dash to start",
        "'@nina_blog said so", "'\tIndented", "'\rReturned", "''=1+1 written with its own quote",
        "'''+two quotes", "'plain quote, no formula", "Not a formula = fine", "' ", "Failed one",
    }
    assert {row["last_error"] for row in by_text.values()} == {"'=cmd|' /C calc'!A0",
                                                               "X refused the post: duplicate content"}
    assert {row["account"] for row in by_text.values()} == {"'@nina_blog"}


def test_an_export_of_tricky_texts_imports_as_the_same_texts(nina, posts):
    Post.objects.all().delete()
    at = datetime(NEXT_YEAR, 7, 1, 13, 0, tzinfo=UTC)
    root = Post.objects.create(account=posts, text="=thread(1)", scheduled_at=at)
    Post.objects.create(account=posts, parent=root, position=1, text="'-part two", scheduled_at=at)
    services.post_schedule(post=root)
    for text in TRICKY:
        services.post_schedule(post=Post.objects.create(account=posts, text=text, scheduled_at=at))
    body = b"".join(client_for(nina).get(EXPORT).streaming_content)
    job = ImportJob.objects.create(created_by=nina, workspace=nina.workspace, time_zone="UTC", file_name="export.csv")
    job.file.save("export.csv", io.BytesIO(body))
    job = csv_io.import_job_run(job_id=job.pk)
    assert job.status == ImportJob.Status.DONE, job.report
    imported = Post.objects.filter(created_by=nina)
    assert sorted(imported.values_list("text", flat=True)) == sorted([*TRICKY, "=thread(1)", "'-part two"])
    copy = imported.get(text="=thread(1)")
    assert list(copy.parts.values_list("text", flat=True)) == ["'-part two"]
    assert copy.account == posts


@given(st.text())
def test_any_cell_escaped_then_unescaped_is_itself(value):
    escaped = csv_io.cell_out(value)
    assert csv_io.cell_in(escaped) == value
    # What a spreadsheet reads: never a formula, and a leading quote marks the rest as text.
    assert not escaped.startswith(csv_io.FORMULA_STARTS)
    assert escaped in (value, "'" + value)
