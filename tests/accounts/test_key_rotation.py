"""Token encryption keys rotate: a new key goes first, ``reencrypt_tokens``
re-encrypts, and a removed key gives a clear error instead of garbage."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection

from accounts.crypto import is_undecryptable
from accounts.models import XAccount

from .linking import OAUTH2_START, link

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def raw_access_token(account: XAccount) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT oauth2_access_token FROM accounts_xaccount WHERE id = %s", [account.pk])
        return cursor.fetchone()[0]


@pytest.fixture
def linked(settings, alice_client, http, sandbox) -> XAccount:
    settings.TOKEN_ENCRYPTION_KEYS = [OLD]
    link(alice_client, http, sandbox, OAUTH2_START, "bob_news")
    return XAccount.objects.get()


def test_rows_stay_readable_with_a_new_key_in_front(settings, linked):
    token = linked.oauth2_access_token
    settings.TOKEN_ENCRYPTION_KEYS = [NEW, OLD]

    assert XAccount.objects.get().oauth2_access_token == token


def test_reencrypt_moves_every_token_to_the_newest_key(settings, linked):
    token = linked.oauth2_access_token
    settings.TOKEN_ENCRYPTION_KEYS = [NEW, OLD]

    call_command("reencrypt_tokens")

    assert Fernet(NEW.encode()).decrypt(raw_access_token(linked).encode()).decode() == token
    settings.TOKEN_ENCRYPTION_KEYS = [NEW]
    assert XAccount.objects.get().oauth2_access_token == token


def test_a_removed_key_is_a_clear_error_and_reencrypt_changes_nothing(settings, linked):
    before = raw_access_token(linked)
    settings.TOKEN_ENCRYPTION_KEYS = [NEW]

    assert is_undecryptable(XAccount.objects.get().oauth2_access_token)
    with pytest.raises(CommandError, match="@bob_news cannot be decrypted.*Nothing was changed"):
        call_command("reencrypt_tokens")
    assert raw_access_token(linked) == before
