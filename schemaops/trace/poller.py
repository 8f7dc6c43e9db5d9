"""Watching a statement that cannot run in a transaction (``CONCURRENTLY``,
``VACUUM``): its locks are read from a second connection while it runs."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import psycopg
from django.db.backends.base.base import BaseDatabaseWrapper

from schemaops.locking import classify
from schemaops.trace.records import LOCKS_HELD


class Poller(threading.Thread):
    """Watch the locks backend ``pid`` holds while it runs a statement that cannot run
    in a transaction; hold a snapshot (and ACCESS SHARE on the statement's table)
    until they were seen, so that a ``CONCURRENTLY`` statement waits where it can be
    seen, for a few milliseconds."""

    POLL_SECONDS = 0.001
    HOLD_SECONDS = 2.0  # at most, if it takes no lock to see

    def __init__(self, connection: BaseDatabaseWrapper, pid: int, text: str) -> None:
        super().__init__(name="schemaops-trace-poller", daemon=True)
        params = dict(connection.get_connection_params())
        for key in ("cursor_factory", "context", "prepare_threshold", "server_side_binding"):
            params.pop(key, None)
        self.pid = pid
        self.seen: set[tuple[int, str]] = set()
        self._done = threading.Event()
        self._watcher = psycopg.connect(**params, autocommit=True)
        self._holder: psycopg.Connection[Any] | None = psycopg.connect(**params)
        self._holder.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        table = classify.target(text)
        try:
            if table is not None:
                self._holder.execute(f"SELECT 1 FROM {table} LIMIT 0")
            else:
                self._holder.execute("SELECT 1")
        except psycopg.Error:
            self._holder.rollback()
            self._holder.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            self._holder.execute("SELECT 1")

    def run(self) -> None:
        started = time.monotonic()
        seen_at: float | None = None
        while not self._done.is_set():
            with contextlib.suppress(psycopg.Error):
                rows = self._watcher.execute(LOCKS_HELD, [self.pid]).fetchall()
                self.seen.update((int(oid), str(mode)) for oid, mode in rows)
            now = time.monotonic()
            if self.seen and seen_at is None:
                seen_at = now
            seen_long_enough = seen_at is not None and now - seen_at > 0.005
            if self._holder is not None and (
                seen_long_enough or now - started > self.HOLD_SECONDS
            ):
                self._release()
            time.sleep(self.POLL_SECONDS)

    def _release(self) -> None:
        if self._holder is not None:
            with contextlib.suppress(psycopg.Error):
                self._holder.close()
            self._holder = None

    def stop(self) -> set[tuple[int, str]]:
        """Stop watching; return the (oid, mode) locks seen."""
        self._done.set()
        self.join(timeout=5)
        self._release()
        with contextlib.suppress(psycopg.Error):
            self._watcher.close()
        return self.seen
