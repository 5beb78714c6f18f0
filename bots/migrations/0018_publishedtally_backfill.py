"""The tally of 0017 counted from the posts already published, a week of
history at a time, each week committed on its own: no transaction spans the
whole table, and no lock is held on the posts. The quarter of an hour the
migration runs in is left to the workers, which count each post as they
publish it once they run this code: what was published in that quarter
before is missing from its bar. Reversing leaves the rows to 0017's reversal,
which drops the table."""

from django.db import migrations
from django.utils import timezone

from bots.posting.tallies import recount


def backfill(apps, schema_editor):
    recount(now=timezone.now(), post_model=apps.get_model("bots", "Post"), tally_model=apps.get_model("bots", "PublishedTally"))


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("bots", "0017_publishedtally"),
    ]

    operations = [
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
