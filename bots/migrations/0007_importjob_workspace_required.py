# Every import has a workspace once 0006 has run. The table holds one row per
# uploaded file, so the check SET NOT NULL makes is short.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("bots", "0006_importjob_workspace"),
    ]

    operations = [
        migrations.AlterField(
            model_name="importjob",
            name="workspace",
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+",
                                    to="accounts.workspace"),
        ),
    ]
