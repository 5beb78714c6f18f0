"""Indexes for the post list filtered by status and for each account's queue,
built CONCURRENTLY on PostgreSQL so posting goes on while they build."""

from django.db import migrations, models

from botplatform.migration_operations import AddIndexConcurrently


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("bots", "0009_post_text_trigram"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="post",
            index=models.Index(fields=["status", "scheduled_at"], name="post_status_scheduled_idx"),
        ),
        AddIndexConcurrently(
            model_name="post",
            index=models.Index(condition=models.Q(("parent__isnull", True), ("status", "scheduled")),
                               fields=["account", "scheduled_at"], name="post_account_queue_idx"),
        ),
    ]
