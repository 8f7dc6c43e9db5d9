"""Running scripts against the database and recording what happened."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from schemaops import conf
from schemaops.exceptions import ScriptError, ScriptFailed
from schemaops.locking import classify
from schemaops.locking.discipline import LockDiscipline, governing, queue_failure
from schemaops.locking.errors import (
    first_line,
    is_lock_timeout,
    original_error,
    session_lost,
    usable,
)
from schemaops.locking.retry import queue_budget
from schemaops.locking.timeouts import timeouts
from schemaops.models import Direction, HistoryEntry, Outcome, Tier
from schemaops.recorder import Recorder
from schemaops.scripts.loader import Batch, Script, Section, bind_batch
from schemaops.statements import Statement

# How often a batched statement reports the rows done so far.
BATCH_REPORT_SECONDS = 2.0

Progress = Callable[[str], None]


class _WouldQueue(Exception):
    """Taking the lock now would queue behind a long transaction, and writers behind us."""


@dataclasses.dataclass(frozen=True)
class _Run:
    """One non-atomic run of a script's section: what its statements share."""

    script: Script
    section: Section
    direction: str
    started_at: object
    start: float
    lock_timeout: str
    statement_timeout: str
    retries: int
    deadline: float  # until when it may wait for long transactions to end


def _label(script: Script, statement: Statement) -> str:
    return f"{script.id}: line {statement.line}"


