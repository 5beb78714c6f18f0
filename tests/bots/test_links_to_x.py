"""Links to a post on X, from the post's page, the list and the dashboard, go
to the X in use: X itself, or the sandbox's page for the post while the
sandbox is the X the platform talks to. The stored URL stays the one X gave."""

from __future__ import annotations

import re

import requests
from django.core.management import call_command

from accounts import x_hosts
from bots.models import Post
from tests.people import client_for

from .conftest import link_with_minted_tokens, sandbox_posts


def links_to_x(html: str) -> list[str]:
    return re.findall(r'<a href="([^"]+)" target="_blank" rel="noopener noreferrer" class="x-post-link">', html)


def test_with_the_sandbox_in_use_every_link_opens_the_posts_page_on_the_sandbox(sandbox, owner, fast_publishing):
    link_with_minted_tokens(sandbox, owner, "alice_bot")
    call_command("post_now", "--account", "@alice_bot", "Seen on the sandbox")
    (on_x,) = sandbox_posts(sandbox, username="alice_bot")
    post = Post.objects.get()
    client = client_for(owner)

    pages = [client.get(url).content.decode()
             for url in (f"/admin/bots/post/{post.pk}/change/", "/admin/bots/post/", "/admin/")]

    assert post.x_post_url == f"{x_hosts.WEB}/alice_bot/status/{on_x['id']}"
    on_sandbox = f"{sandbox}/alice_bot/status/{on_x['id']}"
    assert [links_to_x(html) for html in pages] == [[on_sandbox]] * 3
    shown = requests.get(on_sandbox, timeout=10)
    assert shown.status_code == 200
    assert f"id='p{on_x['id']}'" in shown.text and "Seen on the sandbox" in shown.text

