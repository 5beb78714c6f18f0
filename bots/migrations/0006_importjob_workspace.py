# A nullable column without a default (a change of the catalogue only on
# PostgreSQL), its index built concurrently, then filled in batches.

import django.db.models.deletion
from django.db import migrations, models

from botplatform.migration_operations import AddForeignKeyIndex

BATCH = 1000


def field(**options):
    return models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name="+",
                             to="accounts.workspace", **options)


def into_personal_workspaces(apps, schema_editor):
    """Each import goes to the workspace its author owns (accounts 0005 made
    one for everyone who could import), a thousand rows at a time."""
    ImportJob = apps.get_model("bots", "ImportJob")
    Membership = apps.get_model("accounts", "Membership")
    Workspace = apps.get_model("accounts", "Workspace")
    User = apps.get_model("accounts", "User")
    owned = dict(Membership.objects.filter(role="owner").order_by("-pk").values_list("user_id", "workspace_id"))
    # An author who is no longer staff and links no account got none in
    # accounts 0005: they get theirs now, as they would have then.
    for author in User.objects.filter(pk__in=ImportJob.objects.values("created_by_id")).exclude(pk__in=list(owned)):
        workspace = Workspace.objects.create(name=f"{author.username}'s workspace")
        Membership.objects.create(workspace=workspace, user=author, role="owner")
        User.objects.filter(pk=author.pk, workspace__isnull=True).update(workspace=workspace)
        owned[author.pk] = workspace.pk
    last = 0
    while True:
        batch = list(ImportJob.objects.filter(pk__gt=last, workspace__isnull=True).order_by("pk")
                     .values_list("pk", "created_by_id")[:BATCH])
        if not batch:
            return
        for user_id in {user_id for _, user_id in batch}:
            ImportJob.objects.filter(pk__in=[pk for pk, author in batch if author == user_id]).update(
                workspace_id=owned.get(user_id))
        last = batch[-1][0]


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("accounts", "0005_personal_workspaces"),
        ("bots", "0005_importjob_progressed_at"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AddField(model_name="importjob", name="workspace", field=field())],
            database_operations=[
                migrations.AddField(model_name="importjob", name="workspace", field=field(db_index=False)),
                AddForeignKeyIndex(model_name="importjob", field_name="workspace"),
            ],
        ),
        migrations.RunPython(into_personal_workspaces, migrations.RunPython.noop, atomic=False),
    ]