class ScriptExecutor:
    """Apply and revert scripts on database ``using``, one at a time.

    An atomic script runs in one transaction with its registry row, so it is
    either applied and recorded, or neither. A non-atomic script runs in
    autocommit, statement by statement, between a committed ``started`` row and
    a committed ``applied`` row; a ``started`` row with nothing after it is an
    interrupted script. Callers hold the runner lock (:class:`RunnerLock`).
    """

    def __init__(self, using: str = DEFAULT_DB_ALIAS, progress: Progress | None = None) -> None:
        self.using = using
        self.progress: Progress = progress or (lambda message: None)
        self.recorder = Recorder(using)
        self.discipline = LockDiscipline(using, self.progress)
        self._before = (0, 0.0)

    @property
    def connection(self) -> BaseDatabaseWrapper:
        return connections[self.using]

    def apply(self, script: Script) -> HistoryEntry:
        """Run the up section of ``script``; raise :class:`ScriptFailed` on failure."""
        return self._run(script, script.parsed.up, Direction.UP, Outcome.APPLIED)

    def revert(self, script: Script) -> HistoryEntry:
        """Run the down section of ``script``; raise :class:`ScriptError` if it has none."""
        down = script.parsed.down
        if down is None:
            raise ScriptError(
                f"{script.id} ({script.path}) has no down section, so it cannot be rolled "
                "back. Add a -- migrate:down section (or a .down.sql file), or mark it pending "
                f"without running anything: manage.py schemaops repair {script.id} --as pending "
                "--reason '...'."
            )
        return self._run(script, down, Direction.DOWN, Outcome.REVERTED)

    def _settings(self, script: Script) -> tuple[str, str, int]:
        """Return the script's lock_timeout, statement_timeout and retries."""
        directives = script.parsed.directives
        return (
            directives.lock_timeout or conf.lock_timeout(),
            directives.statement_timeout or conf.statement_timeout(),
            conf.retries() if directives.retries is None else directives.retries,
        )

    def _run(self, script: Script, section: Section, direction: str, outcome: str) -> HistoryEntry:
        # What this run cost, for its row: attempts and time spent waiting for locks.
        self._before = (self.discipline.retries, self.discipline.waited)
        with governing(self.using):
            return self._run_section(script, section, direction, outcome)

    def _run_section(
        self, script: Script, section: Section, direction: str, outcome: str
    ) -> HistoryEntry:
        self.recorder.db_user  # noqa: B018 - read while the connection is healthy
        if section.atomic:
            return self._run_atomic(script, section, direction, outcome)
        if self.connection.in_atomic_block:
            raise ScriptError(
                f"{script.id} ({script.path}) cannot run in a transaction "
                f"({section.non_transactional}), but a transaction is open. From a Django "
                "migration, set atomic = False on the Migration class."
            )
        return self._run_autocommit(script, section, direction, outcome)

    def _record(
        self,
        script: Script,
        section: Section,
        direction: str,
        outcome: str,
        started_at: object,
        duration_ms: int | None,
        **extra: object,
    ) -> HistoryEntry:
        if duration_ms is not None:
            retries, waited = self._before
            extra.setdefault("attempts", 1 + self.discipline.retries - retries)
            extra.setdefault("waited_ms", int((self.discipline.waited - waited) * 1000))
        return self.recorder.record(
            tier=Tier.SQL,
            location=script.location.name,
            version=script.version,
            name=script.name,
            checksum=script.checksum,
            direction=direction,
            outcome=outcome,
            started_at=started_at,  # type: ignore[arg-type]
            duration_ms=duration_ms,
            sql=section.text.strip("\n"),
            **extra,  # type: ignore[arg-type]
        )

    def _usable(self) -> bool:
        return usable(self.connection)

    def _clear_the_way(
        self, script: Script, statement: Statement, lock_timeout: str, deadline: float
    ) -> str | None:
        return self.discipline.clear_the_way(
            _label(script, statement), statement.text, lock_timeout, deadline
        )

    def _queue_failure(
        self, script: Script, section: Section, statement: Statement, holders: str, waited: float
    ) -> str:
        return (
            f"{script.id} failed at {section.path}:{statement.line}: "
            f"{queue_failure(holders, waited)}, or raise retries in the script's header (the "
            "wait lasts as long as the retries' backoff in all)."
        )

    def _failure_message(
        self, script: Script, section: Section, statement: Statement | None, exc: BaseException
    ) -> str:
        where = f"{section.path}:{statement.line}" if statement else str(section.path)
        return f"{script.id} failed at {where}: {first_line(exc)}"

    def _failed(
        self,
        script: Script,
        section: Section,
        direction: str,
        started_at: object,
        duration_ms: int,
        statement: Statement | None,
        message: str,
    ) -> ScriptFailed:
        """Append a ``failed`` row on a fresh transaction; return the error to raise
        (saying so if the row could not be written)."""
        try:
            if not self._usable():
                self.connection.close()
            self._record(
                script,
                section,
                direction,
                Outcome.FAILED,
                started_at,
                duration_ms,
                error=message,
                failed_statement=statement.text if statement else "",
                failed_line=statement.line if statement else None,
            )
        except DatabaseError as exc:
            return ScriptFailed(
                f"{message} The failure could not be recorded ({first_line(exc)}); run manage.py "
                "schemaops status once the database is back."
            )
        return ScriptFailed(message)

    def _run_atomic(
        self, script: Script, section: Section, direction: str, outcome: str
    ) -> HistoryEntry:
        lock_timeout, statement_timeout, retries = self._settings(script)
        budget = queue_budget(retries)
        deadline = time.monotonic() + budget
        # Inside a caller's transaction (RunScript in an atomic migration), waiting
        # would hold the caller's locks: take the lock under lock_timeout instead.
        watch_queue = not self.connection.in_atomic_block
        attempt = 0
        while True:
            for statement in section.statements if watch_queue else ():
                blocked = self._clear_the_way(script, statement, lock_timeout, deadline)
                if blocked is not None:
                    message = self._queue_failure(script, section, statement, blocked, budget)
                    message += " Nothing of it was run."
                    raise self._failed(
                        script, section, direction, timezone.now(), 0, statement, message
                    )
            started_at = timezone.now()
            start = time.monotonic()
            current: Statement | None = None
            # The statement's own error: leaving the atomic block on a dead
            # connection raises another one ("the connection is closed").
            statement_error: BaseException | None = None
            try:
                with transaction.atomic(using=self.using):
                    with (
                        timeouts(self.connection, lock_timeout, statement_timeout, local=True),
                        self.connection.cursor() as cursor,
                    ):
                        try:
                            for current in section.statements:
                                if watch_queue and self.discipline.would_queue(
                                    current.text, lock_timeout
                                ):
                                    raise _WouldQueue()
                                cursor.execute(current.text)
                        except DatabaseError as exc:
                            statement_error = original_error(exc)
                            raise
                    duration_ms = int((time.monotonic() - start) * 1000)
                    return self._record(
                        script, section, direction, outcome, started_at, duration_ms
                    )
            except _WouldQueue:
                # Rolled back: wait outside any transaction, holding no lock.
                assert current is not None
                blocked = self._clear_the_way(script, current, lock_timeout, deadline)
                if blocked is None and time.monotonic() < deadline:
                    continue
                duration_ms = int((time.monotonic() - start) * 1000)
                message = self._queue_failure(
                    script, section, current, blocked or "a long transaction", budget
                )
                message += " Nothing of it was kept."
                raise self._failed(
                    script, section, direction, started_at, duration_ms, current, message
                ) from None
            except DatabaseError as raised:
                failure = statement_error or raised
                duration_ms = int((time.monotonic() - start) * 1000)
                if is_lock_timeout(failure) and current is not None:
                    waited = self.discipline.describe_lock_wait(current.text)
                    if attempt < retries:
                        attempt += 1
                        self.discipline.pause_before_retry(
                            _label(script, current),
                            lock_timeout,
                            waited,
                            attempt,
                            retries,
                            "rolled back, ",
                        )
                        continue
                    message = (
                        f"{script.id} failed at {section.path}:{current.line}: could not get "
                        f"{waited} within lock_timeout={lock_timeout}, after {retries} "
                        "retries. Nothing of it was kept. Run it when the table is quieter, or "
                        "raise lock_timeout/retries in the script's header."
                    )
                else:
                    lost = (
                        " The connection to the database was lost."
                        if session_lost(self.connection, failure)
                        else ""
                    )
                    message = self._failure_message(script, section, current, failure) + (
                        f".{lost} Nothing of it was kept (the transaction rolled back)."
                    )
                raise self._failed(
                    script, section, direction, started_at, duration_ms, current, message
                ) from failure

    def _run_autocommit(
        self, script: Script, section: Section, direction: str, outcome: str
    ) -> HistoryEntry:
        lock_timeout, statement_timeout, retries = self._settings(script)
        started_at = timezone.now()
        start = time.monotonic()
        self._record(script, section, direction, Outcome.STARTED, started_at, None)
        deadline = start + queue_budget(retries)
        run = _Run(
            script,
            section,
            direction,
            started_at,
            start,
            lock_timeout,
            statement_timeout,
            retries,
            deadline,
        )
        with timeouts(self.connection, lock_timeout, statement_timeout, local=False):
            for index, statement in enumerate(section.statements):
                batch = section.batches.get(index)
                if batch is not None:
                    self._run_batched(run, statement, batch)
                elif classify.is_concurrently(statement.text):
                    self._run_concurrently(run, statement)
                else:
                    self._run_statement(run, statement, statement.text)
        duration_ms = int((time.monotonic() - start) * 1000)
        return self._record(script, section, direction, outcome, started_at, duration_ms)

    def _run_concurrently(self, run: _Run, statement: Statement) -> None:
        """Run a ``CONCURRENTLY`` statement with its own, longer lock budget, reporting
        an index build's progress while it runs.

        Such a statement waits for every transaction older than it (old
        snapshots, lockers) without blocking reads or writes, so it gets
        ``CONCURRENT_LOCK_TIMEOUT`` instead of the short ``lock_timeout``.
        """
        budget = run.script.parsed.directives.concurrent_lock_timeout or (
            conf.concurrent_lock_timeout()
        )
        concurrent = dataclasses.replace(run, lock_timeout=budget)
        with (
            timeouts(self.connection, budget, run.statement_timeout, local=False),
            self.discipline.index_build_progress(_label(run.script, statement), statement.text),
        ):
            self._run_statement(concurrent, statement, statement.text)

    def _batch_key(self, run: _Run, statement: Statement, batch: Batch) -> tuple[str, str]:
        """Return the batched table (as PostgreSQL quotes it) and its integer key column."""
        where = f"{run.section.path}:{batch.line}"
        key = batch.key
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT to_regclass(%s)::oid, to_regclass(%s)::text", [batch.table] * 2)
            row = cursor.fetchone()
            if row is None or row[0] is None:
                raise ScriptError(
                    f"{where}: batch table {batch.table!r} does not exist. Name the table whose "
                    "keys the statement walks: -- schemaops: batch table=... key=..."
                )
            oid, table = row
            if key is None:
                cursor.execute(
                    "SELECT a.attname FROM pg_index i JOIN pg_attribute a"
                    " ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)"
                    " WHERE i.indrelid = %s AND i.indisprimary",
                    [oid],
                )
                columns = [name for (name,) in cursor.fetchall()]
                if len(columns) != 1:
                    raise ScriptError(
                        f"{where}: {table} has no single-column primary key to walk. Name an "
                        "indexed integer column: -- schemaops: batch key=..."
                    )
                key = columns[0]
            elif key.startswith('"') and key.endswith('"'):
                key = key[1:-1].replace('""', '"')
            else:
                key = key.lower()
            cursor.execute(
                "SELECT quote_ident(attname), format_type(atttypid, atttypmod) FROM pg_attribute"
                " WHERE attrelid = %s AND attname = %s AND attnum > 0 AND NOT attisdropped",
                [oid, key],
            )
            column = cursor.fetchone()
        if column is None:
            raise ScriptError(f"{where}: {table} has no column {key!r} to batch by (key=).")
        if column[1] not in ("smallint", "integer", "bigint"):
            raise ScriptError(
                f"{where}: batch key {table}.{column[0]} is {column[1]}; batches walk an "
                "integer key. Name an integer column with key=..."
            )
        return str(table), str(column[0])

    def _key_bounds(self, table: str, key: str) -> tuple[int | None, int | None]:
        with self.connection.cursor() as cursor:
            cursor.execute(f"SELECT min({key}), max({key}) FROM {table}")
            row = cursor.fetchone()
        assert row is not None
        return row[0], row[1]

    def _run_batched(self, run: _Run, statement: Statement, batch: Batch) -> None:
        """Run ``statement`` once per range of ``batch.size`` keys, each range committed
        on its own (autocommit), reporting rows done; ranges beyond the largest key
        found at the start are walked too if rows arrived meanwhile."""
        table, key = self._batch_key(run, statement, batch)
        low, high = self._key_bounds(table, key)
        label = f"{run.script.id}: line {statement.line}"
        if low is None or high is None:
            self.progress(f"  {label}: batch: {table} is empty, nothing to do")
            return
        first = low
        rows = batches = 0
        last_report = time.monotonic()
        while True:
            start = low
            while start <= high:
                end = start + batch.size
                kept = (
                    f" The {batches} batches before it (keys {first}..{start - 1}) stayed "
                    "committed; write the statement so that running it again is harmless "
                    "(e.g. WHERE plan IS NULL)."
                    if batches
                    else ""
                )
                rows += self._run_statement(
                    run,
                    statement,
                    bind_batch(statement.text, start, end),
                    f" (batch of keys {start}..{end - 1})",
                    kept,
                )
                batches += 1
                start = end
                now = time.monotonic()
                if now - last_report >= BATCH_REPORT_SECONDS:
                    percent = min(100, (start - first) * 100 // max(1, high - first + 1))
                    self.progress(
                        f"  {label}: batch {batches}: {rows:,} rows done, keys up to "
                        f"{start - 1:,} of {high:,} ({percent}%)"
                    )
                    last_report = now
                if batch.pause:
                    time.sleep(batch.pause)
            low = start
            newest = self._key_bounds(table, key)[1]
            if newest is None or newest < low:
                break
            high = newest
        self.progress(
            f"  {label}: {rows:,} rows done in {batches} batches of {batch.size:,} keys "
            f"({table}.{key} {first:,}..{high:,})"
        )

    def _run_statement(
        self,
        run: _Run,
        statement: Statement,
        sql: str,
        where: str = "",
        kept: str = "",
    ) -> int:
        """Run one statement in autocommit, retrying lock timeouts; return its row count.

        A concurrent index build that fails leaves an INVALID index: it is
        dropped before each attempt and after a failure, or named in the error.
        """
        script, section = run.script, run.section
        index = classify.concurrent_index(statement.text)
        attempt = 0
        while True:
            dropped = self.discipline.drop_invalid_index(statement.text)
            if dropped:
                # Left by an earlier failed or killed build; IF NOT EXISTS would keep it.
                self.progress(
                    f"  {script.id}: dropped INVALID index {dropped} left by an earlier build"
                )
            blocked = self._clear_the_way(script, statement, run.lock_timeout, run.deadline)
            if blocked is not None:
                message = self._queue_failure(
                    script, section, statement, blocked, queue_budget(run.retries)
                )
                message += " The statements before this one stayed applied (non-atomic script)."
                duration_ms = int((time.monotonic() - run.start) * 1000)
                raise self._failed(
                    script, section, run.direction, run.started_at, duration_ms, statement, message
                )
            try:
                with self.connection.cursor() as cursor:
                    cursor.execute(sql)
                    return max(int(cursor.rowcount), 0)
            except DatabaseError as exc:
                failure = original_error(exc)
            alive = self._usable()
            leftover = ""
            if index and alive:
                try:
                    if self.discipline.drop_invalid_index(statement.text):
                        leftover = f" The INVALID index {index} it left was dropped."
                except DatabaseError as drop_error:
                    leftover = (
                        f" It left the INVALID index {index}, which could not be "
                        f"dropped ({first_line(drop_error)}): DROP INDEX CONCURRENTLY "
                        f"{index};"
                    )
            if alive and is_lock_timeout(failure):
                waited = self.discipline.describe_lock_wait(statement.text)
                if attempt < run.retries:
                    attempt += 1
                    self.discipline.pause_before_retry(
                        _label(script, statement), run.lock_timeout, waited, attempt, run.retries
                    )
                    continue
                message = (
                    f"{script.id} failed at {section.path}:{statement.line}{where}: could not "
                    f"get {waited} within lock_timeout={run.lock_timeout}, after {run.retries} "
                    "retries."
                )
            else:
                message = self._failure_message(script, section, statement, failure)
                if where:
                    message = message.replace(
                        f":{statement.line}: ", f":{statement.line}{where}: ", 1
                    )
                message += "."
            if not alive or session_lost(self.connection, failure):
                message += " The connection to the database was lost."
            message += " The statements before this one stayed applied (non-atomic script)."
            message += kept + leftover
            duration_ms = int((time.monotonic() - run.start) * 1000)
            raise self._failed(
                script, section, run.direction, run.started_at, duration_ms, statement, message
            ) from failure
