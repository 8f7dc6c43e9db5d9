"""Writing the registry: one new row per event, never an edit."""

from __future__ import annotations

import datetime
import getpass
import os
import socket
from functools import cached_property

from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone

import schemaops
from schemaops.models import Direction, FinishedStatement, HistoryEntry


class Recorder:
    """Append rows to the registry of database ``using``.

    The current state of a change is its newest row: a row with outcome
    ``applied`` (and none after it) means the change is applied. Rows are
    written on the caller's connection, so a row written inside a transaction
    commits or rolls back with it; that is what makes "committed" and
    "recorded" the same thing for an atomic script.
    """

    def __init__(self, using: str = DEFAULT_DB_ALIAS) -> None:
        self.using = using
        self._backend_pids: dict[int, int] = {}
        self._progress_table: bool | None = None

    @cached_property
    def db_user(self) -> str:
        try:
            with connections[self.using].cursor() as cursor:
                cursor.execute("SELECT current_user")
                row = cursor.fetchone()
        except Exception:  # the database may be gone; the row is still worth writing
            return ""
        return str(row[0]) if row else ""

    def backend_pid(self) -> int | None:
        """The backend of the connection rows are written on, read once per session."""
        connection = connections[self.using]
        try:
            connection.ensure_connection()
        except Exception:  # the row is still worth writing without it
            return None
        raw = connection.connection
        cached = self._backend_pids.get(id(raw))
        if cached is None:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_backend_pid()")
                    row = cursor.fetchone()
            except Exception:  # the row is still worth writing without it
                return None
            cached = int(row[0]) if row else 0
            self._backend_pids = {id(raw): cached}
        return cached or None

    @cached_property
    def os_user(self) -> str:
        try:
            return getpass.getuser()
        except (KeyError, OSError):
            return str(os.getuid()) if hasattr(os, "getuid") else ""

    def record(
        self,
        *,
        tier: str,
        location: str,
        version: str,
        outcome: str,
        started_at: datetime.datetime,
        duration_ms: int | None = None,
        name: str = "",
        checksum: str = "",
        direction: str = Direction.UP,
        error: str = "",
        failed_statement: str = "",
        failed_line: int | None = None,
        sql: str = "",
        note: str = "",
        attempts: int | None = None,
        waited_ms: int | None = None,
    ) -> HistoryEntry:
        """Insert one row and return it."""
        finished_at = None if duration_ms is None else timezone.now()
        return HistoryEntry.objects.using(self.using).create(
            tier=tier,
            location=location,
            version=version,
            name=name,
            checksum=checksum,
            direction=direction,
            outcome=outcome,
            started_at=started_at,
            finished_at=finished_at,
            duration_ms=duration_ms,
            database=self.using,
            db_user=self.db_user,
            os_user=self.os_user,
            host=socket.gethostname(),
            pid=os.getpid(),
            backend_pid=self.backend_pid(),
            attempts=attempts,
            waited_ms=waited_ms,
            schemaops_version=schemaops.__version__,
            error=error,
            failed_statement=failed_statement,
            failed_line=failed_line,
            sql=sql,
            note=note,
        )

    def finished(self, entry: HistoryEntry, number: int, line: int, duration_ms: int) -> None:
        """Record that statement ``number`` (at ``line``) of the run ``entry`` started
        has finished. Skipped while the table is missing (schemaops upgraded, its
        migration not applied yet): the run goes on, less able to say how far it got."""
        if self._progress_table is None:
            with connections[self.using].cursor() as cursor:
                cursor.execute("SELECT to_regclass(%s)", [FinishedStatement._meta.db_table])
                row = cursor.fetchone()
            self._progress_table = bool(row and row[0])
        if self._progress_table:
            FinishedStatement.objects.using(self.using).create(
                entry=entry,
                number=number,
                line=line,
                finished_at=timezone.now(),
                duration_ms=duration_ms,
            )
