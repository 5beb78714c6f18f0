"""``manage.py link_x_account --pin``: the OAuth 1.0a PIN flow for servers
without a browser. The person is played by a function that reads the URL the
command printed, approves on the sandbox's page and types the PIN shown."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import CommandError, call_command

from accounts import access, workspaces
from accounts.models import Membership, XAccount
from tests.sandbox.consent import approve_pin


def run_command(monkeypatch, answer, *args: str) -> str:
    out = io.StringIO()

    def person_types(prompt: str) -> str:
        return answer(re.search(r"^\s+(http\S+)$", out.getvalue(), re.M).group(1))

    monkeypatch.setattr("builtins.input", person_types)
    call_command("link_x_account", *args, stdout=out)
    return out.getvalue()


def test_pin_flow_links_the_account(monkeypatch, alice, http, sandbox):
    output = run_command(
        monkeypatch, lambda url: approve_pin(http, sandbox, url, "carol_daily"), "--pin", "--user", "alice"
    )

    assert "Linked @carol_daily for alice." in output
    account = XAccount.objects.get()
    assert (account.owner, account.username, account.auth_method) == (alice, "carol_daily", "oauth1")


def test_a_wrong_pin_links_nothing_and_says_why(monkeypatch, alice, http, sandbox):
    def wrong_pin(url: str) -> str:
        approve_pin(http, sandbox, url, "carol_daily")
        return "1234567"

    with pytest.raises(CommandError, match="did not accept the verifier"):
        run_command(monkeypatch, wrong_pin, "--pin", "--user", "alice")
    assert not XAccount.objects.exists()


def test_a_pin_that_is_not_digits_is_refused(monkeypatch, alice, sandbox):
    with pytest.raises(CommandError, match="The PIN must be the digits X showed"):
        run_command(monkeypatch, lambda url: "12ab", "--pin", "--user", "alice")
    assert not XAccount.objects.exists()


def test_an_unknown_user_is_a_clear_error(db, sandbox):
    with pytest.raises(CommandError, match="There is no user 'nobody'"):
        call_command("link_x_account", "--pin", "--user", "nobody")


def test_the_account_goes_into_the_workspace_named_and_only_one_where_the_user_may_link(
        monkeypatch, alice, bob, http, sandbox):
    newsroom = workspaces.workspace_create(name="Newsroom", by=bob)
    Membership.objects.create(workspace=newsroom, user=alice, role=Membership.Role.ADMIN)
    viewed = workspaces.workspace_create(name="Viewed", by=bob)
    Membership.objects.create(workspace=viewed, user=alice, role=Membership.Role.VIEWER)
    current = access.current_workspace(alice)

    output = run_command(monkeypatch, lambda url: approve_pin(http, sandbox, url, "carol_daily"),
                         "--pin", "--user", "alice", "--workspace", "newsroom")

    assert "Linked @carol_daily for alice." in output
    assert XAccount.objects.get().workspace == newsroom
    # Her current workspace, the one the admin shows her, is not changed by the command.
    alice.refresh_from_db()
    assert alice.workspace == current
    with pytest.raises(CommandError, match="Only an admin or owner of Viewed can link X accounts to it"):
        call_command("link_x_account", "--pin", "--user", "alice", "--workspace", str(viewed.pk))
    with pytest.raises(CommandError, match=r"alice is not a member of a workspace 'Bob only'\. Theirs: .*Newsroom"):
        workspaces.workspace_create(name="Bob only", by=bob)
        call_command("link_x_account", "--pin", "--user", "alice", "--workspace", "Bob only")
    assert XAccount.objects.count() == 1
