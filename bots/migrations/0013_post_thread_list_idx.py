"""The post list's deep pages: each thread's time, id and account in one
index, newest first, so that a page's ids are read from the index alone.
Built CONCURRENTLY on PostgreSQL so posting goes on while it builds."""

from django.db import migrations, models

from botplatform.migration_operations import AddIndexConcurrently


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("bots", "0012_post_account_last_out_idx"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="post",
            index=models.Index(condition=models.Q(("parent__isnull", True)), fields=["-scheduled_at", "-id"],
                               include=("account",), name="post_thread_list_idx"),
        ),
    ]
