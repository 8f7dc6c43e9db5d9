"""One runner per database: a session-level advisory lock, and the session holding it
(a run in progress)."""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import NamedTuple

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, transaction

from schemaops import recorder
from schemaops.exceptions import RunLockTimeout
from schemaops.locking import retry
from schemaops.models import Outcome

# pg_advisory_lock(int4, int4): "schemaops" and "the runner". Advisory locks
# are scoped to the current database, so one key serves every database.
LOCK_CLASS = 0x5C0E
LOCK_OBJECT = 1
# How soon the server notices that the runner's process is gone (SIGKILL, a lost
# pod) while a statement of its runs, and ends that statement and its locks.
CLIENT_CHECK_INTERVAL = "1s"
# Polling for the lock: 50 ms, doubling to at most 1 s, with jitter.
_POLL_BASE_DELAY = 0.05
_POLL_MAX_DELAY = 1.0

HOLDER_SQL = """
SELECT a.pid, coalesce(a.application_name, ''), coalesce(a.usename::text, ''),
       coalesce(host(a.client_addr), 'local'), a.backend_start, coalesce(a.state, '')
  FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
 WHERE l.locktype = 'advisory' AND l.granted AND l.database = (
           SELECT oid FROM pg_database WHERE datname = current_database())
   AND l.classid = %s AND l.objid = %s AND l.objsubid = 2
"""


class RunnerLock:
    """Hold the runner lock of database ``using`` for the ``with`` block.

    Waiting polls ``pg_try_advisory_lock`` from autocommit, with no transaction
    open between polls: a waiter that held a snapshot would make a concurrent
    ``CREATE INDEX CONCURRENTLY`` in the running process wait for it, and both
    would wait forever. The lock is re-entrant on one connection, so a
    ``RunScript`` inside a migration run by ``migrate`` takes it again at once.
    """

    def __init__(
        self,
        using: str = DEFAULT_DB_ALIAS,
        wait: float = 600.0,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.using = using
        self.wait = wait
        self.progress = progress or (lambda message: None)

    def holder(self) -> str:
        """Describe the session holding the lock, for messages ("" if none)."""
        with connections[self.using].cursor() as cursor:
            cursor.execute(HOLDER_SQL, [LOCK_CLASS, LOCK_OBJECT])
            row = cursor.fetchone()
        if row is None:
            return ""
        pid, application, user, client, since, state = row
        application = f" ({application})" if application else ""
        return (
            f"pid {pid}{application}, user {user!r} from {client}, connected since "
            f"{since:%Y-%m-%d %H:%M:%S %Z}, {state or 'unknown state'}"
        )

    def try_acquire(self) -> bool:
        with connections[self.using].cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_CLASS, LOCK_OBJECT])
            row = cursor.fetchone()
        return bool(row and row[0])

    def __enter__(self) -> RunnerLock:
        deadline = time.monotonic() + self.wait
        attempt = 0
        next_report = 0.0
        while not self.try_acquire():
            now = time.monotonic()
            if now >= deadline:
                holder = self.holder() or "released just now"
                raise RunLockTimeout(
                    f"Another schemaops run has held the runner lock on database "
                    f"{self.using!r} for more than {self.wait:g}s: {holder}. "
                    "Wait for it to finish, or raise --lock-wait."
                )
            if now >= next_report:
                self.progress(f"Waiting for another run to finish: {self.holder() or 'releasing'}")
                next_report = now + 10.0
            wait = retry.delay(attempt, base=_POLL_BASE_DELAY, cap=_POLL_MAX_DELAY)
            time.sleep(retry.jitter(min(wait, deadline - now)))
            attempt += 1
        self._watch_client()
        return self

    def _watch_client(self) -> None:
        """Have the server check, while a statement of this session runs, that this
        process is still there (``client_connection_check_interval``, PostgreSQL 14+):
        otherwise a runner killed mid-statement leaves its backend running the
        statement, holding its locks, to the end. Older servers, and platforms
        without the check, notice only when the statement ends."""
        connection = connections[self.using]
        try:
            with transaction.atomic(using=self.using), connection.cursor() as cursor:
                cursor.execute(
                    "SELECT set_config('client_connection_check_interval', %s, false)"
                    " WHERE current_setting('server_version_num')::int >= 140000",
                    [CLIENT_CHECK_INTERVAL],
                )
        except DatabaseError:
            pass  # not available here: the statement runs to its end, as before 14

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        connection = connections[self.using]
        if connection.connection is None or not connection.is_usable():
            return  # the session is gone, and its lock with it
        if connection.in_atomic_block and connection.needs_rollback:
            return  # released with the session; a statement here would fail
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_CLASS, LOCK_OBJECT])


# How far the runner's clock may be behind the server's: a pid reused by a session
# that connected minutes after an old start, and holds the runner lock, is what
# this still tells apart.
CLOCK_SKEW_ALLOWANCE = datetime.timedelta(minutes=2)


class RunnerSession(NamedTuple):
    """The live session holding the runner lock: a run in progress.

    A ``started`` row is running, not interrupted, while the backend that wrote
    it still holds the runner lock. Holding the lock, not merely being
    connected, is what counts: an exiting backend releases its locks before it
    leaves ``pg_stat_activity``, and a run that gets the lock in between must
    see the start as interrupted, never skip it as running.
    """

    pid: int
    backend_start: datetime.datetime | None  # None: the role may not see it

    def is_running(self, entry: recorder.Latest) -> bool:
        """Whether ``entry`` is a start written by this session.

        The session must have connected before the start: after a restart a
        new session may get the pid of the one that wrote an old start.
        Without the privilege to read another role's ``backend_start``
        (``pg_read_all_stats``), holding the runner lock with that pid is
        taken as enough.
        """
        if entry.outcome != Outcome.STARTED or entry.backend_pid != self.pid:
            return False
        # started_at is the runner's clock, backend_start the server's.
        return (
            self.backend_start is None
            or self.backend_start <= entry.started_at + CLOCK_SKEW_ALLOWANCE
        )


def runner_session(using: str = DEFAULT_DB_ALIAS) -> RunnerSession | None:
    """Return the session holding the runner lock of ``using``, if any (one query)."""
    with connections[using].cursor() as cursor:
        # The query RunnerLock.holder() describes the holder with.
        cursor.execute(HOLDER_SQL, [LOCK_CLASS, LOCK_OBJECT])
        row = cursor.fetchone()
    if row is None:
        return None
    pid, _application, _user, _client, backend_start, _state = row
    return RunnerSession(int(pid), backend_start)


def runner_if_started(using: str, rows: Iterable[recorder.Latest]) -> RunnerSession | None:
    """Return :func:`runner_session` when one of ``rows`` is a start it could be
    running; None, without a query, otherwise (a start written before backends
    were recorded is interrupted)."""
    if any(row.outcome == Outcome.STARTED and row.backend_pid is not None for row in rows):
        return runner_session(using)
    return None
