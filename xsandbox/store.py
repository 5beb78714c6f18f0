"""The sandbox's state in SQLite: one connection behind a lock, so that every
request sees a consistent world and the state survives a restart (``--db FILE``)
or lives only in memory (``--memory``)."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

CORE_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,            -- numeric string, like X's user ids
    username TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name TEXT NOT NULL,
    profile_image_url TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS registered_callbacks (
    url TEXT PRIMARY KEY            -- added at run time through the control API
);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""

SEED_USERS = (
    ("1001", "alice_bot", "Alice Bot"),
    ("1002", "bob_news", "Bob News"),
    ("1003", "carol_daily", "Carol Daily"),
)


class Store:
    def __init__(self, path: str, schemas: list[str]):
        # One connection shared by all threads, serialized by a lock: a sandbox
        # favours a consistent world over parallel writes.
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        if path != ":memory:":
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
        self._schemas = [CORE_SCHEMA, *schemas]
        self.create_schema()

    def create_schema(self) -> None:
        with self._lock:
            for schema in self._schemas:
                self._conn.executescript(schema)

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A transaction: committed when the block ends, rolled back on error."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def one(self, sql: str, params: tuple | dict = ()) -> sqlite3.Row | None:
        with self._lock:
            return self._conn.execute(sql, params).fetchone()

    def all(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def next_id(self, conn: sqlite3.Connection, name: str, start: int) -> int:
        """A monotonically increasing id (call inside ``tx``)."""
        row = conn.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        value = (row["value"] if row else start) + 1
        conn.execute(
            "INSERT INTO counters (name, value) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            (name, value),
        )
        return value

    def reset(self) -> None:
        """Drop every table and start again from the seed."""
        with self._lock:
            tables = [r["name"] for r in self._conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )]
            for table in tables:
                self._conn.execute(f'DROP TABLE IF EXISTS "{table}"')
            self.create_schema()
            self.seed()

    def seed(self) -> None:
        with self.tx() as conn:
            for user_id, username, name in SEED_USERS:
                conn.execute(
                    "INSERT OR IGNORE INTO users (id, username, name, profile_image_url, created_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (user_id, username, name, f"/_sandbox/avatars/{user_id}.svg", time.time()),
                )

    def close(self) -> None:
        with self._lock:
            self._conn.close()
