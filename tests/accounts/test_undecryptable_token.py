"""A stored token that no key of TOKEN_ENCRYPTION_KEYS decrypts (its key was
removed or changed) loads as a stand-in: no page answers 500 because of it, the
gateway marks its account as needing reconnecting with the reason and sends
nothing, and the ciphertext stays as it was, so putting the key back restores it."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from accounts import gateway, services
from accounts.crypto import TokenDecryptionError, is_undecryptable
from accounts.gateway import XError, XErrorKind
from accounts.models import LinkAttempt, XAccount
from bots.models import Post
from tests.bots.conftest import link_with_minted_tokens
from tests.sandbox.consent import approve

from .linking import OAUTH2_START, messages_of, start

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def stored(account: XAccount) -> dict[str, str]:
    """The token columns as they are in the database."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT oauth1_token, oauth1_token_secret, oauth2_access_token, oauth2_refresh_token "
            "FROM accounts_xaccount WHERE id = %s",
            [account.pk],
        )
        return dict(zip(XAccount.TOKEN_FIELDS, cursor.fetchone(), strict=True))


def sandbox_traffic(sandbox: str) -> tuple[list, list]:
    posts = requests.get(f"{sandbox}/_sandbox/posts", timeout=10).json()["posts"]
    calls = requests.get(f"{sandbox}/_sandbox/requests", timeout=10).json()["requests"]
    return posts, calls


@pytest.fixture
def account(settings, sandbox, alice) -> XAccount:
    """alice_bot, linked while OLD was the key, with a post scheduled; then OLD is
    replaced by NEW, as when the key is lost or changed by mistake."""
    settings.TOKEN_ENCRYPTION_KEYS = [OLD]
    linked = link_with_minted_tokens(sandbox, alice, "alice_bot")
    Post.objects.create(
        account=linked, text="Tomorrow's news", scheduled_at=timezone.now() + timedelta(days=1),
        status=Post.Status.SCHEDULED,
    )
    settings.TOKEN_ENCRYPTION_KEYS = [NEW]
    return XAccount.objects.get(pk=linked.pk)


@pytest.mark.parametrize("path", ["/admin/", "/admin/accounts/xaccount/", "/admin/bots/post/"])
def test_pages_listing_the_account_and_its_posts_answer(account, alice_client, path):
    response = alice_client.get(path)

    assert response.status_code == 200
    page = response.content.decode()
    assert "@alice_bot" in page
    assert not any(ciphertext in page for ciphertext in stored(account).values() if ciphertext)


def test_the_post_page_answers(account, alice_client):
    post = Post.objects.get()

    assert alice_client.get(f"/admin/bots/post/{post.pk}/change/").status_code == 200


def test_the_stand_in_is_never_text(account):
    token = account.oauth2_access_token

    assert is_undecryptable(token) and account.tokens_undecryptable
    assert repr(token) == "<UndecryptableToken>"
    for as_text in (str, "Bearer {}".format):
        with pytest.raises(TokenDecryptionError, match="Put the key that encrypted it back"):
            as_text(token)


@pytest.mark.parametrize(
    "use",
    [
        lambda account: gateway.create_post(account, text="Hello"),
        lambda account: gateway.get_me(account),
        lambda account: gateway.client_for(account),
        lambda account: gateway.refresh_tokens(account, force=True),
    ],
    ids=["create_post", "get_me", "client_for", "refresh_tokens"],
)
def test_the_gateway_marks_the_account_and_sends_nothing(account, sandbox, use):
    with pytest.raises(XError) as raised:
        use(account)

    assert raised.value.kind == XErrorKind.NEEDS_REAUTH
    assert "@alice_bot's stored tokens cannot be decrypted with the configured TOKEN_ENCRYPTION_KEYS" in (
        raised.value.message
    )
    assert "reconnect @alice_bot" in raised.value.message
    account = XAccount.objects.get(pk=account.pk)
    assert (account.status, account.status_reason) == (XAccount.Status.NEEDS_REAUTH, raised.value.message)
    assert sandbox_traffic(sandbox) == ([], [])


def test_saving_the_account_keeps_the_ciphertext_and_the_old_key_restores_it(account, settings, sandbox):
    before = stored(account)

    with pytest.raises(XError):
        gateway.create_post(account, text="Marks the account")
    account = XAccount.objects.get(pk=account.pk)
    account.save()
    account.name = "Alice's bot"
    account.save(update_fields=["name"])

    assert stored(account) == before
    settings.TOKEN_ENCRYPTION_KEYS = [NEW, OLD]
    restored = XAccount.objects.get(pk=account.pk)
    assert not restored.tokens_undecryptable
    assert restored.oauth2_access_token == Fernet(OLD.encode()).decrypt(before["oauth2_access_token"].encode()).decode()


def test_verify_now_brings_the_account_back_once_the_key_is_back(account, settings, sandbox):
    with pytest.raises(XError):
        gateway.get_me(account)
    assert services.xaccount_verify(account=XAccount.objects.get(pk=account.pk)).ok is False

    settings.TOKEN_ENCRYPTION_KEYS = [NEW, OLD]
    result = services.xaccount_verify(account=XAccount.objects.get(pk=account.pk))

    assert (result.ok, result.message) == (True, "@alice_bot is working.")
    account = XAccount.objects.get(pk=account.pk)
    assert (account.status, account.status_reason) == (XAccount.Status.ACTIVE, "")
    assert gateway.create_post(account, text="Back again").id


def test_verify_now_leaves_other_reasons_alone(account, settings, sandbox):
    account.mark_needs_reauth("X no longer accepts this account's authorization. Reconnect @alice_bot.")
    settings.TOKEN_ENCRYPTION_KEYS = [NEW, OLD]

    assert services.xaccount_verify(account=XAccount.objects.get(pk=account.pk)).ok is False
    assert XAccount.objects.get(pk=account.pk).status == XAccount.Status.NEEDS_REAUTH


def test_reencrypt_moves_the_readable_rows_and_names_the_others(account, settings, sandbox, alice):
    lost = stored(account)
    settings.TOKEN_ENCRYPTION_KEYS = [NEW]
    readable = link_with_minted_tokens(sandbox, alice, "bob_news")
    newest = Fernet.generate_key().decode()
    settings.TOKEN_ENCRYPTION_KEYS = [newest, NEW]

    with pytest.raises(CommandError) as raised:
        call_command("reencrypt_tokens")

    assert "The tokens of @alice_bot cannot be decrypted" in str(raised.value)
    assert "The tokens of every other row (1) were re-encrypted" in str(raised.value)
    assert stored(account) == lost
    settings.TOKEN_ENCRYPTION_KEYS = [newest]
    assert XAccount.objects.get(pk=readable.pk).oauth2_access_token == readable.oauth2_access_token


def test_a_link_attempt_whose_key_is_gone_asks_to_start_again(settings, alice_client, http, sandbox):
    settings.TOKEN_ENCRYPTION_KEYS = [OLD]
    callback = approve(http, sandbox, start(alice_client, OAUTH2_START), "bob_news")
    settings.TOKEN_ENCRYPTION_KEYS = [NEW]

    response = alice_client.get(callback, follow=True)

    assert response.status_code == 200
    assert any("can no longer be read" in m and "Start again" in m for m in messages_of(response))
    assert LinkAttempt.objects.get().tokens_undecryptable
    assert not XAccount.objects.exists()
