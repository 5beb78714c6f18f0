"""The calendar's threads still to go out (or failed), by when they are due,
with their account and status: a period's days are counted from the index
alone. Built CONCURRENTLY on PostgreSQL so posting goes on while it builds."""

from django.db import migrations, models

from botplatform.migration_operations import AddIndexConcurrently


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("bots", "0014_post_published_day_idx"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="post",
            index=models.Index(
                condition=models.Q(("parent__isnull", True), ("status__in", (
                    "pending_approval", "scheduled", "claimed", "sending", "failed", "unknown"))),
                fields=["scheduled_at"], include=("account", "status"), name="post_waiting_thread_idx"),
        ),
    ]
