"""Each person who used the platform before workspaces (staff, or anyone with
a linked X account) gets a personal workspace that they own, and their X
accounts move into it. Everything else hangs from the accounts, so it moves
with them. Person by person, each in its own transaction on PostgreSQL, so no
lock is held for long; a person who already has a membership is left alone, so
the migration can be run again after an interruption."""

from django.db import migrations
from django.db.models import Q


def personal_workspaces(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    Workspace = apps.get_model("accounts", "Workspace")
    Membership = apps.get_model("accounts", "Membership")
    XAccount = apps.get_model("accounts", "XAccount")
    people = User.objects.filter(Q(is_staff=True) | Q(x_accounts__isnull=False)).distinct().order_by("pk")
    for person in people.iterator(chunk_size=500):
        if Membership.objects.filter(user=person).exists():
            continue
        workspace = Workspace.objects.create(name=f"{person.username}'s workspace")
        Membership.objects.create(workspace=workspace, user=person, role="owner")
        User.objects.filter(pk=person.pk).update(workspace=workspace)
        XAccount.objects.filter(owner=person, workspace__isnull=True).update(workspace=workspace)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("accounts", "0004_workspaces"),
    ]

    operations = [
        migrations.RunPython(personal_workspaces, migrations.RunPython.noop, atomic=False),
    ]
