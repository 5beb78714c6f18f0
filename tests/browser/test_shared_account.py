"""Two people of one workspace share an X account, in real browsers: the
editor writes and schedules a post, which waits for approval; the admin
approves it; the real worker and beat publish it to the sandbox; the audit
trail shows both.

With SCREENSHOTS=1 in the environment the test also refreshes the README's
screenshots in docs/screenshots/ (the workspace switcher with a post waiting
for approval, the approver's list, the audit trail, the workspace's members
and the two-factor setup page); otherwise they go to a temporary directory,
so a test run leaves the work tree as it was.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from accounts import workspaces
from accounts.models import AuditEvent, Membership
from bots.models import Post
from tests.bots.conftest import fast_publishing, pipeline  # noqa: F401  (fixtures this test uses)
from tests.bots.conftest import link_with_minted_tokens, published, sandbox_posts
from tests.browser.conftest import _page_in, log_in

pytestmark = pytest.mark.django_db(transaction=True)

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def shot(page, name: str, tmp_path: Path) -> None:
    folder = SCREENSHOTS if os.environ.get("SCREENSHOTS") == "1" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / name), full_page=True)


def test_an_editor_schedules_an_admin_approves_and_the_post_goes_out(browser, live_server, pipeline, sandbox,
                                                                      tmp_path):
    people = {name: get_user_model().objects.create_user(name, f"{name}@example.com", "correct horse",
                                                         is_staff=True, timezone="Europe/Paris")
              for name in ("olga", "ada", "ed")}
    newsroom = workspaces.workspace_create(name="Newsroom", by=people["olga"])
    newsroom.approval_required = True
    newsroom.save(update_fields=["approval_required"])
    for name, role in (("ada", Membership.Role.ADMIN), ("ed", Membership.Role.EDITOR)):
        Membership.objects.create(workspace=newsroom, user=people[name], role=role)
    account = link_with_minted_tokens(sandbox, people["olga"], "newsroom_bot")
    assert account.workspace == newsroom

    # Ed, the editor, switches to the Newsroom and schedules a post, to go out
    # as soon as it is approved (no time given).
    ed_context, ed = _page_in(browser, "Europe/Paris", viewport={"width": 1400, "height": 1000})
    log_in(ed, live_server, "ed")
    ed.select_option("#workspace-choice", label="Newsroom")
    expect(ed.locator(".messagelist")).to_contain_text("You are in Newsroom.")
    ed.goto(f"{live_server.url}/admin/bots/post/add/")
    ed.select_option("#id_account", str(account.pk))
    ed.locator("#id_text").press_sequentially("Tonight at eight: the council votes on the new bridge.")
    ed.click("input[name=_save]")
    ed.wait_for_url(f"{live_server.url}/admin/bots/post/")
    row = ed.locator("#result_list tbody tr", has_text="council votes")
    expect(row.locator(".post-status")).to_contain_text("Pending approval")
    post = Post.objects.get(text__startswith="Tonight at eight")
    assert post.status == Post.Status.PENDING_APPROVAL
    # The editor cannot approve: the list offers no such action.
    expect(ed.locator("select[name=action] option[value=approve]")).to_have_count(0)
    shot(ed, "workspace-pending-approval.png", tmp_path)
    ed_context.close()

    # Ada, the admin, approves it from the post list.
    ada_context, ada = _page_in(browser, "Europe/Paris", viewport={"width": 1400, "height": 1000})
    log_in(ada, live_server, "ada")
    ada.select_option("#workspace-choice", label="Newsroom")
    expect(ada.locator(".messagelist")).to_contain_text("You are in Newsroom.")
    ada.goto(f"{live_server.url}/admin/bots/post/")
    row = ada.locator("#result_list tbody tr", has_text="council votes")
    row.locator("input.action-select").check()
    ada.select_option("select[name=action]", "approve")
    shot(ada, "workspace-approve.png", tmp_path)
    ada.click("button[name=index]")
    expect(ada.locator(".messagelist")).to_contain_text("is approved, and scheduled for")
    post.refresh_from_db()
    assert post.status in (Post.Status.SCHEDULED, Post.Status.CLAIMED, Post.Status.SENDING, Post.Status.PUBLISHED)

    # The worker publishes it at its time, once.
    post = published(post, seconds=60)
    (on_x,) = sandbox_posts(sandbox, username="newsroom_bot")
    assert on_x["text"] == "Tonight at eight: the council votes on the new bridge."

    # The audit trail shows who wrote it and who approved it.
    ada.goto(f"{live_server.url}/admin/accounts/auditevent/")
    trail = ada.locator("#result_list")
    expect(trail).to_contain_text("ed")
    expect(trail.locator("tr", has_text="ada")).to_contain_text("approved")
    actions = set(AuditEvent.objects.filter(workspace=newsroom, object_id=str(post.pk)).values_list(
        "actor_name", "action"))
    assert ("ed", AuditEvent.Action.SUBMITTED) in actions
    assert ("ada", AuditEvent.Action.APPROVED) in actions
    shot(ada, "workspace-audit-trail.png", tmp_path)
    ada_context.close()

    # The owner's view of the workspace: its members and settings.
    olga_context, olga = _page_in(browser, "Europe/Paris", viewport={"width": 1400, "height": 1000})
    log_in(olga, live_server, "olga")
    olga.goto(f"{live_server.url}/admin/accounts/workspace/{newsroom.pk}/change/")
    expect(olga.locator("#memberships-group")).to_contain_text("ada")
    shot(olga, "workspace-members.png", tmp_path)
    olga.goto(f"{live_server.url}/admin/two-factor/")
    shot(olga, "two-factor-setup.png", tmp_path)
    olga_context.close()
