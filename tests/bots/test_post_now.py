"""``manage.py post_now --account @name "text"``: a quick manual post through
the same pipeline, printing the URL or the reason."""

from __future__ import annotations

import io

import pytest
import requests
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from accounts.models import Membership
from bots.models import Post

from .conftest import link_with_minted_tokens, sandbox_posts


def post_now(*args: str) -> str:
    out = io.StringIO()
    call_command("post_now", *args, stdout=out)
    return out.getvalue()


def test_post_now_publishes_and_prints_the_url(sandbox, owner, fast_publishing):
    link_with_minted_tokens(sandbox, owner, "alice_bot")

    output = post_now("--account", "@alice_bot", "Hello by hand")

    (on_x,) = sandbox_posts(sandbox, username="alice_bot")
    # The post's page on the X in use, the sandbox; the stored URL is X's.
    assert output.strip() == f"Published: {sandbox}/alice_bot/status/{on_x['id']}"
    post = Post.objects.get()
    assert (post.status, post.x_post_url) == (Post.Status.PUBLISHED, f"https://x.com/alice_bot/status/{on_x['id']}")


def test_an_unknown_account_names_the_linked_ones(sandbox, owner):
    link_with_minted_tokens(sandbox, owner, "alice_bot")

    with pytest.raises(CommandError, match=r"No linked X account @nobody\. Linked accounts: @alice_bot\."):
        post_now("--account", "@nobody", "Hello")
    assert not Post.objects.exists()


def test_text_over_the_limit_is_refused_before_anything_is_stored(sandbox, owner):
    link_with_minted_tokens(sandbox, owner, "alice_bot")

    with pytest.raises(CommandError, match="the limit is 280"):
        post_now("--account", "@alice_bot", "x" * 281)
    assert not Post.objects.exists()


def test_a_refusal_by_x_is_printed_in_words(sandbox, owner, fast_publishing):
    account = link_with_minted_tokens(sandbox, owner, "alice_bot")
    requests.post(f"{sandbox}/_sandbox/users/{account.x_user_id}/revoke", timeout=10)

    with pytest.raises(CommandError, match="Not published: Reconnect @alice_bot"):
        post_now("--account", "@alice_bot", "Into the void")
    assert sandbox_posts(sandbox) == []


def test_as_a_person_the_policy_and_the_workspace_approval_decide(sandbox, owner, fast_publishing):
    account = link_with_minted_tokens(sandbox, owner, "alice_bot")
    workspace = account.workspace
    workspace.approval_required = True
    workspace.save(update_fields=["approval_required"])
    User = get_user_model()
    for name, role in (("ed", Membership.Role.EDITOR), ("vi", Membership.Role.VIEWER)):
        Membership.objects.create(workspace=workspace, user=User.objects.create_user(name, is_staff=True), role=role)
    User.objects.create_user("stranger", is_staff=True)

    output = post_now("--account", "@alice_bot", "--user", "ed", "Written by the editor")

    post = Post.objects.get()
    assert output.strip() == (f"Sent for approval (post {post.pk}): an admin or owner of the workspace approves it "
                              "before it goes out.")
    assert (post.status, post.created_by.username) == (Post.Status.PENDING_APPROVAL, "ed")
    with pytest.raises(CommandError, match="viewer"):
        post_now("--account", "@alice_bot", "--user", "vi", "A viewer may not")
    with pytest.raises(CommandError, match=r"No linked X account @alice_bot that stranger may see\. "
                                           r"Linked accounts: none\."):
        post_now("--account", "@alice_bot", "--user", "stranger", "Not theirs")
    assert Post.objects.count() == 1
    assert sandbox_posts(sandbox) == []
    # The owner is not asked for approval: it goes out.
    assert post_now("--account", "@alice_bot", "--user", "alice", "By the owner").startswith("Published: ")
