"""Users: ``GET /2/users/me`` and a user's posts, ``GET /2/users/:id/tweets``
(the cheap "owned read" the platform reconciles unknown outcomes with)."""

from __future__ import annotations

import base64
import re
import sqlite3
import time
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from . import objects
from .errors import json_response
from .params import bad_parameter, check_known, field_list, id_param, int_param, time_param
from .ratelimit import authorize

USERNAME = re.compile(r"[A-Za-z0-9_]{1,15}")
# X returns at most a user's 3,200 most recent posts from this endpoint.
TIMELINE_DEPTH = 3200


def rules() -> list[Rule]:
    return [
        Rule("/2/users/me", methods=["GET"], endpoint=me),
        Rule("/2/users/<id>/tweets", methods=["GET"], endpoint=user_tweets),
    ]


def create_user(conn: sqlite3.Connection, *, username: str, name: str | None = None) -> sqlite3.Row:
    """A new user with the next numeric id (the same scheme as the consent
    page's). Raises ValueError for a bad or taken username."""
    if not USERNAME.fullmatch(username):
        raise ValueError(f"{username!r} is not a valid username: use 1 to 15 letters, digits or underscores.")
    if conn.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone():
        raise ValueError(f"the username {username!r} is taken")
    user_id = str(conn.execute("SELECT COALESCE(MAX(CAST(id AS INTEGER)), 1000) + 1 FROM users").fetchone()[0])
    conn.execute(
        "INSERT INTO users (id, username, name, profile_image_url, created_at) VALUES (?, ?, ?, ?, ?)",
        (user_id, username, name or username, f"/_sandbox/avatars/{user_id}.svg", time.time()),
    )
    return conn.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()


def me(sb, request: Request) -> Response:
    principal = authorize(sb, request, scopes=("tweet.read", "users.read"))
    check_known(request, ("user.fields", "expansions", "tweet.fields"))
    fields = field_list(request, "user.fields", objects.USER_FIELDS)
    expansions = field_list(request, "expansions", objects.USER_EXPANSIONS)
    tweet_fields = field_list(request, "tweet.fields", objects.TWEET_FIELDS)
    wants_recent = bool({"most_recent_tweet_id", "most_recent_post_id"} & set(expansions))
    with sb.db.tx() as conn:
        row = conn.execute("SELECT * FROM users WHERE id = ?", (principal.user_id,)).fetchone()
        user = objects.user_object(sb, conn, row, fields + (["most_recent_tweet_id"] if wants_recent else []))
        body: dict[str, Any] = {"data": user}
        if wants_recent and "most_recent_tweet_id" in user:
            tweet = conn.execute("SELECT * FROM tweets WHERE id = ?", (int(user["most_recent_tweet_id"]),)).fetchone()
            body["includes"] = {"tweets": [objects.tweet_object(sb, conn, tweet, tweet_fields)]}
        if wants_recent and "most_recent_tweet_id" not in fields:
            user.pop("most_recent_tweet_id", None)
    return json_response(body)


def _token(kind: str, tweet_id: int) -> str:
    """An opaque pagination token, base32hex like X's."""
    return base64.b32hexencode(f"{kind}{tweet_id}".encode()).decode().rstrip("=").lower()


def _read_token(raw: str) -> tuple[str, int]:
    try:
        padded = raw.upper() + "=" * (-len(raw) % 8)
        decoded = base64.b32hexdecode(padded).decode()
        if decoded[0] not in "np":
            raise ValueError(decoded)
        return decoded[0], int(decoded[1:])
    except (ValueError, UnicodeDecodeError, IndexError):
        raise bad_parameter("pagination_token", [raw],
                            "The `pagination_token` query parameter value is not a token this endpoint gave") from None


