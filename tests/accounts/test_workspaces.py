"""Workspaces through the admin, as their people use them: inviting and
joining, switching, what each role may do, leaving, and the audit trail."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.utils import timezone

from accounts import workspaces
from accounts.models import AuditEvent, Invitation, Membership, Workspace, XAccount
from bots.models import AccountBudget, Bot, BotRun, Post
from bots.planning import costs
from bots.recurring import services as recurring

pytestmark = pytest.mark.django_db

Role = Membership.Role


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def text(response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


@pytest.fixture
def team(django_user_model):
    """The Newsroom: Olga owns it, Ada is an admin, Ed an editor, Vic a viewer;
    one account with one post. Each person also has their personal workspace."""
    people = {name: django_user_model.objects.create_user(name, f"{name}@example.com", "pw", is_staff=True)
              for name in ("olga", "ada", "ed", "vic")}
    newsroom = workspaces.workspace_create(name="Newsroom", by=people["olga"])
    for name, role in (("ada", Role.ADMIN), ("ed", Role.EDITOR), ("vic", Role.VIEWER)):
        Membership.objects.create(workspace=newsroom, user=people[name], role=role)
        people[name].workspace = newsroom
        people[name].save(update_fields=["workspace"])
    account = XAccount.objects.create(owner=people["olga"], workspace=newsroom, x_user_id="7001",
                                      username="newsroom", auth_method="oauth2")
    post = Post.objects.create(account=account, text="Tonight's headlines", status=Post.Status.DRAFT)
    return {**people, "newsroom": newsroom, "account": account, "post": post}


def test_an_owner_invites_by_username_and_the_person_joins_with_the_role(team, django_user_model):
    zoe = django_user_model.objects.create_user("zoe", "zoe@example.com", "pw")
    owner = client_of(team["olga"])

    response = owner.post("/admin/accounts/invitation/add/", {"invitee": "zoe", "role": "editor"}, follow=True)

    invitation = Invitation.objects.get(invitee="zoe")
    link = f"/accounts/invitations/{invitation.token}/"
    assert link in text(response)
    joining = client_of(zoe)
    assert "invites you to the workspace Newsroom as editor" in text(joining.get(link))
    response = joining.post(link, follow=True)
    assert "You joined Newsroom as editor." in text(response)
    zoe.refresh_from_db()
    assert Membership.objects.get(workspace=team["newsroom"], user=zoe).role == Role.EDITOR
    assert zoe.workspace == team["newsroom"] and zoe.is_staff
    # The team's post is now on Zoe's post list.
    assert "Tonight's headlines" in text(joining.get("/admin/bots/post/"))
    assert list(AuditEvent.objects.filter(workspace=team["newsroom"]).values_list("action", flat=True)[:2]) == [
        AuditEvent.Action.JOINED, AuditEvent.Action.INVITED]
    # The link is used up.
    assert "was accepted already" in text(joining.get(link))


def test_an_invitation_by_e_mail_is_mailed_and_only_its_person_may_accept_it(team, django_user_model):
    stranger = django_user_model.objects.create_user("mallory", "mallory@example.com", "pw")
    client_of(team["olga"]).post("/admin/accounts/invitation/add/", {"invitee": "kim@example.com", "role": "viewer"})

    (message,) = mail.outbox
    assert message.to == ["kim@example.com"]
    invitation = Invitation.objects.get(invitee="kim@example.com")
    assert f"/accounts/invitations/{invitation.token}/" in message.body
    response = client_of(stranger).post(f"/accounts/invitations/{invitation.token}/")
    assert response.status_code == 403
    assert "This invitation is for someone else, and you are signed in as mallory" in text(response)
    assert "kim@example.com" not in text(response)
    assert not Membership.objects.filter(user=stranger, workspace=team["newsroom"]).exists()


def test_invitations_that_cannot_be_are_refused_in_words(team):
    owner = client_of(team["olga"])
    cases = {
        "nobody_here": "There is no person with the username “nobody_here”",
        "not an@address": "is not an e-mail address",
        "ed": "ed is already a member of Newsroom.",
    }
    for invitee, words in cases.items():
        response = owner.post("/admin/accounts/invitation/add/", {"invitee": invitee, "role": "editor"})
        assert words in text(response), invitee
    assert not Invitation.objects.exists()


def test_an_expired_invitation_says_so(team, django_user_model):
    zoe = django_user_model.objects.create_user("zoe", "zoe@example.com", "pw")
    invitation = Invitation.objects.create(workspace=team["newsroom"], invitee="zoe", role=Role.EDITOR,
                                           expires_at=timezone.now() - timedelta(minutes=1))
    response = client_of(zoe).post(f"/accounts/invitations/{invitation.token}/")
    assert "has expired: ask an owner for a new one" in text(response)
    assert not Membership.objects.filter(user=zoe, workspace=team["newsroom"]).exists()


def test_only_owners_invite_and_change_members(team):
    for name in ("ada", "ed", "vic"):
        response = client_of(team[name]).post("/admin/accounts/invitation/add/", {"invitee": "olga", "role": "owner"})
        assert response.status_code == 403, name
    ada = Membership.objects.get(user=team["ada"], workspace=team["newsroom"])
    response = client_of(team["ada"]).get(f"/admin/accounts/workspace/{team['newsroom'].pk}/change/")
    assert "Change workspace" not in text(response)
    assert not Invitation.objects.exists()
    assert Membership.objects.get(pk=ada.pk).role == Role.ADMIN


def test_the_switcher_shows_one_workspace_at_a_time_and_remembers_it(team):
    ed = client_of(team["ed"])
    assert "Tonight's headlines" in text(ed.get("/admin/bots/post/"))
    personal = Workspace.objects.get(memberships__user=team["ed"], memberships__role=Role.OWNER)

    response = ed.post("/accounts/workspace/switch/", {"workspace": personal.pk, "next": "/admin/bots/post/"},
                       follow=True)

    assert f"You are in {personal.name}." in text(response)
    assert "Tonight's headlines" not in text(response)
    team["ed"].refresh_from_db()
    assert team["ed"].workspace == personal
    # A workspace that is not theirs cannot be chosen.
    other = Workspace.objects.get(memberships__user=team["vic"], memberships__role=Role.OWNER)
    response = ed.post("/accounts/workspace/switch/", {"workspace": other.pk}, follow=True)
    assert "There is no such workspace among yours." in text(response)
    team["ed"].refresh_from_db()
    assert team["ed"].workspace == personal


def test_roles_decide_what_each_person_may_do(team):
    post = team["post"]
    change = f"/admin/bots/post/{post.pk}/change/"
    # A viewer reads, and may not write.
    vic = client_of(team["vic"])
    assert vic.get(change).status_code == 200
    assert vic.get("/admin/bots/post/add/").status_code == 403
    assert vic.post(change, {"text": "Changed by a viewer"}).status_code == 403
    # An editor may write posts, and may not link accounts or set budgets.
    ed = client_of(team["ed"])
    assert ed.get("/admin/bots/post/add/").status_code == 200
    response = ed.post("/accounts/x/link/oauth2/", follow=True)
    assert "Only an admin or owner of Newsroom can link X accounts to it." in text(response)
    assert ed.get("/admin/bots/accountbudget/add/").status_code == 403
    # An admin may not set budgets either; the owner may.
    assert client_of(team["ada"]).get("/admin/bots/accountbudget/add/").status_code == 403
    assert client_of(team["olga"]).get("/admin/bots/accountbudget/add/").status_code == 200
    post.refresh_from_db()
    assert post.text == "Tonight's headlines"


def test_someone_removed_loses_the_workspace_at_once_and_its_posts_go_on(team):
    ed = client_of(team["ed"])
    change = f"/admin/bots/post/{team['post'].pk}/change/"
    assert ed.get(change).status_code == 200
    membership = Membership.objects.get(user=team["ed"], workspace=team["newsroom"])

    response = client_of(team["olga"]).post(f"/admin/accounts/workspace/{team['newsroom'].pk}/change/", {
        "name": "Newsroom", "time_zone": "UTC", "memberships-TOTAL_FORMS": "4", "memberships-INITIAL_FORMS": "4",
        "memberships-MIN_NUM_FORMS": "0", "memberships-MAX_NUM_FORMS": "1000",
        **{f"memberships-{i}-id": str(m.pk) for i, m in enumerate(team["newsroom"].memberships.order_by(
            "user__username"))},
        **{f"memberships-{i}-role": m.role for i, m in enumerate(team["newsroom"].memberships.order_by(
            "user__username"))},
        **{f"memberships-{i}-workspace": str(team["newsroom"].pk) for i in range(4)},
        f"memberships-{list(team['newsroom'].memberships.order_by('user__username')).index(membership)}-DELETE": "on",
    }, follow=True)

    assert response.status_code == 200
    assert not Membership.objects.filter(pk=membership.pk).exists()
    # The very next request of Ed's is refused; the post is still there.
    assert ed.get(change).status_code in (302, 403, 404)
    assert "Tonight's headlines" not in text(ed.get("/admin/bots/post/"))
    assert Post.objects.filter(pk=team["post"].pk).exists()
    event = AuditEvent.objects.filter(action=AuditEvent.Action.MEMBER_REMOVED).get()
    assert event.actor == team["olga"] and event.detail == "ed"


def test_a_deactivated_person_is_signed_out_at_once(team):
    ed = client_of(team["ed"])
    team["ed"].is_active = False
    team["ed"].save(update_fields=["is_active"])
    response = ed.get(f"/admin/bots/post/{team['post'].pk}/change/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_last_owner_can_be_neither_removed_nor_demoted(team):
    owner_membership = Membership.objects.get(user=team["olga"], workspace=team["newsroom"])
    for attempt in (lambda: workspaces.member_role_change(membership=owner_membership, role=Role.EDITOR,
                                                          by=team["olga"]),
                    lambda: workspaces.member_remove(membership=owner_membership, by=team["olga"])):
        with pytest.raises(workspaces.WorkspaceError, match="is the only owner of Newsroom: make someone else"):
            attempt()
    assert Membership.objects.get(pk=owner_membership.pk).role == Role.OWNER


def test_owners_and_admins_read_the_audit_trail_and_editors_do_not(team):
    workspaces.member_role_change(membership=Membership.objects.get(user=team["vic"], workspace=team["newsroom"]),
                                  role=Role.EDITOR,
                                  by=team["olga"])
    for name in ("olga", "ada"):
        page = text(client_of(team[name]).get("/admin/accounts/auditevent/"))
        assert "vic: Viewer → Editor" in page, name
    assert client_of(team["ed"]).get("/admin/accounts/auditevent/").status_code == 403
    # Filtered by what was done.
    page = text(client_of(team["olga"]).get("/admin/accounts/auditevent/", {"action__exact": "invited"}))
    assert "vic: Viewer → Editor" not in page


def test_a_workspace_that_asks_for_two_factor_sends_its_members_to_set_it_up(team):
    team["newsroom"].two_factor_required = True
    team["newsroom"].save(update_fields=["two_factor_required"])
    response = client_of(team["ed"]).get("/admin/bots/post/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/two-factor/")


def test_members_who_may_not_set_budgets_read_them(team):
    budget = AccountBudget.objects.create(account=team["account"], monthly_budget_usd=Decimal("25.00"))
    page = f"/admin/bots/accountbudget/{budget.pk}/change/"
    for name in ("ada", "ed", "vic"):
        response = client_of(team[name]).get(page)
        assert response.status_code == 200, name
        assert "$25.00" in text(response) and 'name="monthly_budget_usd"' not in response.content.decode()
        assert client_of(team[name]).post(page, {"monthly_budget_usd": "1"}).status_code == 403
    budget.refresh_from_db()
    assert budget.monthly_budget_usd == Decimal("25.00")


def test_an_action_not_offered_or_on_rows_not_listed_is_refused_in_words(team, django_user_model):
    mine = team["post"]
    elsewhere = workspaces.workspace_create(name="Elsewhere", by=django_user_model.objects.create_user("zed"))
    other_account = XAccount.objects.create(owner=team["olga"], workspace=elsewhere, x_user_id="7002",
                                            username="elsewhere", auth_method="oauth2")
    theirs = Post.objects.create(account=other_account, text="Not Ed's to touch", status=Post.Status.DRAFT)
    before = sorted(Post.objects.values_list("pk", "status"))

    def act(person, action, *posts, url="/admin/bots/post/"):
        response = client_of(team[person]).post(url, {"action": action, "_selected_action": [p.pk for p in posts],
                                                      "index": 0}, follow=True)
        assert response.status_code == 200
        return text(response)

    # An editor does not approve; the action is not hers to take.
    assert ("Only an admin or owner of the workspace can approve or reject posts. Nothing was done."
            in act("ed", "approve", mine))
    assert "There is no action “explode” on posts. Nothing was done." in act("ed", "explode", mine)
    # A post of another workspace, selected by hand beside one of hers: only hers is acted on, and it says so.
    said = act("ed", "cancel", mine, theirs)
    assert ("1 of the 2 selected posts are not among those listed here (deleted, or not yours to see): nothing "
            "was done to them.") in said
    assert Post.objects.get(pk=mine.pk).status == Post.Status.CANCELLED
    assert Post.objects.get(pk=theirs.pk).status == Post.Status.DRAFT
    # Only the other workspace's: nothing runs at all.
    assert "1 of the 1 selected posts are not among those listed here" in act("ada", "cancel", theirs)
    # Editors and viewers do not run, enable or disable bots: only admins and owners.
    bot = recurring.bot_create(account=team["account"], name="Headlines", source="template", template="News {n}",
                               schedule_kind="interval", interval_every=1, interval_unit="hours", enabled=False)
    for person in ("ed", "vic"):
        for action in ("run_now", "enable_bots", "disable_bots"):
            assert ("Only an admin or owner of the workspace can change its X accounts, bots and queues. Nothing "
                    "was done.") in act(person, action, bot, url="/admin/bots/bot/")
    assert not BotRun.objects.exists() and not Bot.objects.get(pk=bot.pk).enabled
    after = dict(Post.objects.values_list("pk", "status"))
    assert {pk: status for pk, status in before if pk != mine.pk} == {
        pk: status for pk, status in after.items() if pk != mine.pk}


def test_the_workspaces_time_zone_is_set_on_its_page_and_recorded(team):
    owner = client_of(team["olga"])
    page = f"/admin/accounts/workspace/{team['newsroom'].pk}/change/"
    form = {"name": "Newsroom", "time_zone": "Asia/Tokyo", "approval_required": "", "two_factor_required": "",
            "memberships-TOTAL_FORMS": 0, "memberships-INITIAL_FORMS": 0}

    response = owner.post(page, form, follow=True)

    assert response.status_code == 200, text(response)[:2000]
    team["newsroom"].refresh_from_db()
    assert str(team["newsroom"].time_zone) == "Asia/Tokyo"
    event = AuditEvent.objects.filter(action=AuditEvent.Action.SETTINGS).first()
    assert event is not None and "time zone → Asia/Tokyo" in event.detail


def test_a_viewer_reads_a_bots_page(team):
    bot = recurring.bot_create(account=team["account"], name="Headlines", source="template", template="News {n}",
                               schedule_kind="interval", interval_every=1, interval_unit="hours")

    page = client_of(team["vic"]).get(f"/admin/bots/bot/{bot.pk}/change/")

    assert page.status_code == 200
    assert "Headlines" in text(page) and 'name="name"' not in page.content.decode()


def test_the_audit_trail_records_budgets_and_bots(team):
    owner, admin_ = client_of(team["olga"]), client_of(team["ada"])
    saved = owner.post("/admin/bots/accountbudget/add/", {"account": team["account"].pk,
                                                          "monthly_budget_usd": "12.50"}, follow=True)
    assert saved.status_code == 200 and AccountBudget.objects.get().monthly_budget_usd == Decimal("12.50")
    bot = recurring.bot_create(account=team["account"], name="Headlines", source="template", template="News {n}",
                               schedule_kind="interval", interval_every=1, interval_unit="hours", by=team["ada"])
    for action in ("disable_bots", "enable_bots", "run_now"):
        admin_.post("/admin/bots/bot/", {"action": action, "_selected_action": [bot.pk], "index": 0})
    admin_.post(f"/admin/bots/bot/{bot.pk}/delete/", {"post": "yes"})

    trail = [(e.actor_name, e.action, e.object_repr, e.detail) for e in AuditEvent.objects.filter(
        workspace=team["newsroom"], object_type__in=["monthly budget", "bot"]).order_by("pk")]
    assert not Bot.objects.exists()
    assert trail[0] == ("olga", AuditEvent.Action.BUDGET, "@newsroom: $12.50", "$12.50 a month")
    assert [row[:3] for row in trail[1:]] == [
        ("ada", AuditEvent.Action.CREATED, "Headlines"), ("ada", AuditEvent.Action.CHANGED, "Headlines"),
        ("ada", AuditEvent.Action.CHANGED, "Headlines"), ("ada", AuditEvent.Action.RAN_NOW, "Headlines"),
        ("ada", AuditEvent.Action.DELETED, "Headlines")]
    assert [row[3] for row in trail[2:4]] == ["disabled", "enabled"]
    assert "hour" in trail[1][3]
    # The services ask the policy too: an editor sets no budget and changes no bot.
    with pytest.raises(PermissionDenied):
        costs.budget_set(account=team["account"], amount="1", by=team["ed"])
    assert AccountBudget.objects.get().monthly_budget_usd == Decimal("12.50")
