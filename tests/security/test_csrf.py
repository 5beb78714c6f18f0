"""Every state-changing view refuses a POST without the CSRF token: the link
views, the counter endpoint, and every admin page that changes something (add,
change, delete and actions) of every registered model. The OAuth callbacks
are GETs by X's design; they are bound to the link attempt instead (see
tests/accounts)."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import NoReverseMatch, reverse

from accounts.models import XAccount
from bots.models import Post
from tests.bots.conftest import link_with_minted_tokens


@pytest.fixture
def strict_client(django_user_model) -> Client:
    root = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client = Client(enforce_csrf_checks=True)
    client.force_login(root)
    return client


def admin_urls_that_change_things(objects: dict[type, object]) -> list[str]:
    """Each admin's add, list, change and delete pages, those it has (the
    calendar is one page, a list)."""
    urls = []
    for model in admin.site._registry:
        info = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        pages = [(f"{info}_add", []), (f"{info}_changelist", [])]
        if model in objects:
            pages += [(f"{info}_change", [objects[model].pk]), (f"{info}_delete", [objects[model].pk])]
        for name, args in pages:
            try:
                urls.append(reverse(name, args=args))
            except NoReverseMatch:
                continue
    return urls


def test_every_state_changing_view_refuses_a_post_without_the_token(strict_client, sandbox, django_user_model):
    owner = django_user_model.objects.get(username="root")
    account = link_with_minted_tokens(sandbox, owner, "alice_bot")
    post = Post.objects.create(account=account, text="Draft")
    urls = [
        reverse("accounts:link_oauth1"),
        reverse("accounts:link_oauth2"),
        reverse("admin:bots_post_count"),
        reverse("admin:logout"),
        *admin_urls_that_change_things({XAccount: account, Post: post, django_user_model: owner}),
    ]

    answers = {url: strict_client.post(url, {"text": "x", "action": "delete_selected"}).status_code for url in urls}

    assert {url: status for url, status in answers.items() if status != 403} == {}
    assert len(urls) >= 12
    assert Post.objects.filter(pk=post.pk).exists() and XAccount.objects.filter(pk=account.pk).exists()
