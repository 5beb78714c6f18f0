# Every account has a workspace once 0005 has run; the table holds one row per
# linked X account, so the check that SET NOT NULL makes is short.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0005_personal_workspaces"),
    ]

    operations = [
        migrations.AlterField(
            model_name="xaccount",
            name="workspace",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="x_accounts",
                                    to="accounts.workspace"),
        ),
    ]
