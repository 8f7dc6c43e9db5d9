"""The lock discipline for one database: what the SQL tier's executor and the Django
tier's migration guard do before, around and after a statement that takes a lock."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper

from schemaops.locking import classify, holders, indexes
from schemaops.locking.errors import first_line
from schemaops.locking.progress import IndexBuildProgress
from schemaops.locking.retry import backoff, queue_budget
from schemaops.output import Progress

T = TypeVar("T")

# Waiting for a long transaction to end: how often pg_locks is read, and the wait reported.
QUEUE_POLL_SECONDS = 0.1
QUEUE_REPORT_SECONDS = 10.0


class WouldQueue(Exception):
    """Raised inside a unit by a statement that would queue behind a long transaction
    (and make every writer queue behind it): :meth:`LockDiscipline.retrying` waits for
    that transaction, holding nothing once the unit rolled back, and runs it again."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class GaveUp(Exception):
    """A unit's lock stayed out of reach within its budget.

    ``reason`` says why, in a clause for the caller's message; ``queued`` tells a
    wait for a long transaction (``True``) from retries after ``lock_timeout``.
    """

    def __init__(self, text: str, reason: str, *, queued: bool) -> None:
        super().__init__(reason)
        self.text = text
        self.reason = reason
        self.queued = queued


@dataclasses.dataclass(frozen=True)
class Budget:
    """How a unit may wait for its locks: ``lock_timeout`` per try, ``retries`` tries
    more, and until ``deadline`` (monotonic) for long transactions to end."""

    lock_timeout: str
    retries: int
    deadline: float

    @classmethod
    def from_now(cls, lock_timeout: str, retries: int) -> Budget:
        return cls(lock_timeout, retries, time.monotonic() + queue_budget(retries))

    @property
    def wait(self) -> float:
        """How long it may wait for long transactions in all."""
        return queue_budget(self.retries)


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
    gives for the statement (``"demo:0003: line 4"``, ``"shop.0012_sku"``). Its
    own queries (``pg_locks``, INVALID indexes) run :func:`governing`, so that the
    Django tier's guard lets them through.
    """

    def __init__(self, using: str = DEFAULT_DB_ALIAS, progress: Progress | None = None) -> None:
        self.using = using
        self.progress: Progress = progress or (lambda message: None)
        self._may_cancel_autovacuum = True
        self.waited = 0.0
        """Seconds spent waiting so far: backing off and waiting for long holders."""
        self.retries = 0
        """Retries after ``lock_timeout`` so far."""
        self.reruns = 0
        """Units run again after waiting for a long transaction, so far."""

    def retrying(
        self,
        attempt: Callable[[], T],
        budget: Budget,
        label: Callable[[str], str],
        *,
        lock_timeout_at: Callable[[BaseException], str | None],
        what_happened: str = "",
    ) -> T:
        """Run ``attempt`` (one unit: a transaction, or one statement outside any)
        until it returns, and return what it returns.

        When it raises :class:`WouldQueue`, wait without queuing for the long
        transaction in the way, then run it again. When it raises a database
        error that ``lock_timeout_at`` says was a lock timeout (returning the
        statement's text), back off and run it again, up to ``budget.retries``
        times. ``label`` names a statement in the messages.

        Raises:
            GaveUp: the budget ran out (the last error is its ``__cause__``).
            DatabaseError: any other failure, as ``attempt`` raised it.
        """
        retries = 0
        while True:
            try:
                return attempt()
            except WouldQueue as exc:
                blocked = self.clear_the_way(
                    label(exc.text), exc.text, budget.lock_timeout, budget.deadline
                )
                if blocked is None and time.monotonic() < budget.deadline:
                    self.reruns += 1
                    continue
                raise GaveUp(
                    exc.text,
                    queue_failure(blocked or "a long transaction", budget.wait),
                    queued=True,
                ) from None
            except DatabaseError as exc:
                text = lock_timeout_at(exc)
                if text is None:
                    raise
                waited = self.describe_lock_wait(text)
                if retries >= budget.retries:
                    raise GaveUp(
                        text,
                        f"could not get {waited} within lock_timeout={budget.lock_timeout}, "
                        f"after {budget.retries} retries",
                        queued=False,
                    ) from exc
                retries += 1
                self.pause_before_retry(
                    label(text),
                    budget.lock_timeout,
                    waited,
                    retries,
                    budget.retries,
                    what_happened,
                )

    def wait_unqueued(self, label: str, text: str, budget: Budget) -> None:
        """Before ``text`` runs outside a transaction: wait, holding nothing, until no
        long transaction holds its table.

        Raises:
            GaveUp: one still does at ``budget.deadline``.
        """
        blocked = self.clear_the_way(label, text, budget.lock_timeout, budget.deadline)
        if blocked is not None:
            raise GaveUp(text, queue_failure(blocked, budget.wait), queued=True)

    def spent(self, since: tuple[int, int, float]) -> tuple[int, int]:
        """Attempts and ms waited since :meth:`mark` returned ``since``: 1 plus every
        retry and rerun."""
        retries, reruns, waited = since
        attempts = 1 + self.retries - retries + self.reruns - reruns
        return attempts, int((self.waited - waited) * 1000)

    def mark(self) -> tuple[int, int, float]:
        """Where the counters stand, for :meth:`spent`."""
        return self.retries, self.reruns, self.waited

    @property
    def connection(self) -> BaseDatabaseWrapper:
        return connections[self.using]

    def would_queue(self, text: str, lock_timeout: str) -> bool:
        """Whether ``text`` would queue behind a long holder of its table's lock."""
        with governing(self.using):
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
            while found := self._holders(text, lock_timeout):
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

    def _holders(self, text: str, lock_timeout: str) -> list[holders.Holder]:
        with governing(self.using):
            return holders.in_the_way(self.connection, text, lock_timeout)

    def _cancel_autovacuum(self, found: list[holders.Holder]) -> bool:
        """Cancel the (non-wraparound) autovacuum workers in ``found``; return whether
        it was allowed."""
        try:
            with governing(self.using):
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
        with governing(self.using):
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
        if name is None:
            return None
        with governing(self.using):
            return name if indexes.drop_invalid_index(self.connection, name) else None

    @contextmanager
    def index_build_progress(self, label: str, text: str) -> Iterator[None]:
        """Report the progress of the index build ``text`` while the block runs it."""
        if not classify.reports_index_progress(text):
            yield
            return
        with governing(self.using), self.connection.cursor() as cursor:
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
