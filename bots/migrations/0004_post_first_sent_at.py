from django.db import migrations, models


# A nullable column without a default: on PostgreSQL a change of the catalogue
# only, with no table rewrite and no long lock, whatever the table's size. Posts
# sent before it have none; the reconciler then starts from sending_since.


class Migration(migrations.Migration):

    dependencies = [
        ('bots', '0003_planning_budgets_imports'),
    ]

    operations = [
        migrations.AddField(
            model_name='post',
            name='first_sent_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
