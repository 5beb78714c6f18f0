"""A log of every request to X's endpoints (not the control API): when it
arrived, for whom, how it ended. It lets tests prove exactly-once posting (how
many requests carried a text) and that a client never came back before the
reset a 429 gave it."""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

SCHEMA = """
CREATE TABLE IF NOT EXISTS api_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    arrived_at REAL NOT NULL,       -- epoch seconds
    endpoint TEXT NOT NULL,         -- 'POST /2/tweets'
    path TEXT NOT NULL,
    user_id TEXT,                   -- NULL when the request was not authenticated
    status INTEGER,                 -- NULL when the connection was dropped
    outcome TEXT NOT NULL,          -- answered | fault | drop_before_commit | drop_after_commit | garbled_body | truncated_body
    text TEXT,                      -- POST /2/tweets: the text the request carried
    retry_at INTEGER                -- a 429: the epoch second the client may come back
);
CREATE INDEX IF NOT EXISTS api_requests_user ON api_requests (user_id, endpoint);
"""

# Handlers put what they learn about a request into its WSGI environ.
TEXT_KEY = "xsandbox.tweet_text"


def retry_at(response: Response) -> int | None:
    """The latest reset among the exhausted windows of a 429."""
    if response.status_code != 429:
        return None
    resets = [
        int(response.headers[name[: -len("remaining")] + "reset"])
        for name, value in response.headers.items()
        if name.lower().endswith("-remaining") and value == "0"
        and name[: -len("remaining")] + "reset" in response.headers
    ]
    return max(resets) if resets else None


def record(
    sb, request: Request, *, arrived_at: float, user_id: str | None, status: int | None, outcome: str,
    retry: int | None = None,
) -> None:
    with sb.db.tx() as conn:
        conn.execute(
            "INSERT INTO api_requests (arrived_at, endpoint, path, user_id, status, outcome, text, retry_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                arrived_at,
                request.environ["xsandbox.endpoint"],
                request.path,
                user_id,
                status,
                outcome,
                request.environ.get(TEXT_KEY),
                retry,
            ),
        )
