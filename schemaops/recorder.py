"""The registry: reading the newest row of each change, and writing one new row per
event, never an edit."""

from __future__ import annotations

import datetime
import getpass
import os
import socket
from collections.abc import Iterable
from functools import cached_property
from typing import NamedTuple

from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone

import schemaops
from schemaops.models import Direction, FinishedStatement, HistoryEntry, Tier

# Reading: is the table there, and the newest row of each change ---------------


def registry_columns(using: str = DEFAULT_DB_ALIAS) -> frozenset[str]:
    """Return the columns of the registry's table on ``using``: none before
    schemaops's first migration, fewer than the model's before its latest."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s)"
            " AND attnum > 0 AND NOT attisdropped",
            [HistoryEntry._meta.db_table],
        )
        return frozenset(str(name) for (name,) in cursor.fetchall())


def registry_installed(using: str = DEFAULT_DB_ALIAS) -> bool:
    """Return whether the registry's table exists on ``using``."""
    return bool(registry_columns(using))


def registry_current(using: str = DEFAULT_DB_ALIAS) -> bool:
    """Return whether the registry's table has every column the model writes."""
    wanted = {field.column for field in HistoryEntry._meta.concrete_fields}
    return wanted <= registry_columns(using)


class Latest(NamedTuple):
    """The newest registry row of a change: the columns state is derived from.

    A tuple rather than a model instance, because ``status`` reads one per
    script and 10,000 model instances cost a third of a second.
    """

    pk: int
    tier: str
    location: str
    version: str
    name: str
    checksum: str
    direction: str
    outcome: str
    started_at: datetime.datetime
    finished_at: datetime.datetime | None
    duration_ms: int | None
    failed_line: int | None
    error: str
    backend_pid: int | None


def _column(field_name: str) -> str:
    return str(getattr(HistoryEntry._meta.get_field(field_name), "column", field_name))


def latest_per_change(
    using: str = DEFAULT_DB_ALIAS,
    tier: str | None = None,
    columns: frozenset[str] | None = None,
) -> list[Latest]:
    """Return the newest registry row of every change (of ``tier``), sorted by
    tier, location and version.

    With ``columns`` (the table's, :func:`registry_columns`), a field the table
    does not have yet (schemaops upgraded, its new migration not applied) is read
    as None, so that ``migrate`` can check the scripts before it adds the column.
    """
    rows = HistoryEntry.objects.using(using).latest_per_change()
    if tier is not None:
        rows = rows.filter(tier=tier)
    present = [
        name
        for name in Latest._fields
        if columns is None or name == "pk" or _column(name) in columns
    ]
    if len(present) == len(Latest._fields):
        return [Latest(*values) for values in rows.values_list(*Latest._fields)]
    return [
        Latest(**{**dict.fromkeys(Latest._fields), **dict(zip(present, values, strict=True))})
        for values in rows.values_list(*present)
    ]


def latest_rows(using: str = DEFAULT_DB_ALIAS) -> dict[tuple[str, int], Latest]:
    """Return the newest registry row of every script, keyed by (location, version
    number); none before the registry's table exists (schemaops's own migration
    not run yet: every script is pending)."""
    columns = registry_columns(using)
    if not columns:
        return {}
    return by_script(latest_per_change(using, Tier.SQL, columns))


def by_script(rows: Iterable[Latest]) -> dict[tuple[str, int], Latest]:
    """Key SQL-tier rows by (location, version number)."""
    latest: dict[tuple[str, int], Latest] = {}
    for row in rows:
        if row.tier != Tier.SQL or not row.version.isdigit():
            continue
        key = (row.location, int(row.version))
        # "0003" and "3" are one version; keep the newer row.
        if key not in latest or latest[key].pk < row.pk:
            latest[key] = row
    return latest


# Writing: one new row per event --------------------------------------------------


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
