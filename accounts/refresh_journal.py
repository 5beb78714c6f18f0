"""What X answered to a token refresh, kept until the new tokens are committed.

X's refresh tokens rotate: the one a refresh used dies the moment X answers.
If the worker is killed, or the database stops, between X's answer and the
commit of the new tokens, the account keeps only the dead refresh token and
would need a person to reconnect it. So the answer is written to Redis first
(encrypted with the token keys, under a hash of the refresh token it used),
and a refresh X refuses looks there before giving up on the account.

Redis is the broker every worker already reaches; if it is down too, the
refresh goes on without the journal, as it did before there was one.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timedelta
from typing import Any

import redis
from django.conf import settings

from .crypto import TokenDecryptionError, decrypt, encrypt

log = logging.getLogger(__name__)

PREFIX = "botplatform:oauth2-refresh:"
# Long enough for an account that posts rarely to refresh again.
KEPT_FOR = timedelta(days=30)
TIMEOUT_SECONDS = 2


FIELDS = ("access_token", "refresh_token", "expires_at", "scopes")


def _client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=TIMEOUT_SECONDS,
                                socket_timeout=TIMEOUT_SECONDS)


def _key(used_refresh_token: str) -> str:
    return PREFIX + hashlib.sha256(used_refresh_token.encode()).hexdigest()


def keep(used_refresh_token: str, tokens: Any) -> None:
    """Write the tokens X answered to the refresh that used
    ``used_refresh_token`` (an object with ``FIELDS``)."""
    fields = {name: getattr(tokens, name) for name in FIELDS}
    value = encrypt(json.dumps({**fields, "expires_at": fields["expires_at"].isoformat()}))
    try:
        with _client() as client:
            client.set(_key(used_refresh_token), value, ex=KEPT_FOR)
    except redis.RedisError:
        log.warning("could not keep a token refresh's answer in Redis; it is saved to the database only",
                    exc_info=True)


def kept(used_refresh_token: str) -> dict[str, Any] | None:
    """The tokens (``FIELDS``) X answered to an earlier refresh with
    ``used_refresh_token`` that was never committed, if they were kept."""
    try:
        with _client() as client:
            value = client.get(_key(used_refresh_token))
    except redis.RedisError:
        log.warning("could not read kept token refreshes from Redis", exc_info=True)
        return None
    if value is None:
        return None
    try:
        fields = json.loads(decrypt(value.decode()))
    except TokenDecryptionError:
        # Written under a key that is no longer among TOKEN_ENCRYPTION_KEYS.
        log.warning("a kept token refresh cannot be decrypted with the current keys", exc_info=True)
        return None
    return {**fields, "expires_at": datetime.fromisoformat(fields["expires_at"])}


def forget(used_refresh_token: str) -> None:
    """The new tokens are committed: the kept answer is no longer needed."""
    try:
        with _client() as client:
            client.delete(_key(used_refresh_token))
    except redis.RedisError:
        log.warning("could not remove a kept token refresh from Redis; it expires by itself", exc_info=True)
