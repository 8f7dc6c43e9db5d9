"""The lock discipline for one database: what the SQL tier's executor and the Django
tier's migration guard do before, around and after a statement that takes a lock."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper

from schemaops.locking import classify, holders, indexes
from schemaops.locking.errors import first_line
from schemaops.locking.progress import IndexBuildProgress
from schemaops.locking.retry import backoff

Progress = Callable[[str], None]

# Waiting for a long transaction to end: how often pg_locks is read, and the wait reported.
QUEUE_POLL_SECONDS = 0.1
QUEUE_REPORT_SECONDS = 10.0


_governing = threading.local()


@contextmanager
def governing(using: str) -> Iterator[None]:
    """Mark the block as applying the discipline itself on database ``using`` (a script
    run by ``RunScript`` inside a Django migration): the Django tier's guard lets its
    statements through as they are."""
    held: dict[str, int] = _governing.__dict__.setdefault("held", {})
    held[using] = held.get(using, 0) + 1
    try:
        yield
    finally:
        held[using] -= 1


def governed(using: str) -> bool:
    """Whether a block of :func:`governing` is running on ``using`` in this thread."""
    return bool(_governing.__dict__.get("held", {}).get(using))


class LockDiscipline:
    """Take locks on database ``using`` without making writers queue.

    Messages go through ``progress``, each starting with the label the caller
    gives for the statement (``"demo:0003: line 4"``, ``"shop.0012_sku"``).
    """

    def __init__(self, using: str = DEFAULT_DB_ALIAS, progress: Progress | None = None) -> None:
        self.using = using
        self.progress: Progress = progress or (lambda message: None)
        self._may_cancel_autovacuum = True
        self.waited = 0.0
        """Seconds spent waiting so far: backing off and waiting for long holders."""
        self.retries = 0
        """Retries after ``lock_timeout`` so far."""

    @property
    def connection(self) -> BaseDatabaseWrapper:
        return connections[self.using]

    def would_queue(self, text: str, lock_timeout: str) -> bool:
        """Whether ``text`` would queue behind a long holder of its table's lock."""
        return bool(holders.in_the_way(self.connection, text, lock_timeout))

    def clear_the_way(
        self, label: str, text: str, lock_timeout: str, deadline: float
    ) -> str | None:
        """Wait, without queuing for the lock, until nobody holds ``text``'s table for
        long; return the holders still there at ``deadline``, else ``None``.

        A plain autovacuum is cancelled at once: PostgreSQL cancels it anyway
        when a lock request has waited ``deadlock_timeout`` behind it, but every
        writer would queue behind that wait. Anything else is waited for,
        polling ``pg_locks``, which blocks nobody.
        """
        reported = 0.0
        started = time.monotonic()
        try:
            while found := holders.in_the_way(self.connection, text, lock_timeout):
                described = "; ".join(holder.describe() for holder in found[:3])
                vacuums = [h for h in found if h.cancellable]
                if (
                    len(vacuums) == len(found)
                    and self._may_cancel_autovacuum
                    and self._cancel_autovacuum(vacuums)
                ):
                    self.progress(
                        f"  {label} cancelled {described}: autovacuum gives way to a waiting "
                        "lock anyway, and cancelling it now spares the writers that would "
                        "queue meanwhile"
                    )
                    time.sleep(QUEUE_POLL_SECONDS)
                    continue
                now = time.monotonic()
                if now >= deadline:
                    return described
                if now - reported >= QUEUE_REPORT_SECONDS:
                    self.progress(
                        f"  {label} waits for {described} to end before taking its lock; not "
                        f"queuing, so writers are not blocked (up to {deadline - now:.0f}s more)"
                    )
                    reported = now
                time.sleep(QUEUE_POLL_SECONDS)
            return None
        finally:
            self.waited += time.monotonic() - started

    def _cancel_autovacuum(self, found: list[holders.Holder]) -> bool:
        """Cancel the (non-wraparound) autovacuum workers in ``found``; return whether
        it was allowed."""
        try:
            holders.cancel(self.connection, found)
        except DatabaseError as exc:
            self._may_cancel_autovacuum = False
            self.progress(
                f"  could not cancel autovacuum pid {found[0].pid} ({first_line(exc)}); waiting "
                "for it instead"
            )
            return False
        return True

    def describe_lock_wait(self, text: str) -> str:
        """Name the relation ``text`` waited for, and who holds locks on it."""
        return holders.describe_lock_wait(self.connection, text)

    def pause_before_retry(
        self,
        label: str,
        lock_timeout: str,
        waited: str,
        attempt: int,
        retries: int,
        what_happened: str = "",
    ) -> None:
        """Report a lock wait and sleep before retry ``attempt`` (1-based)."""
        delay = backoff(attempt - 1)
        self.progress(
            f"  {label} waited {lock_timeout} for {waited}; {what_happened}retry "
            f"{attempt}/{retries} in {delay:.1f}s"
        )
        time.sleep(delay)
        self.waited += delay
        self.retries += 1

    def drop_invalid_index(self, text: str) -> str | None:
        """If ``text`` builds an index concurrently and an INVALID one of that name is
        there (left by an earlier failed or cancelled build), drop it; return its name."""
        name = classify.concurrent_index(text)
        if name is not None and indexes.drop_invalid_index(self.connection, name):
            return name
        return None

    @contextmanager
    def index_build_progress(self, label: str, text: str) -> Iterator[None]:
        """Report the progress of the index build ``text`` while the block runs it."""
        if not classify.reports_index_progress(text):
            yield
            return
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            row = cursor.fetchone()
        assert row is not None
        with IndexBuildProgress(self.using, int(row[0]), label, self.progress):
            yield


def queue_failure(holders_described: str, waited: float) -> str:
    """Why a statement gave up waiting for a long transaction, and what to do."""
    return (
        f"waited {waited:.0f}s for {holders_described} to end. Queuing behind it for the lock "
        "would have blocked every writer of the table. Run it once that transaction ends (or "
        "end it: SELECT pg_terminate_backend(pid))"
    )
