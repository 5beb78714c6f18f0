"""Published posts per day, for the dashboard's chart and the calendar: each
published post's time, account and thread in one index, so that a period's
days are counted from the index alone. Built CONCURRENTLY on PostgreSQL so
posting goes on while it builds."""

from django.db import migrations, models

from botplatform.migration_operations import AddIndexConcurrently


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("bots", "0013_post_thread_list_idx"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="post",
            index=models.Index(condition=models.Q(("status", "published")), fields=["published_at"],
                               include=("account", "parent"), name="post_published_day_idx"),
        ),
    ]
