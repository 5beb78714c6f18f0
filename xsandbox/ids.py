"""Identifiers shaped like X's: post and media ids are 64-bit "snowflakes"
(milliseconds since X's epoch in the high bits), so they are large numeric
strings that grow with time, and code that sorts or compares them as X's ids
behaves the same here."""

from __future__ import annotations

import sqlite3
import time
from datetime import datetime, timezone

# X's snowflake epoch (2010-11-04T01:42:54.657Z), in milliseconds.
X_EPOCH_MS = 1288834974657


def snowflake(conn: sqlite3.Connection, name: str) -> int:
    """The next id of the sequence ``name`` (call inside a transaction): the
    current time's snowflake, or one more than the last id when two ids are
    minted in the same millisecond."""
    now = (int(time.time() * 1000) - X_EPOCH_MS) << 22
    row = conn.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
    value = max(now, row["value"] + 1) if row else now
    conn.execute(
        "INSERT INTO counters (name, value) VALUES (?, ?) "
        "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
        (name, value),
    )
    return value


def iso_time(epoch: float) -> str:
    """X's timestamp format: ``2022-10-05T19:09:30.000Z``."""
    moment = datetime.fromtimestamp(epoch, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
