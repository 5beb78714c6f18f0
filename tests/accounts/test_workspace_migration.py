"""The move from per-person data to workspaces, tested on a database with data
in every table: the migrations run back to before workspaces, the tables are
filled as the platform had them, and the migrations run forward again."""

from __future__ import annotations

import importlib
from datetime import time, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("accounts", "0003_xaccount_rate_limited_until"), ("bots", "0005_importjob_progressed_at")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state(targets).apps


def fill(apps, username: str, *, staff: bool, accounts: int, zone: str = "Europe/Paris") -> dict:
    """A person as the platform had them: their accounts with posts (a thread
    with media), a bot with items and a run, slots, a budget and an import."""
    User = apps.get_model("accounts", "User")
    XAccount = apps.get_model("accounts", "XAccount")
    LinkAttempt = apps.get_model("accounts", "LinkAttempt")
    Post = apps.get_model("bots", "Post")
    PostMedia = apps.get_model("bots", "PostMedia")
    Bot = apps.get_model("bots", "Bot")
    BotItem = apps.get_model("bots", "BotItem")
    BotRun = apps.get_model("bots", "BotRun")
    PostingSlot = apps.get_model("bots", "PostingSlot")
    AccountBudget = apps.get_model("bots", "AccountBudget")
    ImportJob = apps.get_model("bots", "ImportJob")
    now = timezone.now()
    person = User.objects.create(username=username, is_staff=staff, timezone=zone)
    LinkAttempt.objects.create(user=person, method="oauth2", expires_at=now + timedelta(minutes=10))
    made = []
    for n in range(accounts):
        account = XAccount.objects.create(owner=person, x_user_id=f"{username}-{n}", username=f"{username}_{n}",
                                          auth_method="oauth2")
        root = Post.objects.create(account=account, text=f"{username} {n}", status="published",
                                   scheduled_at=now, x_post_id=f"{username}{n}")
        Post.objects.create(account=account, parent=root, position=1, text="part", status="published",
                            scheduled_at=now)
        PostMedia.objects.create(post=root, file="media/a.png", content_type="image/png", size=10)
        Post.objects.create(account=account, text=f"{username} later {n}", status="scheduled",
                            scheduled_at=now + timedelta(days=1))
        bot = Bot.objects.create(account=account, name=f"{username} bot {n}", cron="0 9 * * *", timezone="UTC")
        BotItem.objects.create(bot=bot, text="tip", position=0)
        BotRun.objects.create(bot=bot, slot=now, outcome="posted", post=root)
        PostingSlot.objects.create(account=account, weekday=0, time=time(9))
        AccountBudget.objects.create(account=account, monthly_budget_usd=Decimal("10.00"))
        made.append(account.pk)
    ImportJob.objects.create(created_by=person, time_zone="UTC", file_name="posts.csv", file="imports/a.csv")
    return {"person": person.pk, "accounts": made}


@pytest.mark.django_db(transaction=True)
def test_each_person_moves_into_a_personal_workspace_with_all_they_had():
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    old = migrate(BEFORE)
    ada = fill(old, "ada", staff=True, accounts=2)
    ben = fill(old, "ben", staff=False, accounts=1, zone="America/Chicago")
    cleo = fill(old, "cleo", staff=True, accounts=0)
    old.get_model("accounts", "User").objects.create(username="dora", is_staff=False)
    counts_before = {name: old.get_model(app, name).objects.count() for app, name in (
        ("bots", "Post"), ("bots", "PostMedia"), ("bots", "Bot"), ("bots", "BotItem"), ("bots", "BotRun"),
        ("bots", "PostingSlot"), ("bots", "AccountBudget"), ("bots", "ImportJob"), ("accounts", "XAccount"),
        ("accounts", "LinkAttempt"))}

    new = migrate(latest)

    User = new.get_model("accounts", "User")
    Membership = new.get_model("accounts", "Membership")
    XAccount = new.get_model("accounts", "XAccount")
    ImportJob = new.get_model("bots", "ImportJob")
    assert {name: new.get_model(app, name).objects.count() for app, name in (
        ("bots", "Post"), ("bots", "PostMedia"), ("bots", "Bot"), ("bots", "BotItem"), ("bots", "BotRun"),
        ("bots", "PostingSlot"), ("bots", "AccountBudget"), ("bots", "ImportJob"), ("accounts", "XAccount"),
        ("accounts", "LinkAttempt"))} == counts_before
    for who in (ada, ben, cleo):
        person = User.objects.get(pk=who["person"])
        (membership,) = Membership.objects.filter(user=person)
        assert membership.role == "owner"
        assert membership.workspace.name == f"{person.username}'s workspace"
        # Its slots and budgets keep the zone they were counted in: the owner's.
        assert str(membership.workspace.time_zone) == str(person.timezone)
        assert person.workspace_id == membership.workspace_id
        assert set(XAccount.objects.filter(workspace=membership.workspace).values_list("pk", flat=True)) == set(
            who["accounts"])
        assert list(ImportJob.objects.filter(created_by=person).values_list("workspace_id", flat=True)) == [
            membership.workspace_id]
    # Nobody else reaches anyone's accounts; a person with nothing and no staff rights gets nothing.
    assert Membership.objects.count() == 3
    assert not Membership.objects.filter(user__username="dora").exists()

    # Run again (after an interruption, say): nobody gets a second workspace.
    rerun = importlib.import_module("accounts.migrations.0005_personal_workspaces").personal_workspaces
    rerun(new, connection.schema_editor())
    assert Membership.objects.count() == 3
