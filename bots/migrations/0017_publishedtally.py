"""Posts published per quarter of an hour and workspace, for the dashboard's
chart: a new, empty table (0018 fills it)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0011_xaccount_dispatch_indexes'),
        ('bots', '0016_post_status_list_idx'),
    ]

    operations = [
        migrations.CreateModel(
            name='PublishedTally',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('period_start', models.DateTimeField()),
                ('posts', models.PositiveIntegerField(default=0)),
                ('workspace', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.workspace')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('workspace', 'period_start'), name='publishedtally_once_per_quarter')],
            },
        ),
    ]
