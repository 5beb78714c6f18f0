"""``manage.py post_now --account @name "text"``: a quick manual post through
the same pipeline, printing the URL or the reason."""

from __future__ import annotations

import io

import pytest
import requests
from django.core.management import CommandError, call_command

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
    assert output.strip() == f"Published: https://x.com/alice_bot/status/{on_x['id']}"
    assert Post.objects.get().status == Post.Status.PUBLISHED


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
