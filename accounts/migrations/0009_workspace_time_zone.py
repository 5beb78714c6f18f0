"""Workspaces get a time zone: their posting slots, budget months and
dashboard days were in the zone of the person who linked each account, so two
accounts of one workspace could count their months differently.

Adding the column with a constant default is a catalogue change on PostgreSQL
(no table rewrite). Each existing workspace then takes its first owner's zone,
the one its slots and budgets used until now, in batches of 500 workspaces,
each batch its own transaction on PostgreSQL."""

import timezone_field.fields
from django.db import migrations, transaction
from django.db.models import OuterRef, Subquery

import accounts.models

BATCH = 500


def owners_zones(apps, schema_editor):
    Workspace = apps.get_model("accounts", "Workspace")
    Membership = apps.get_model("accounts", "Membership")
    first_owner_zone = Membership.objects.filter(workspace=OuterRef("pk"), role="owner").order_by("pk").values(
        "user__timezone")[:1]
    last = 0
    while True:
        batch = list(Workspace.objects.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:BATCH])
        if not batch:
            return
        with transaction.atomic(using=schema_editor.connection.alias):
            for pk, zone in Workspace.objects.filter(pk__in=batch).annotate(
                    zone=Subquery(first_owner_zone)).values_list("pk", "zone"):
                if zone:
                    Workspace.objects.filter(pk=pk).update(time_zone=zone)
        last = batch[-1]


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("accounts", "0008_xaccount_disconnected"),
    ]

    operations = [
        migrations.AddField(
            model_name="workspace",
            name="time_zone",
            field=timezone_field.fields.TimeZoneField(
                choices_display="WITH_GMT_OFFSET", default=accounts.models.default_timezone,
                help_text="The zone of the workspace's posting slots and of its budgets' months."),
        ),
        migrations.RunPython(owners_zones, migrations.RunPython.noop, atomic=False),
    ]
