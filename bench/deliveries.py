"""One publish task in two workers' hands at once, made to happen on purpose.

Celery's Redis transport hands a task that a worker has taken and not yet
acknowledged to the next worker that asks once the broker's visibility
timeout has passed, while the first may still be running it. A chaos run
cannot wait for that: the platform's settings keep the visibility timeout
above the task time limit, so Redis gives a task away only after a worker
has held it that long, and kombu looks for overdue tasks only at every tenth
of its periodic checks. So the run sends the same task, with the same
arguments, again, to a standby worker that does nothing else and so takes
it at once, at the moment the run chooses.

``hold_row`` and ``waiting_for`` hold a post's row locked and count the
standby's deliveries waiting for it, which is how the run proves two
deliveries of one post were at the same step at the same time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from psycopg import Connection

# The standby worker's database sessions carry this application_name (libpq
# reads PGAPPNAME), so the run can tell its deliveries from anything else
# waiting for a row, such as the sweeper.
STANDBY_APPLICATION = "chaos-standby"


@dataclass(frozen=True)
class HeldRow:
    """A row a session holds locked (FOR UPDATE): where it is, and the
    holder's transaction, which is what a session waiting for the row waits on."""

    table: str
    page: int
    tuple: int
    xid: str


def hold_row(conn: Connection, table: str, row_id: int, status: str) -> HeldRow | None:
    """Lock the row ``row_id`` of ``table`` in ``conn``'s transaction if it is
    in ``status`` and nobody holds it; None otherwise."""
    found = conn.execute(
        f'SELECT ctid::text, pg_current_xact_id()::xid::text FROM "{table}" '
        "WHERE id = %s AND status = %s FOR UPDATE SKIP LOCKED",
        (row_id, status),
    ).fetchone()
    if found is None:
        return None
    page, tuple_ = found[0].strip("()").split(",")
    return HeldRow(table=table, page=int(page), tuple=int(tuple_), xid=found[1])


@dataclass(frozen=True)
class Waiting:
    standby: int  # the standby worker's deliveries
    total: int  # every session: the post's first delivery too, or the sweeper


def waiting_for(monitor: Connection, row: HeldRow) -> Waiting:
    """The sessions waiting for ``row``: the first on its holder's
    transaction, any others queued on the row's tuple lock behind it."""
    standby, everyone = monitor.execute(
        "SELECT count(*) FILTER (WHERE a.application_name = %s), count(*) "
        "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE NOT l.granted AND ("
        " (l.locktype = 'transactionid' AND l.transactionid::text = %s)"
        " OR (l.locktype = 'tuple' AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        "     AND l.relation = %s::regclass AND l.page = %s AND l.tuple = %s))",
        (STANDBY_APPLICATION, row.xid, row.table, row.page, row.tuple),
    ).fetchone()
    return Waiting(standby=standby, total=everyone)
