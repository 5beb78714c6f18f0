# Three columns, each a change of the catalogue only on PostgreSQL (11 and
# later), whatever the table's size: a text with a constant default, and two
# nullable ones without a default; the reviewer has no foreign-key constraint
# or index, either of which would scan or lock the table. The status gains a
# choice, which changes nothing in the database.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('bots', '0007_importjob_workspace_required'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='post',
            name='review_note',
            field=models.TextField(blank=True, default='', verbose_name='reason for rejection'),
        ),
        migrations.AddField(
            model_name='post',
            name='reviewed_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='post',
            name='reviewed_by',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AlterField(
            model_name='post',
            name='status',
            field=models.CharField(choices=[('draft', 'Draft'), ('pending_approval', 'Pending approval'), ('scheduled', 'Scheduled'), ('claimed', 'Claimed'), ('sending', 'Sending'), ('published', 'Published'), ('failed', 'Failed'), ('unknown', 'Checking on X'), ('cancelled', 'Cancelled')], default='draft', max_length=16),
        ),
    ]
