"""Encryption of X tokens at rest.

Tokens are encrypted with Fernet keys from ``TOKEN_ENCRYPTION_KEYS`` (newest
first). MultiFernet encrypts with the newest key and decrypts with any listed
key, so a key is rotated by putting a new one in front, running
``manage.py reencrypt_tokens``, and only then dropping the old one.

A stored token that no listed key decrypts loads as an ``UndecryptableToken``
rather than raising: one such row must not make every page that lists its
account answer 500. The gateway refuses to use it and marks the account.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models


class TokenDecryptionError(Exception):
    """A stored token was encrypted with a key that is no longer configured."""


@lru_cache(maxsize=4)
def _fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def _fernet() -> MultiFernet:
    return _fernet_for(tuple(settings.TOKEN_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    try:
        return _fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise TokenDecryptionError(
            "A stored X token cannot be decrypted with the keys in TOKEN_ENCRYPTION_KEYS: "
            "the key that encrypted it was removed or changed. Put that key back in the "
            "list (after the newest), or re-link the account."
        ) from None


def rotate(ciphertext: str) -> str:
    """The same token, re-encrypted with the newest key."""
    try:
        return _fernet().rotate(ciphertext.encode()).decode()
    except InvalidToken:
        raise TokenDecryptionError(
            "A stored X token cannot be re-encrypted: none of the keys in "
            "TOKEN_ENCRYPTION_KEYS decrypts it."
        ) from None


class UndecryptableToken:
    """Stands in for a stored token that no key of ``TOKEN_ENCRYPTION_KEYS``
    decrypts, and keeps its ciphertext so that saving the row writes it back
    unchanged: putting the old key back restores the token.

    It is not text. Turning it into text (to send it to X, render or log it)
    raises ``TokenDecryptionError``, and its repr names no secret.
    """

    __slots__ = ("_ciphertext",)

    def __init__(self, ciphertext: str):
        self._ciphertext = ciphertext

    def __str__(self) -> str:
        raise TokenDecryptionError(
            "A stored X token cannot be decrypted with the keys in TOKEN_ENCRYPTION_KEYS, "
            "so it cannot be used. Put the key that encrypted it back in the list, or re-link the account."
        )

    def __repr__(self) -> str:
        return "<UndecryptableToken>"


def is_undecryptable(value: object) -> bool:
    return isinstance(value, UndecryptableToken)


class EncryptedTextField(models.TextField):
    """A text column that holds Fernet ciphertext and gives Python plaintext.

    The empty string stays empty (no token), so "has a token" stays queryable.
    Ciphertext that no configured key decrypts gives an ``UndecryptableToken``.
    """

    description = "Text encrypted at rest with TOKEN_ENCRYPTION_KEYS"

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        try:
            return decrypt(value)
        except TokenDecryptionError:
            return UndecryptableToken(value)

    def get_prep_value(self, value):
        if isinstance(value, UndecryptableToken):
            # Encrypting the stand-in would destroy the token for good.
            return value._ciphertext
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(value)
