from django.db import migrations, models


# A nullable column without a default: on PostgreSQL a change of the catalogue
# only, with no table rewrite and no long lock, whatever the table's size.
# Imports started before it have none; the sweeper then goes by created_at.


class Migration(migrations.Migration):

    dependencies = [
        ('bots', '0004_post_first_sent_at'),
    ]

    operations = [
        migrations.AddField(
            model_name='importjob',
            name='progressed_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
