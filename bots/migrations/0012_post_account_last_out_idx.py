"""The dashboard's last published thread of each account through an index of
published threads only: a newest-first read of (account, published_at) met
the account's unpublished posts first (a NULL time sorts first) and read each.
Built CONCURRENTLY on PostgreSQL so posting goes on while it builds."""

from django.db import migrations, models

from botplatform.migration_operations import AddIndexConcurrently


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("bots", "0011_post_calendar_dashboard_indexes"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="post",
            index=models.Index(condition=models.Q(("parent__isnull", True), ("status", "published")),
                               fields=["account", "published_at"], name="post_account_last_out_idx"),
        ),
    ]
