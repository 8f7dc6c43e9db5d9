"""One runner per database: a session-level advisory lock."""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, transaction

from schemaops.exceptions import RunLockTimeout
from schemaops.locking import retry

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
