"""Two small partial indexes for the dispatcher: the accounts that may not post
now (not active, or paused by a rate limit). Built CONCURRENTLY on PostgreSQL,
so linking and posting go on while they build."""

from django.db import migrations, models

from botplatform.migration_operations import AddIndexConcurrently


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("accounts", "0010_audit_ran_now"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="xaccount",
            index=models.Index(condition=models.Q(("status", "active"), _negated=True), fields=["status"],
                               name="xaccount_not_active_idx"),
        ),
        AddIndexConcurrently(
            model_name="xaccount",
            index=models.Index(condition=models.Q(("rate_limited_until__isnull", False)), fields=["rate_limited_until"],
                               name="xaccount_rate_limited_idx"),
        ),
    ]
