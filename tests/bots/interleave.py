"""Interleavings made on purpose for race tests on PostgreSQL: work run in a
thread on a database connection of its own, a transaction held open with the
row locks it took until the test lets it commit, and a wait for backends to be
blocked on a lock, read from ``pg_stat_activity`` rather than guessed with a
sleep."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connection, transaction

from tests.foundation.helpers import wait_until

# Every step of a race test takes milliseconds, or the length of a latency
# fault; one that takes longer than this is stuck, and says so.
STUCK_SECONDS = 15


class Run:
    """``work`` in a thread of its own, on a database connection of its own."""

    def __init__(self, work: Callable[[], Any], name: str) -> None:
        self.work = work
        self.name = name
        self.pid: int | None = None
        self.result: Any = None
        self.error: BaseException | None = None
        self._connected = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                self.pid = cursor.fetchone()[0]
            self._connected.set()
            self.result = self.work()
        except BaseException as error:  # re-raised in the test's thread by join()
            self.error = error
        finally:
            self._connected.set()
            connection.close()

    def start(self) -> Run:
        self._thread.start()
        assert self._connected.wait(STUCK_SECONDS), f"{self.name} could not connect to the database"
        return self

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def join(self) -> Any:
        """What ``work`` returned; what it raised is raised here."""
        self._thread.join(STUCK_SECONDS)
        assert not self._thread.is_alive(), f"{self.name} did not finish within {STUCK_SECONDS} s"
        if self.error is not None:
            raise self.error
        return self.result

    def end(self) -> None:
        """Wait for the thread without asking how it went (the test already failed)."""
        self._thread.join(STUCK_SECONDS)

    def describe(self) -> str:
        return f"{self.name} raised {self.error!r}" if self.error else f"{self.name} returned {self.result!r}"


class Held(Run):
    """``work`` inside a transaction that stays open, holding every row lock
    it took, until ``commit()``."""

    def __init__(self, work: Callable[[], Any], name: str) -> None:
        self.done = threading.Event()
        self.committing = threading.Event()
        super().__init__(lambda: self._hold(work), name)

    def _hold(self, work: Callable[[], Any]) -> Any:
        with transaction.atomic():
            result = work()
            self.done.set()
            assert self.committing.wait(STUCK_SECONDS * 2), f"{self.name} was never let commit"
        return result

    def wait_done(self) -> None:
        """Until ``work`` has run (its transaction still open)."""
        wait_until(lambda: self.done.is_set() or not self.running, seconds=STUCK_SECONDS,
                   what=f"{self.name} doing its work")
        if not self.done.is_set():
            self.join()
            raise AssertionError(f"{self.describe()} before holding its transaction open")

    def commit(self) -> Any:
        self.committing.set()
        return self.join()


class Interleaving:
    """The threads of one test. Whatever the test's outcome, every held
    transaction commits and every thread ends before the test database is
    flushed (a thread left waiting on a lock would block the flush)."""

    def __init__(self) -> None:
        self._runs: list[Run] = []

    def run(self, work: Callable[[], Any], name: str) -> Run:
        run = Run(work, name)
        self._runs.append(run)
        return run.start()

    def hold(self, work: Callable[[], Any], name: str) -> Held:
        held = Held(work, name)
        self._runs.append(held)
        held.start()
        return held

    def close(self) -> None:
        for run in self._runs:
            if isinstance(run, Held):
                run.committing.set()
        for run in self._runs:
            run.end()


def blocked_on_a_lock(*runs: Run) -> None:
    """Return once every run's backend is waiting for a lock; fail at once if
    one of them finished instead, with what it did."""
    pids = [run.pid for run in runs]

    def blocked() -> bool:
        for run in runs:
            if not run.running:
                raise AssertionError(f"{run.describe()} instead of waiting for the lock")
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s) AND wait_event_type = 'Lock'", [pids]
            )
            return cursor.fetchone()[0] == len(pids)

    wait_until(blocked, seconds=STUCK_SECONDS, what=" and ".join(run.name for run in runs) + " waiting for a lock")