def user_tweets(sb, request: Request, id: str) -> Response:
    authorize(sb, request, scopes=("tweet.read", "users.read"))
    check_known(request, (
        "id", "max_results", "pagination_token", "start_time", "end_time", "since_id", "until_id", "exclude",
        "tweet.fields", "expansions", "media.fields", "poll.fields", "user.fields", "place.fields",
    ))
    user_id = str(id_param("id", id))
    max_results = int_param(request, "max_results", default=10, low=5, high=100)
    start, end = time_param(request, "start_time"), time_param(request, "end_time")
    since_id = id_param("since_id", request.args["since_id"]) if "since_id" in request.args else None
    until_id = id_param("until_id", request.args["until_id"]) if "until_id" in request.args else None
    exclude = field_list(request, "exclude", ("replies", "retweets"))
    fields = field_list(request, "tweet.fields", objects.TWEET_FIELDS)
    expansions = field_list(request, "expansions", objects.TWEET_EXPANSIONS)
    user_fields = field_list(request, "user.fields", objects.USER_FIELDS)
    media_fields = field_list(request, "media.fields", objects.MEDIA_FIELDS)
    poll_fields = field_list(request, "poll.fields", objects.POLL_FIELDS)
    page = _read_token(request.args["pagination_token"]) if "pagination_token" in request.args else None

    where, params = ["author_id = ?", "deleted_at IS NULL"], [user_id]
    if start is not None:
        where.append("created_at >= ?")
        params.append(start)
    if end is not None:
        where.append("created_at < ?")
        params.append(end)
    if since_id is not None:
        where.append("id > ?")
        params.append(since_id)
    if until_id is not None:
        where.append("id < ?")
        params.append(until_id)
    if "replies" in exclude:
        where.append("in_reply_to_tweet_id IS NULL")
    window = " AND ".join(where)
    with sb.db.tx() as conn:
        if conn.execute("SELECT 1 FROM users WHERE id = ?", (user_id,)).fetchone() is None:
            # X answers a read of an unknown user with 200 and an errors list.
            return json_response({"errors": [{
                "value": id, "detail": f"Could not find user with id: [{id}].", "title": "Not Found Error",
                "resource_type": "user", "parameter": "id", "resource_id": id,
                "type": "https://api.x.com/2/problems/resource-not-found",
            }]})
        depth = conn.execute(
            f"SELECT MIN(id) FROM (SELECT id FROM tweets WHERE {window} ORDER BY id DESC LIMIT ?)",  # nosec B608: fixed SQL fragments; every value is a bound parameter
            (*params, TIMELINE_DEPTH),
        ).fetchone()[0]
        rows = _page(conn, window, params, page, max_results, depth)
        meta: dict[str, Any] = {"result_count": len(rows)}
        body: dict[str, Any] = {}
        if rows:
            body["data"] = [objects.tweet_object(sb, conn, r, fields) for r in rows]
            newest, oldest = rows[0]["id"], rows[-1]["id"]
            meta.update(newest_id=str(newest), oldest_id=str(oldest))
            if conn.execute(f"SELECT 1 FROM tweets WHERE {window} AND id < ? AND id >= ?",  # nosec B608: fixed SQL fragments; every value is a bound parameter
                            (*params, oldest, depth)).fetchone():
                meta["next_token"] = _token("n", oldest)
            if page is not None and conn.execute(f"SELECT 1 FROM tweets WHERE {window} AND id > ?",  # nosec B608: fixed SQL fragments; every value is a bound parameter
                                                 (*params, newest)).fetchone():
                meta["previous_token"] = _token("p", newest)
            included = objects.includes(sb, conn, rows, expansions, user_fields=user_fields,
                                        media_fields=media_fields, poll_fields=poll_fields, now=time.time())
            if included:
                body["includes"] = included
    body["meta"] = meta
    return json_response(body)


def _page(conn: sqlite3.Connection, window: str, params: list, page: tuple[str, int] | None,
          max_results: int, depth: int | None) -> list[sqlite3.Row]:
    """Newest first; a next token continues below the oldest post of its page,
    a previous token returns the page just above the newest."""
    if depth is None:
        return []
    if page is not None and page[0] == "p":
        rows = conn.execute(
            f"SELECT * FROM tweets WHERE {window} AND id > ? ORDER BY id ASC LIMIT ?",  # nosec B608: fixed SQL fragments; every value is a bound parameter
            (*params, page[1], max_results),
        ).fetchall()
        return rows[::-1]
    below = page[1] if page is not None else None
    clause = " AND id < ?" if below is not None else ""
    return conn.execute(
        f"SELECT * FROM tweets WHERE {window}{clause} AND id >= ? ORDER BY id DESC LIMIT ?",  # nosec B608: fixed SQL fragments; every value is a bound parameter
        (*params, *([below] if below is not None else []), depth, max_results),
    ).fetchall()
