"""Issued credentials: OAuth 1.0a access tokens and OAuth 2.0 access and refresh
tokens, shared by the OAuth endpoints, the API's authentication and the control
API (which can mint, expire and revoke them)."""

from __future__ import annotations

import secrets
import sqlite3
import time
from dataclasses import dataclass

SCHEMA = """
CREATE TABLE IF NOT EXISTS oauth1_access_tokens (
    token TEXT PRIMARY KEY,         -- '<user_id>-<random>', as X shapes them
    secret TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id),
    consumer_key TEXT NOT NULL,
    access_type TEXT NOT NULL DEFAULT 'write',
    created_at REAL NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS oauth2_tokens (
    token TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
    user_id TEXT NOT NULL REFERENCES users(id),
    client_id TEXT NOT NULL,
    scopes TEXT NOT NULL,           -- space separated
    expires_at REAL,                -- NULL for refresh tokens
    created_at REAL NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS oauth2_tokens_user ON oauth2_tokens (user_id);
CREATE TABLE IF NOT EXISTS app_approvals (
    user_id TEXT NOT NULL REFERENCES users(id),
    app TEXT NOT NULL,              -- consumer key or client id
    PRIMARY KEY (user_id, app)
);
"""


@dataclass(frozen=True)
class Principal:
    """Who a request to the API acts for."""

    user_id: str
    method: str  # 'oauth1' or 'oauth2'
    scopes: frozenset[str]
    token: str


def _random(n: int = 30) -> str:
    return secrets.token_urlsafe(n)


def mint_oauth1(conn: sqlite3.Connection, *, user_id: str, consumer_key: str, access_type: str = "write") -> tuple[str, str]:
    token = f"{user_id}-{_random(24)}"
    secret = _random(32)
    conn.execute(
        "INSERT INTO oauth1_access_tokens (token, secret, user_id, consumer_key, access_type, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (token, secret, user_id, consumer_key, access_type, time.time()),
    )
    return token, secret


def mint_oauth2(
    conn: sqlite3.Connection, *, user_id: str, client_id: str, scopes: str, ttl: int
) -> dict:
    """Issue an access token (and a refresh token with ``offline.access``) and
    return X's token response body."""
    now = time.time()
    access = _random(40)
    conn.execute(
        "INSERT INTO oauth2_tokens (token, kind, user_id, client_id, scopes, expires_at, created_at) "
        "VALUES (?, 'access', ?, ?, ?, ?, ?)",
        (access, user_id, client_id, scopes, now + ttl, now),
    )
    body = {"token_type": "bearer", "expires_in": ttl, "access_token": access, "scope": scopes}
    if "offline.access" in scopes.split():
        refresh = _random(40)
        conn.execute(
            "INSERT INTO oauth2_tokens (token, kind, user_id, client_id, scopes, expires_at, created_at) "
            "VALUES (?, 'refresh', ?, ?, ?, NULL, ?)",
            (refresh, user_id, client_id, scopes, now),
        )
        body["refresh_token"] = refresh
    return body


def oauth2_principal(conn: sqlite3.Connection, bearer: str) -> Principal | None:
    """The principal of a live OAuth 2.0 user access token, or None."""
    row = conn.execute(
        "SELECT user_id, scopes, expires_at, revoked FROM oauth2_tokens WHERE token = ? AND kind = 'access'",
        (bearer,),
    ).fetchone()
    if row is None or row["revoked"] or row["expires_at"] <= time.time():
        return None
    return Principal(user_id=row["user_id"], method="oauth2", scopes=frozenset(row["scopes"].split()), token=bearer)


def expire_user_tokens(conn: sqlite3.Connection, user_id: str) -> int:
    """Make every OAuth 2.0 access token of a user expired (refresh still works)."""
    return conn.execute(
        "UPDATE oauth2_tokens SET expires_at = ? WHERE user_id = ? AND kind = 'access' AND revoked = 0",
        (time.time() - 1, user_id),
    ).rowcount


def revoke_user_tokens(conn: sqlite3.Connection, user_id: str) -> int:
    """Revoke every credential of a user, as when they remove the app on X."""
    n = conn.execute("UPDATE oauth2_tokens SET revoked = 1 WHERE user_id = ?", (user_id,)).rowcount
    n += conn.execute("UPDATE oauth1_access_tokens SET revoked = 1 WHERE user_id = ?", (user_id,)).rowcount
    conn.execute("DELETE FROM app_approvals WHERE user_id = ?", (user_id,))
    return n
