"""An index on when posts went out, for the calendar's period of published
posts, and a small one of the scheduled posts that carry a reason, for the
dashboard's posts held by a budget; built CONCURRENTLY on PostgreSQL so
posting goes on while they build."""

from django.db import migrations, models

from botplatform.migration_operations import AddIndexConcurrently


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("bots", "0010_post_list_indexes"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="post",
            index=models.Index(fields=["published_at"], name="post_published_idx"),
        ),
        AddIndexConcurrently(
            model_name="post",
            index=models.Index(condition=models.Q(("status", "scheduled"), models.Q(("last_error", ""), _negated=True)),
                               fields=["account"], name="post_waiting_reason_idx"),
        ),
    ]
