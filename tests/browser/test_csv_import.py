"""A person imports a CSV in a real browser: a file with a bad row is refused
whole and the page shows the report (row, column, reason) when the worker is
done; the corrected file imports, and the progress page says so.

With SCREENSHOTS=1 in the environment the test also refreshes
docs/screenshots/csv-import.png, the report of the refused file; otherwise the
screenshot goes to a temporary directory, so a test run leaves the work tree
as it was.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import XAccount
from bots.models import ImportJob, Post
from tests.bots.csv_support import csv_bytes
from tests.browser.conftest import log_in

pytestmark = pytest.mark.django_db(transaction=True)

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "csv-import.png"
YEAR = timezone.now().year + 1


@pytest.fixture
def paris_page(browser):
    context = browser.new_context(timezone_id="Europe/Paris", viewport={"width": 1300, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


def test_import_a_csv_with_a_bad_row_and_see_the_report(paris_page, live_server, worker, tmp_path):
    page = paris_page
    pia = get_user_model().objects.create_user("pia", "pia@example.com", "correct horse", is_staff=True,
                                               timezone="Europe/Paris")
    XAccount.objects.create(owner=pia, workspace=pia.workspace,
                            x_user_id="6001", username="pia_blog", auth_method="oauth2")
    rows = [
        ["@pia_blog", "Spring is here: our plans for the season", f"{YEAR}-03-02 09:00", "", ""],
        ["@pia_blog", "A thread about the workshop, part 1", f"{YEAR}-03-03T18:00:00+01:00", "workshop", ""],
        ["@pia_blog", "Part 2: what we built", "", "workshop", ""],
        ["@pia_blg", "A typo in the account", f"{YEAR}-03-04 09:00", "", ""],
        ["@pia_blog", "When is this?", "tomorrow at nine", "", ""],
    ]
    bad = tmp_path / "march.csv"
    bad.write_bytes(csv_bytes(rows))

    log_in(page, live_server, "pia")
    page.goto(f"{live_server.url}/admin/bots/post/")
    page.click("a.csv-import-link")
    expect(page.locator("#id_time_zone")).to_have_value("Europe/Paris")
    page.set_input_files("#id_file", str(bad))
    page.click("input[name=_import]")

    expect(page.locator("#import-status")).to_have_text("Refused: nothing imported")
    expect(page.locator("#import-count")).to_have_text("5 of 5 rows checked")
    expect(page.locator("#import-outcome")).to_contain_text("Nothing was imported")
    report = page.locator("#import-report tbody tr")
    expect(report).to_have_count(2)
    expect(report.nth(0)).to_contain_text("5")
    expect(report.nth(0)).to_contain_text("account")
    expect(report.nth(0)).to_contain_text("@pia_blg is not one of your X accounts (yours: @pia_blog).")
    expect(report.nth(1)).to_contain_text("scheduled_at")
    expect(report.nth(1)).to_contain_text("“tomorrow at nine” is not a date and time in ISO 8601")
    assert not Post.objects.exists()
    shot = SCREENSHOT if os.environ.get("SCREENSHOTS") == "1" else tmp_path / SCREENSHOT.name
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot), full_page=True)

    rows[3][0] = "@pia_blog"
    rows[4][2] = f"{YEAR}-03-05T09:00:00+01:00"
    good = tmp_path / "march-fixed.csv"
    good.write_bytes(csv_bytes(rows))
    page.click("text=Import another file")
    page.set_input_files("#id_file", str(good))
    page.click("input[name=_import]")
    expect(page.locator("#import-status")).to_have_text("Imported")
    expect(page.locator("#import-outcome")).to_contain_text("Imported 5 posts.")
    expect(page.locator("#import-report")).to_be_hidden()
    assert Post.objects.filter(parent__isnull=True, status=Post.Status.SCHEDULED).count() == 4
    assert list(ImportJob.objects.order_by("pk").values_list("status", flat=True)) == ["refused", "done"]
    page.click("#import-outcome a")
    expect(page.locator("#result_list tbody tr")).to_have_count(4)
